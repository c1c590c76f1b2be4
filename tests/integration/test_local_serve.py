"""`smbyo serve --local` in a subprocess + `smbyo invoke --local`, then Ctrl-C: clean exit, container gone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import EXAMPLE_DIR, run_cli
from tests.integration.local_helpers import (
    free_port,
    local_containers,
    smbyo_temp_dirs,
    stop_with_signal,
    trained_example,
    wait_healthy,
)

pytestmark = pytest.mark.docker


def test_serve_invoke_then_ctrl_c_stops_and_removes_the_container(example_image: str, tmp_path: Path) -> None:
    model = trained_example(example_image)["model_artifacts"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "sm_byo", "--json", "serve", "--local", "--image", example_image,
         "--model", model, "--port", str(port), "--container-startup-health-check-timeout", "60"],
        cwd=EXAMPLE_DIR, stdout=subprocess.PIPE, stderr=log, env=os.environ.copy(),
    )  # fmt: skip
    try:
        wait_healthy(url, server)
        # The serving container and, under network isolation (the default), the relay that publishes its port.
        started = local_containers(**{"dev.smbyo.port": str(port)})
        assert len(started) == 2 and sum(name.endswith("-relay") for name in started) == 1, started

        payload = EXAMPLE_DIR / "payload.csv"
        rows = [line for line in payload.read_text().splitlines() if line.strip()]
        answer = run_cli("invoke", "--local", url, "--body", str(payload), cwd=EXAMPLE_DIR)
        assert answer.returncode == 0, answer.stderr
        labels = answer.stdout.splitlines()
        assert len(labels) == len(rows)
        assert set(labels) <= {"setosa", "versicolor", "virginica"}

        refused = run_cli("invoke", "--local", url, "--body", "-", input=b"1,2\n", cwd=EXAMPLE_DIR)
        assert refused.returncode == 1
        assert b"expected 4 features per row, got 2" in refused.stderr

        # Over SageMaker's real-time 6 MB: refused by invoke itself (exit 2), as SageMaker refuses it.
        big = b"5.1,3.5,1.4,0.2\n" * (7 * 1024 * 1024 // 16)
        too_big = run_cli("invoke", "--local", url, "--body", "-", input=big, cwd=EXAMPLE_DIR)
        assert too_big.returncode == 2
        assert b"6,291,456 bytes" in too_big.stderr and b"smbyo transform" in too_big.stderr

        server.send_signal(signal.SIGINT)
        stdout, _ = server.communicate(timeout=45)
    finally:
        if server.poll() is None:
            server.kill()
        log.close()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()
    assert b'"stopped_by": "Ctrl-C"' in stdout
    assert local_containers(**{"dev.smbyo.port": str(port)}) == []
    nobody = run_cli("invoke", "--local", url, "--body", str(EXAMPLE_DIR / "payload.csv"))
    assert nobody.returncode == 3
    assert "not running" in nobody.stderr


def test_a_model_that_cannot_be_loaded_ends_serve_with_the_reason(example_image: str, tmp_path: Path) -> None:
    empty = tmp_path / "model"
    empty.mkdir()
    port = free_port()
    result = run_cli(
        "serve", "--local", "--image", example_image, "--model", str(empty), "--port", str(port),
        cwd=EXAMPLE_DIR, timeout=180,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "model could not be loaded" in result.stderr and "model.npz" in result.stderr
    assert local_containers(**{"dev.smbyo.port": str(port)}) == []


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/ping", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.mark.parametrize(
    ("signum", "ignore_sigint", "stopped_by"),
    [(signal.SIGTERM, False, "SIGTERM"), (signal.SIGINT, True, "Ctrl-C")],
    ids=["sigterm", "sigint-while-ignored"],
)
def test_a_stop_signal_ends_serve_cleanly(
    example_image: str, tmp_path: Path, signum: int, ignore_sigint: bool, stopped_by: str
) -> None:
    """`systemctl stop`, `timeout`, a CI cancel (SIGTERM), or `kill -INT` of a server a script started in the
    background (SIGINT ignored): the container is stopped gracefully and removed, and serve ends with exit 0."""
    model = trained_example(example_image)["model_artifacts"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    ended = stop_with_signal(
        ["--json", "serve", "--local", "--image", example_image, "--model", model, "--port", str(port),
         "--container-startup-health-check-timeout", "60"],
        cwd=EXAMPLE_DIR, tmpdir=tmpdir, ready=r"Serving ", when=lambda _match: _healthy(url), signals=[signum],
        ignore_sigint=ignore_sigint,
    )  # fmt: skip
    assert ended.returncode == 0, ended.stderr
    assert json.loads(ended.stdout)["stopped_by"] == stopped_by
    assert "Stopping smbyo-local-serve-" in ended.stderr
    assert local_containers(**{"dev.smbyo.port": str(port)}) == []
    assert smbyo_temp_dirs(tmpdir) == []
