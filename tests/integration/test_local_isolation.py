"""Buyer conditions locally: `serve`, `transform` and `validate --local` run the serving container as buyers'
jobs run it (network isolation, no credentials, no seller environment), and `--no-network-isolation`
lifts the network part for a seller's own debugging.

The predictor (tests/probe/calling_predictor.py) connects to whatever the request names. Its target is a
server in a container this module starts on a Docker network it creates (never an outside address). A
container with isolation off is on Docker's default bridge, so it cannot reach that network directly either;
the server's port is therefore published on the default bridge's gateway address (this machine's side of
the bridge, not reachable from outside it), which a container on the default bridge reaches and an isolated
container, with no route out of its own internal network, does not.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import requests

from tests.conftest import EXAMPLE_DIR, run_cli
from tests.integration.local_helpers import free_port, local_containers, local_networks, wait_healthy

pytestmark = pytest.mark.docker
SERVER_PORT = 8000
ISOLATION = "which buyers' containers cannot do (network isolation)"


@pytest.fixture(scope="module")
def outside_server(calling_image: str) -> Iterator[str]:
    """``HOST:PORT`` of an HTTP server in a container on a network made for this module, its port published
    on the default bridge's gateway address only; the container and the network are removed afterwards."""
    client = docker.from_env()
    name = f"smbyo-test-outside-{secrets.token_hex(4)}"
    network = client.networks.create(name, driver="bridge", labels={"dev.smbyo.test": "outside"})
    container = None
    try:
        gateway = str(client.api.inspect_network("bridge")["IPAM"]["Config"][0]["Gateway"])
        container = client.containers.run(
            calling_image,
            entrypoint=["python3", "-m", "http.server", str(SERVER_PORT)],
            detach=True,
            name=name,
            network=name,
            ports={f"{SERVER_PORT}/tcp": (gateway, None)},
            labels={"dev.smbyo.test": "outside"},
        )
        yield f"{gateway}:{_port_when_listening(container, gateway)}"
    finally:
        if container is not None:
            container.remove(force=True)
        network.remove()
        client.close()


def _port_when_listening(container: Any, gateway: str) -> int:
    """The published port once this machine reaches the server through it (so 'not reached' means blocked)."""
    for _ in range(100):
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{SERVER_PORT}/tcp")
        if bindings:
            port = int(bindings[0]["HostPort"])
            try:
                with socket.create_connection((gateway, port), timeout=1) as connection:
                    connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    if connection.recv(12).startswith(b"HTTP/1.0 200"):
                        return port
            except OSError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"the outside server never answered: {container.logs()[-500:]!r}")


@pytest.fixture
def seller_shell(tmp_path: Path) -> dict[str, str]:
    """What a seller's shell holds that a buyer's container never gets: AWS credentials, an environment
    variable of its own, and Docker client proxies (~/.docker/config.json, which docker-py would inject)."""
    config = tmp_path / "docker-config"
    config.mkdir()
    proxy = "http://seller-proxy.invalid:3128"
    (config / "config.json").write_text(json.dumps({"proxies": {"default": {"httpProxy": proxy, "httpsProxy": proxy}}}))
    return {
        "AWS_ACCESS_KEY_ID": "AKIASELLERKEY0000000",
        "AWS_SECRET_ACCESS_KEY": "seller-secret",
        "AWS_SESSION_TOKEN": "seller-token",
        "SMBYO_SELLER_MARK": "from-the-sellers-shell",
        "DOCKER_CONFIG": str(config),
    }


def _invoke(url: str, body: str) -> requests.Response:
    return requests.post(f"{url}/invocations", data=body.encode(), headers={"Content-Type": "text/csv"}, timeout=60)


def _serve(model: Path, image: str, env: dict[str, str], *flags: str) -> tuple[subprocess.Popen[bytes], str, int]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sm_byo", "--json", "serve", "--local", "--image", image, "--model", str(model),
         "--port", str(port), "--container-startup-health-check-timeout", "60", *flags],
        cwd=EXAMPLE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, server)
    return server, url, port


def _stop(server: subprocess.Popen[bytes], port: int) -> tuple[dict[str, Any], str]:
    """Ctrl-C, then the --json result and stderr; nothing smbyo made for this port may be left."""
    server.send_signal(signal.SIGINT)
    stdout, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr.decode()
    assert local_containers(**{"dev.smbyo.port": str(port)}) == []
    assert local_networks(**{"dev.smbyo.port": str(port)}) == []
    return json.loads(stdout), _unwrapped(stderr.decode())


