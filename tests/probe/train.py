"""A training "algorithm" that reports what the container was given, instead of learning.

It writes probe.json into the model: the three config files SageMaker writes, the SHA-256 of every
stream ``env.open_channel`` yields, the files of each File-mode channel as stored, and the PROBE_*
environment. Two runs of one request (local Docker, or the SageMaker stand-in) must produce the
same probe.json.

On a job of several hosts each host writes ``probe-<host>.json`` instead (hosts must not write
clashing names), adding what it saw of the others: the address each other host's name resolved to,
whether a TCP connection to it succeeded, whether it reached ``PROBE_OUTSIDE=<address>:<port>`` (a
server outside the job's network), and its CPU quota. ``PROBE_FAIL_HOST=<host>`` makes that host fail;
``PROBE_SLEEP=<s>`` keeps the others busy that long after reporting (to show they are stopped when one
fails). ``PROBE_CLASH=1`` makes every host write ``clash.txt`` too.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

CONFIG = Path("/opt/ml/input/config")
PORT = 7000
CONNECT_SECONDS = 60


def _files(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _serve_forever(server: socket.socket, accepted: threading.Semaphore) -> None:
    while True:
        connection, _ = server.accept()
        connection.close()
        accepted.release()


def _reach(host: str) -> dict[str, Any]:
    """Resolve ``host`` and connect to its probe port, retrying while it starts."""
    deadline = time.monotonic() + CONNECT_SECONDS
    last = ""
    while time.monotonic() < deadline:
        try:
            address = socket.gethostbyname(host)
            with socket.create_connection((address, PORT), timeout=2):
                return {"address": address, "connected": True}
        except OSError as exc:
            last = str(exc)
            time.sleep(0.2)
    return {"address": None, "connected": False, "error": last}


def _outside() -> bool | None:
    """Whether a connection to PROBE_OUTSIDE succeeds (None when no outside server was given)."""
    target = os.environ.get("PROBE_OUTSIDE")
    if not target:
        return None
    address, port = target.rsplit(":", 1)
    try:
        with socket.create_connection((address, int(port)), timeout=3):
            return True
    except OSError:
        return False


def _cpu_quota() -> float | None:
    v2 = Path("/sys/fs/cgroup/cpu.max")
    if v2.exists():
        quota, period = v2.read_text().split()
        return None if quota == "max" else int(quota) / int(period)
    quota_file = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    if quota_file.exists():
        quota_us = int(quota_file.read_text())
        period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return None if quota_us < 0 else quota_us / period_us
    return None


def _cluster(env) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    server = socket.create_server(("0.0.0.0", PORT))
    accepted = threading.Semaphore(0)
    threading.Thread(target=_serve_forever, args=(server, accepted), daemon=True).start()
    others = [host for host in env.hosts if host != env.current_host]
    report = {
        "hostname": socket.gethostname(),
        "peers": {host: _reach(host) for host in others},
        "outside": _outside(),
        "cpu_quota": _cpu_quota(),
    }
    # Stay up until every peer has connected here too: a host that exits as soon as it reached the others
    # would leave a slower peer nothing to connect to (a barrier, as distributed frameworks have).
    deadline = time.monotonic() + CONNECT_SECONDS
    for _ in others:
        accepted.acquire(timeout=max(0.0, deadline - time.monotonic()))
    return report


def train(env) -> None:  # type: ignore[no-untyped-def]
    report = {
        "config": {name: json.loads((CONFIG / name).read_text()) for name in sorted(os.listdir(CONFIG))},
        "streams": {
            channel: [hashlib.sha256(stream.read()).hexdigest() for stream in env.open_channel(channel)]
            for channel in env.channels
        },
        "files": {
            channel: _files(env.channel_dir(channel)) for channel in env.channels if env.input_mode(channel) == "File"
        },
        "environment": {key: value for key, value in os.environ.items() if key.startswith("PROBE_")},
    }
    name = "probe.json"
    if len(env.hosts) > 1:
        report["cluster"] = _cluster(env)
        name = f"probe-{env.current_host}.json"
    if os.environ.get("PROBE_FAIL_HOST") == env.current_host:
        raise RuntimeError(f"probe told to fail on {env.current_host}")
    (env.model_dir / name).write_text(json.dumps(report, indent=2, sort_keys=True))
    if os.environ.get("PROBE_CLASH"):
        (env.model_dir / "clash.txt").write_text(env.current_host)
    print("validation-accuracy: 1.0")
    time.sleep(float(os.environ.get("PROBE_SLEEP", "0")))
