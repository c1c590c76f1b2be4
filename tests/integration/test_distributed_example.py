"""The distributed XGBoost example through the CLI as a user runs it: `smbyo train --local` on the shipped
data on one host and on two (each training on its ShardedByS3Key share, XGBoost's tracker and collective
doing the communication), then `smbyo serve --local` on its model.tar.gz, answering real HTTP requests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.conftest import EXAMPLE_TAG, REPO, ca_bundle, run_cli
from tests.integration.local_helpers import free_port, local_containers, wait_healthy

pytestmark = pytest.mark.docker

EXAMPLE = REPO / "algorithms" / "distributed_xgboost"
IMAGE_TAG = EXAMPLE_TAG.rsplit(":", 1)[0] + "-distributed-xgboost:" + EXAMPLE_TAG.rsplit(":", 1)[1]
FEATURES = 10
HOSTS = ("algo-1", "algo-2")


@pytest.fixture(scope="session")
def distributed_image(docker_adapter, base_image: str) -> str:  # type: ignore[no-untyped-def]
    """The example's image, built once per run (the layer cache makes reruns take seconds)."""
    from sm_byo.build import build_image
    from sm_byo.manifest import load_manifest
    from sm_byo.reporting import RecordingReporter

    build_image(
        load_manifest(EXAMPLE / "smbyo.yaml"),
        RecordingReporter(),
        tag=IMAGE_TAG,
        base_image=base_image,
        network="host",
        ca_bundle=ca_bundle(),
        docker=docker_adapter,
    )
    return IMAGE_TAG


@pytest.fixture(scope="module")
def trained(distributed_image: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("distributed-xgboost") / "out"
    result = run_cli(
        "--json", "train", "--local", "--image", distributed_image, "--data", "training=data/training",
        "--out", str(out), "-H", "num_round=30", cwd=EXAMPLE, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return {**json.loads(result.stdout), "log": result.stderr}


def _shipped_rows() -> np.ndarray:
    files = sorted((EXAMPLE / "data" / "training").glob("*.csv"))
    return np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])


def test_one_instance_trains_without_a_tracker_and_saves_only_model_json(trained: dict[str, object]) -> None:
    log = str(trained["log"])
    assert "host 1 of 1 (algo-1); master algo-1" in log
    assert "tracker" not in log.lower()
    with tarfile.open(str(trained["model_artifacts"])) as archive:
        assert archive.getnames() == ["model.json"]
        member = archive.extractfile("model.json")
        assert member is not None
        model = json.loads(member.read())
    booster = model["learner"]["gradient_booster"]
    assert len(booster["model"]["trees"]) == 30
    assert model["learner"]["learner_model_param"]["num_feature"] == str(FEATURES)


def test_the_validation_metrics_reach_the_result_through_the_manifest_regexes(trained: dict[str, object]) -> None:
    metrics = trained["metrics"]
    assert isinstance(metrics, dict)
    assert set(metrics) == {"validation:logloss", "validation:error"}
    # Held-out rows of a learnable data set: better than guessing the majority class (error 0.45).
    assert 0 < metrics["validation:logloss"] < 0.6
    assert 0 < metrics["validation:error"] < 0.3


@pytest.fixture(scope="module")
def served(
    distributed_image: str, trained: dict[str, object], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`smbyo serve --local` on the trained model until the module's tests are done, then Ctrl-C."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "sm_byo", "--json", "serve", "--local", "--image", distributed_image,
             "--model", str(trained["model_artifacts"]), "--port", str(port),
             "--container-startup-health-check-timeout", "120"],
            cwd=EXAMPLE, stdout=subprocess.PIPE, stderr=log, env=os.environ.copy(),
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(url, server, log_path)
            yield url
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=60)
        finally:
            if server.poll() is None:
                server.kill()
                server.communicate()
    assert server.returncode == 0, log_path.read_text()


def _invoke(url: str, body: bytes, content_type: str, accept: str = "text/csv") -> requests.Response:
    headers = {"Content-Type": content_type, "Accept": accept}
    return requests.post(f"{url}/invocations", data=body, headers=headers, timeout=30)


def test_csv_rows_get_a_probability_each_that_tells_the_classes_apart(served: str) -> None:
    rows = _shipped_rows()
    body = "\n".join(",".join(f"{value:g}" for value in row[1:]) for row in rows).encode()
    answer = _invoke(served, body, "text/csv")
    assert answer.status_code == 200, answer.text
    probabilities = np.array([float(line) for line in answer.text.splitlines()])
    assert len(probabilities) == len(rows)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    accuracy = float(np.mean((probabilities > 0.5) == (rows[:, 0] == 1)))
    assert accuracy > 0.75