def _unwrapped(text: str) -> str:
    """The terminal's text with its line wrapping undone (a warning wraps at the console's width)."""
    return " ".join(text.split())


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """The calling predictor loads nothing: any model directory serves."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "README").write_text("nothing to load\n")
    return model


def test_serve_isolated_cannot_call_out_and_gets_no_seller_environment(
    calling_image: str, outside_server: str, model_dir: Path, seller_shell: dict[str, str]
) -> None:
    server, url, port = _serve(model_dir, calling_image, seller_shell)
    try:
        called = _invoke(url, f"call {outside_server}")  # the host reached the port: the relay works
        report = _invoke(url, "report")
    finally:
        result, stderr = _stop(server, port)
    assert called.status_code == 500
    answer = called.json()
    assert answer["cause"] == "network" and answer["endpoint"] == outside_server
    assert ISOLATION in answer["error"] and f"to {outside_server}" in answer["error"]
    seen = json.loads(report.text.splitlines()[0])
    environment = seen["environment"]
    assert not [key for key in environment if key.startswith("AWS_")], environment
    assert "SMBYO_SELLER_MARK" not in environment
    assert not [key for key in environment if "proxy" in key.lower()], environment
    assert seen["imds"].startswith("unreachable")
    assert result["network_isolation"] is True
    assert "WITHOUT network isolation" not in stderr


def test_serve_without_isolation_reaches_the_same_server_and_says_buyers_cannot(
    calling_image: str, outside_server: str, model_dir: Path
) -> None:
    server, url, port = _serve(model_dir, calling_image, {}, "--no-network-isolation")
    try:
        called = _invoke(url, f"call {outside_server}\ncall {outside_server}")
        # Without isolation there is no relay: the serving container alone, its port published directly.
        assert [name for name in local_containers(**{"dev.smbyo.port": str(port)}) if name.endswith("-relay")] == []
    finally:
        result, stderr = _stop(server, port)
    assert called.status_code == 200, called.text
    assert called.text.splitlines() == [f"reached {outside_server} (HTTP/1.0 200 OK)"] * 2
    assert result["network_isolation"] is False
    assert "buyers' containers cannot" in stderr


def _transform(image: str, model: Path, source: Path, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "--json", "transform", "--local", "--image", image, "--model", str(model), "--input", str(source),
        "--output", str(out), "--content-type", "text/csv", "--invocations-max-retries", "0", *flags,
        cwd=EXAMPLE_DIR,
    )  # fmt: skip


def test_transform_runs_isolated_and_fails_naming_the_call_unless_isolation_is_off(
    calling_image: str, outside_server: str, model_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "calls.csv"
    source.write_text(f"call {outside_server}\n" * 3)
    failed = _transform(calling_image, model_dir, source, tmp_path / "isolated")
    assert failed.returncode == 1, failed.stderr
    error = json.loads(failed.stdout)
    assert ISOLATION in error["message"] and outside_server in error["message"]
    job = error["details"]["job_name"]
    assert local_containers(**{"dev.smbyo.job": job}) == [] and local_networks(**{"dev.smbyo.job": job}) == []

    done = _transform(calling_image, model_dir, source, tmp_path / "open", "--no-network-isolation")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["network_isolation"] is False and "buyers' containers cannot" in _unwrapped(done.stderr)
    reached = f"reached {outside_server} (HTTP/1.0 200 OK)"
    assert (tmp_path / "open" / "calls.csv.out").read_text().splitlines() == [reached] * 3


def test_validate_reports_the_call_out_as_a_failed_check(
    calling_image: str, outside_server: str, project: Path
) -> None:
    calls = project / "calls"
    calls.mkdir()
    (calls / "calls.csv").write_text(f"call {outside_server}\n" * 20)
    manifest = project / "smbyo.yaml"
    text = manifest.read_text()
    assert "transform_data: data/transform" in text
    manifest.write_text(text.replace("transform_data: data/transform", "transform_data: calls"))
    result = run_cli("--json", "validate", "--local", "--image", calling_image, cwd=project)
    assert result.returncode == 1, result.stderr
    details = json.loads(result.stdout)["details"]
    checks = {check["check"]: check for check in details["checks"]}
    network = checks["works with no network access (network isolation)"]
    assert network["status"] == "fail" and ISOLATION in network["detail"] and outside_server in network["detail"]
    assert checks["batch transform"]["status"] == "fail"
    assert details["network_isolation"] is True
    assert local_networks(**{"dev.smbyo.kind": "validate"}) == []
    assert local_containers(**{"dev.smbyo.kind": "validate"}) == []
