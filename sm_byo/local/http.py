"""The one HTTP client smbyo uses to talk to a serving container: /ping, /execution-parameters, /invocations.

Every local command that reaches a container (serve's health watch, transform, invoke, validate and its
load test) goes through :class:`ContainerClient`, so the headers SageMaker sends, the timeouts and the
way a container's error answer is read are decided once. Each thread keeps its own connection alive,
as each of SageMaker's transform workers has its own connection.
The routes: https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
EXECUTION_PARAMETERS_TIMEOUT_SECONDS = 5.0


class NoAnswer(Exception):
    """Nothing answered (connection refused or reset), or not within the timeout (``timed_out``)."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class Answer:
    """One HTTP answer of the container, and how long it took."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    def error(self, limit: int = 1000) -> str:
        """The message of a 4xx/5xx: the container's JSON ``error``, else the start of the body."""
        try:
            payload = self.json()
            if isinstance(payload, dict) and payload.get("error"):
                return str(payload["error"])
        except ValueError:
            pass
        return self.body.decode("utf-8", errors="replace").strip()[:limit] or f"HTTP {self.status}"


def base_url(url: str) -> str:
    """``localhost:8080/invocations`` -> ``http://localhost:8080`` (what the routes are appended to)."""
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        base = f"http://{base}"
    for route in ("/invocations", "/ping", "/execution-parameters"):
        base = base.removesuffix(route)
    return base


class ContainerClient:
    """HTTP to one serving container at ``url`` (``http://HOST:PORT``).

    Built on ``http.client`` rather than ``requests``: a load test or a transform keeps the server at
    saturation only if the client spends little CPU per request (``requests`` costs about twice the
    server's own time for a one-row request on the same cores).
    """

    def __init__(self, url: str):
        self.url = base_url(url)
        parts = urlsplit(self.url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._https = parts.scheme == "https"
        self._local = threading.local()

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return kind(self._host, self._port, timeout=timeout)

    def _kept(self, timeout: float) -> http.client.HTTPConnection:
        """This thread's keep-alive connection, replaced when the server has closed it meanwhile."""
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and connection.sock is not None and _closed_by_peer(connection.sock):
            connection.close()
            connection = None
        if connection is None:
            connection = self._local.connection = self._connect(timeout)
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection

    def _call(
        self,
        method: str,
        route: str,
        *,
        timeout: float,
        fresh: bool = False,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        connection = self._connect(timeout) if fresh else self._kept(timeout)
        began = time.perf_counter()
        try:
            connection.request(method, route, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
        except TimeoutError as exc:
            self._drop(connection)
            raise NoAnswer(f"no answer within {timeout:g} s", timed_out=True) from exc
        except (OSError, http.client.HTTPException) as exc:
            self._drop(connection)
            raise NoAnswer(f"{type(exc).__name__}: {exc}") from exc
        answer = Answer(
            response.status, {key.lower(): value for key, value in response.getheaders()}, data,
            time.perf_counter() - began,
        )  # fmt: skip
        if fresh or response.will_close:
            self._drop(connection)
        return answer

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None

    def ping(self, timeout: float, *, fresh: bool = False) -> Answer:
        return self._call("GET", "/ping", timeout=timeout, fresh=fresh)

    def execution_parameters(self) -> dict[str, Any]:
        """The container's batch preferences; {} when it has none to give (SageMaker's defaults apply)."""
        try:
            answer = self._call("GET", "/execution-parameters", timeout=EXECUTION_PARAMETERS_TIMEOUT_SECONDS)
            payload = answer.json() if answer.status == 200 else None
        except (NoAnswer, ValueError):
            return {}
        return dict(payload) if isinstance(payload, dict) else {}

    def invoke(
        self,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
        custom_attributes: str | None = None,
        timeout: float,
    ) -> Answer:
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        if custom_attributes:
            headers[CUSTOM_ATTRIBUTES_HEADER] = custom_attributes
        return self._call("POST", "/invocations", timeout=timeout, body=body, headers=headers)

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            self._drop(connection)


def _closed_by_peer(sock: socket.socket) -> bool:
    """True when an idle keep-alive socket was closed by the server (readable at EOF), as urllib3 checks."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)
