"""Debian's ``docker-registry`` (Docker Distribution, the v2 protocol ECR speaks) on 127.0.0.1.

htpasswd auth with a bcrypt hash made by the ``bcrypt`` package (in the test extra), so CI needs no
apache2-utils. 127.0.0.0/8 is an insecure registry to the Docker Engine by default: plain HTTP works.
A push without credentials fails with "no basic auth credentials", as ECR's does.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

BINARY = "docker-registry"


@dataclass
class Registry:
    host: str
    username: str
    password: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def htpasswd_line(username: str, password: str) -> str:
    import bcrypt

    return f"{username}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"


def available() -> bool:
    return shutil.which(BINARY) is not None


def start_registry(workdir: Path, username: str, password: str) -> Registry:
    """Start the registry on a free loopback port and wait until /v2/ answers (401: auth is on)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "htpasswd").write_text(htpasswd_line(username, password), encoding="utf-8")
    port = free_port()
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  secret: smbyo-cloud-test\n"
        f"auth:\n  htpasswd:\n    realm: smbyo-cloud-test\n    path: {workdir / 'htpasswd'}\n",
        encoding="utf-8",
    )
    log_path = workdir / "registry.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    registry = Registry(f"127.0.0.1:{port}", username, password, process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            if requests.get(f"http://{registry.host}/v2/", timeout=1).status_code == 401:
                return registry
        except requests.RequestException:
            pass
        time.sleep(0.1)
    registry.stop()
    raise RuntimeError(f"docker-registry did not answer on {registry.host}")
