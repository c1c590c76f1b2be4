"""moto's server for a whole test session, with pluggable extensions (see the package docstring)."""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@dataclass
class MotoHarness:
    """The running server, the patches the extensions made, and state they share with the tests."""

    server: Any
    url: str
    patches: list[tuple[Any, str, Any]] = field(default_factory=list)
    resets: list[Callable[[MotoHarness], None]] = field(default_factory=list)
    closers: list[Callable[[MotoHarness], None]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)

    # --- what the CLI subprocesses and in-process adapters need ---------------------------------
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }

    def client(self, service: str) -> Any:
        """A plain boto3 client on the server (extensions use it to read inputs and write results)."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    # --- extension support ----------------------------------------------------------------------
    def patch(self, owner: Any, name: str, replacement: Any) -> Any:
        """Replace ``owner.name``; returns the original (restored when the session ends)."""
        original = getattr(owner, name)
        self.patches.append((owner, name, original))
        setattr(owner, name, replacement)
        return original

    def background(self, target: Callable[[], None], name: str) -> None:
        """Run a simulated AWS activity (a job, an endpoint starting) in a daemon thread."""
        thread = threading.Thread(target=target, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()

    def reset(self) -> None:
        for hook in self.resets:
            hook(self)
        requests.post(f"{self.url}/moto-api/reset", timeout=30).raise_for_status()

    def close(self) -> None:
        for closer in self.closers:
            closer(self)
        for owner, name, original in reversed(self.patches):
            setattr(owner, name, original)
        self.patches.clear()
        self.server.stop()


def install_extensions(harness: MotoHarness) -> list[str]:
    """Import every ``tests.aws.moto_*`` module and call its ``install(harness)``."""
    installed = []
    package = Path(__file__).parent
    for module_info in sorted(pkgutil.iter_modules([str(package)]), key=lambda m: m.name):
        if not module_info.name.startswith("moto_"):
            continue
        module = importlib.import_module(f"tests.aws.{module_info.name}")
        install = getattr(module, "install", None)
        if install is None:
            continue
        install(harness)
        reset = getattr(module, "reset", None)
        if reset is not None:
            harness.resets.append(reset)
        close = getattr(module, "close", None)
        if close is not None:
            harness.closers.append(close)
        installed.append(module_info.name)
    return installed


def start_harness() -> MotoHarness:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per poll drowns the output

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    harness = MotoHarness(server=server, url=f"http://{host}:{port}")
    harness.state["extensions"] = install_extensions(harness)
    return harness
