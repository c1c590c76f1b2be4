"""A predictor that calls out, to show what a buyer's container may and may not do (instead of predicting).

Each request's first line says what to do; the answer has one line per line of the request, so batch
transform and the validation profile count it as a predictor that answered every record:

* ``call HOST:PORT``: open a TCP connection to HOST:PORT, send ``GET /`` and answer ``reached HOST:PORT``.
  A connection that fails raises, as a predictor that downloads or calls an API would (3 s timeout).
* ``report``: answer one JSON line: the environment the container was given, and whether the
  instance-metadata endpoint (169.254.169.254:80) answered.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

TIMEOUT_SECONDS = 3.0
IMDS = ("169.254.169.254", 80)


def load_model(model_dir: str) -> str:
    return model_dir


def decode_input(body: bytes, media_type: str) -> list[str]:
    lines = [line.strip() for line in body.decode("utf-8").splitlines() if line.strip()]
    if not lines:
        raise ValueError("send `call HOST:PORT` or `report`")
    return lines


def _call(target: str) -> str:
    host, port = target.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_SECONDS) as connection:
        connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
        status = connection.recv(64).split(b"\r\n", 1)[0].decode("ascii", errors="replace")
    return f"reached {target} ({status})"


def _imds() -> str:
    try:
        with socket.create_connection(IMDS, timeout=TIMEOUT_SECONDS):
            return "reached"
    except OSError as exc:
        return f"unreachable: {type(exc).__name__}"


def predict(model: Any, rows: list[str], context: Any) -> list[str]:
    action, _, argument = rows[0].partition(" ")
    if action == "report":
        return [json.dumps({"environment": dict(os.environ), "imds": _imds()})] * len(rows)
    if action == "call":
        return [_call(argument)] * len(rows)
    raise ValueError(f"unknown action {action!r}")


def encode_output(predictions: list[str], accept: str) -> str:
    return "".join(f"{line}\n" for line in predictions)