def test_json_rows_get_the_same_probabilities_as_csv(served: str) -> None:
    payload = (EXAMPLE / "payload.csv").read_bytes()
    rows = np.loadtxt(EXAMPLE / "payload.csv", delimiter=",", ndmin=2)
    from_csv = _invoke(served, payload, "text/csv", accept="application/json")
    from_json = _invoke(
        served, json.dumps({"instances": rows.tolist()}).encode(), "application/json", "application/json"
    )
    assert from_csv.status_code == from_json.status_code == 200, (from_csv.text, from_json.text)
    assert from_json.headers["Content-Type"].startswith("application/json")
    assert len(from_json.json()["predictions"]) == len(rows)
    assert from_json.json() == from_csv.json()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"1,2\n", "text/csv", 400, f"expected {FEATURES} features per row, got 2"),
        (b"1,2,3,4,5,6,7,8,9,abc\n", "text/csv", 400, "abc"),
        (b'{"instances": [[1, 2]]}', "application/json", 400, f"expected {FEATURES} features per row, got 2"),
        (b"1,2,3", "application/x-npy", 415, "application/x-npy"),
    ],
    ids=["too-few-features", "not-a-number", "json-too-few-features", "unsupported-type"],
)
def test_bad_requests_get_a_4xx_with_a_json_reason(
    served: str, body: bytes, content_type: str, status: int, message: str
) -> None:
    answer = _invoke(served, body, content_type)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


def _model_json(archive: str) -> bytes:
    with tarfile.open(archive) as tar:
        assert tar.getnames() == ["model.json"]  # only the master host writes the model
        member = tar.extractfile("model.json")
        assert member is not None
        return member.read()


def test_two_hosts_each_train_on_their_shard_and_build_the_one_host_model(
    distributed_image: str, trained: dict[str, object], tmp_path: Path
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    result = run_cli(
        "--json", "train", "--local", "--image", distributed_image, "--data", "training=data/training",
        "--out", str(tmp_path / "out"), "-H", "num_round=30", "-H", "nthread=1", "--instance-count", "2",
        cwd=EXAMPLE, timeout=300, env={"TMPDIR": str(tmpdir)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert done["instance_count"] == 2
    # The shipped data is 4 files of 1,000 rows: each host gets two (ShardedByS3Key, from the manifest).
    rows = {host: re.search(rf"{host}: (\d+) training rows, (\d+) validation rows", result.stderr) for host in HOSTS}
    assert all(rows.values()), result.stderr
    assert sum(int(found.group(1)) + int(found.group(2)) for found in rows.values() if found) == 4000
    assert "algo-2: joined as XGBoost rank 1" in result.stderr
    # Exact histogram cuts (integer features, fewer distinct values than max_bin) make the trees identical.
    assert _model_json(str(done["model_artifacts"])) == _model_json(str(trained["model_artifacts"]))
    assert done["metrics"] == trained["metrics"]
    assert not list(tmpdir.glob("smbyo-*"))


def test_a_host_with_bad_data_fails_the_job_and_the_master_waiting_for_it_is_stopped(
    distributed_image: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shipped = sorted((EXAMPLE / "data" / "training").glob("*.csv"))
    (data / "a.csv").write_bytes(shipped[0].read_bytes())  # algo-1's share
    (data / "b.csv").write_text("1,2,3\n0,1\n")  # algo-2's share: rows of different widths
    result = run_cli(
        "--json", "train", "--local", "--image", distributed_image, "--data", f"training={data}",
        "--out", str(tmp_path / "out"), "--instance-count", "2", cwd=EXAMPLE, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)
    assert "failed: algo-2: ValueError: the number of columns changed" in error["message"]  # algo-2's reason
    assert "stopping the other hosts" in result.stderr
    job = error["details"]["job_name"]
    assert not local_containers(**{"dev.smbyo.job": job})
    assert not (tmp_path / "out" / "model.tar.gz").exists()


def test_validate_runs_the_profile_of_an_algorithm_that_supports_distributed_training_on_two_hosts(
    distributed_image: str,
) -> None:
    result = run_cli("--json", "validate", "--local", "--image", distributed_image, cwd=EXAMPLE, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    checks = {row["check"]: row for row in report["checks"]}
    assert all(row["status"] == "pass" for row in checks.values()), checks
    assert " Completed on 2 hosts in " in checks["training job"]["detail"]
    assert "algo-2: joined as XGBoost rank 1" in result.stderr
