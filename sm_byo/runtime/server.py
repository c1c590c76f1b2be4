"""The ``serve`` entrypoint: nginx in front of gunicorn (Flask app), supervised until SIGTERM.

SageMaker starts ``serve`` as root. This supervisor prepares its runtime directory, then drops to
the unprivileged ``smbyo`` user before starting anything that touches requests or the model, so
neither nginx nor the workers ever run as root. SIGTERM (SageMaker's stop) is forwarded as a graceful
stop and everything is gone well within the 30 s AWS allows.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .paths import load_spec, smbyo_home
from .payload import PayloadLimit, PayloadLimitError, nginx_directives, payload_limit

RUN_DIR = Path(os.environ.get("SMBYO_RUN_DIR", "/tmp/smbyo"))
# Exists once the model is loaded; nginx then answers /ping itself (nginx.conf.j2, `location = /ping`).
READY_FILE = "ready"
SERVICE_USER = os.environ.get("SMBYO_SERVICE_USER", "smbyo")
STOP_GRACE_SECONDS = 20.0
LOG_PIPE_BYTES = 1024 * 1024


def worker_count(serving: dict[str, Any]) -> int:
    configured = os.environ.get("MODEL_SERVER_WORKERS") or serving.get("workers", "auto")
    if str(configured) == "auto":
        return os.cpu_count() or 1
    return max(1, int(configured))


def timeout_seconds(serving: dict[str, Any]) -> int:
    return int(os.environ.get("MODEL_SERVER_TIMEOUT") or serving.get("timeout_seconds", 60))


def server_conf(port: int, timeout: int, limit: PayloadLimit) -> str:
    """The per-start part of nginx's config: what is only known at start (the port, the body limit)."""
    return (
        f"listen {port} reuseport backlog=4096;\nproxy_read_timeout {timeout}s;\nproxy_send_timeout {timeout}s;\n"
        f"# body limit: {limit.describe()}\n{nginx_directives(limit)}"
    )


def write_server_conf(port: int, timeout: int, limit: PayloadLimit) -> None:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    (RUN_DIR / READY_FILE).unlink(missing_ok=True)  # written again by the app once this start's model loads
    (RUN_DIR / "server.conf").write_text(server_conf(port, timeout, limit), encoding="utf-8")


def drop_privileges() -> None:
    """Become the service user if running as root (the image's default, as SageMaker requires)."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        print(f"serve: user {SERVICE_USER!r} not found; staying root", file=sys.stderr, flush=True)
        return
    for path in [RUN_DIR, *RUN_DIR.rglob("*")]:
        os.lchown(path, user.pw_uid, user.pw_gid)
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    os.environ["HOME"] = user.pw_dir


def start_processes(workers: int, timeout: int) -> dict[str, subprocess.Popen[bytes]]:
    home = smbyo_home()
    gunicorn = [
        sys.executable, "-m", "gunicorn",
        "--config", str(home / "gunicorn_conf.py"),
        "--workers", str(workers),
        "--timeout", str(timeout),
        "--bind", f"unix:{RUN_DIR / 'gunicorn.sock'}",
        "--chdir", str(home),
        "wsgi:app",
    ]  # fmt: skip
    nginx = ["nginx", "-c", str(home / "nginx.conf"), "-e", "stderr"]
    workers_process = subprocess.Popen(gunicorn, env={**os.environ, "SMBYO_READY_FILE": str(RUN_DIR / READY_FILE)})
    _wait_for_socket(RUN_DIR / "gunicorn.sock", workers_process)
    return {"gunicorn": workers_process, "nginx": _start_with_own_stdout(nginx)}


def _wait_for_socket(socket_path: Path, process: subprocess.Popen[bytes]) -> None:
    """Start nginx only once gunicorn listens (the model is loaded by then: it is preloaded).

    Until then nothing listens on the port, which SageMaker's health check treats as "not ready yet",
    instead of nginx logging a `connect() ... failed` line for every early ping.
    """
    while not socket_path.exists() and process.poll() is None:
        time.sleep(0.01)


def _start_with_own_stdout(command: list[str]) -> subprocess.Popen[bytes]:
    """Start ``command`` with stdout on a pipe this (unprivileged) process owns, relayed to our stdout.

    nginx opens /dev/stdout by path for its access log; the container's stdout belongs to root, so
    after dropping privileges that open fails. A pipe created here is ours, and the relay thread
    copies nginx's buffered access log to the container log in large chunks.
    """
    read_end, write_end = os.pipe()
    widen_pipe(write_end)
    process = subprocess.Popen(command, stdout=write_end)
    os.close(write_end)
    threading.Thread(target=_relay, args=(read_end,), name="access-log", daemon=True).start()
    return process


def widen_pipe(descriptor: int) -> None:
    """Give a log pipe 1 MB of room (Linux default: 64 KB).

    nginx writes its buffered access log in 64 KB blocks with a blocking write(); with a 64 KB pipe a
    single block fills it, and whenever Docker's log driver lags, an nginx worker and every connection
    it holds stall until the relay drains the pipe. Not a pipe (a terminal, a file): nothing to do.
    """
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(descriptor, fcntl.F_SETPIPE_SZ, LOG_PIPE_BYTES)


def _relay(read_end: int) -> None:
    out = sys.stdout.buffer
    with os.fdopen(read_end, "rb", buffering=0) as source:
        while chunk := source.read(65536):
            out.write(chunk)
            out.flush()


def supervise(processes: dict[str, subprocess.Popen[bytes]]) -> int:
    """Wait until a child exits or SIGTERM/SIGINT arrives; then stop the rest gracefully."""
    stopping = {"signal": 0}

    def on_signal(signum: int, _frame: Any) -> None:
        stopping["signal"] = signum

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    exited = None
    while not stopping["signal"] and exited is None:
        for name, process in processes.items():
            if process.poll() is not None:
                exited = name
                print(f"serve: {name} exited with code {process.returncode}; stopping", file=sys.stderr, flush=True)
                break
        time.sleep(0.2)
    _stop(processes)
    return 0 if stopping["signal"] else 1


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    graceful = {"nginx": signal.SIGQUIT, "gunicorn": signal.SIGTERM}
    for name, process in processes.items():
        if process.poll() is None:
            process.send_signal(graceful[name])
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    spec = load_spec()
    serving = spec.get("serving", {})
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    try:
        limit = payload_limit()  # the same function Flask's check and /execution-parameters use
    except PayloadLimitError as exc:
        print(f"serve: not starting: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"serve: request body limit: {limit.describe()}", file=sys.stderr, flush=True)
    write_server_conf(port, timeout_seconds(serving), limit)
    widen_pipe(sys.stdout.fileno())
    widen_pipe(sys.stderr.fileno())
    drop_privileges()
    processes = start_processes(worker_count(serving), timeout_seconds(serving))
    sys.exit(supervise(processes))


if __name__ == "__main__":
    main()
