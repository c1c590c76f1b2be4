"""`smbyo transform --local` on real Docker: multi-file input, MultiRecord and SingleRecord, in-order outputs
equal to the example's predictions computed in-process."""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from sm_byo.local.archive import safe_extract
from sm_byo.local.http import ContainerClient
from sm_byo.local.transform import transform_local
from sm_byo.manifest import load_manifest
from sm_byo.reporting import RecordingReporter
from tests.conftest import EXAMPLE_DIR, run_cli
from tests.integration.local_helpers import local_containers, smbyo_temp_dirs, stop_with_signal, trained_example

pytestmark = pytest.mark.docker
PADDING = "0" * 2500  # trailing zeros keep every value equal while making rows (and files) big


@pytest.fixture(scope="module")
def model(example_image: str) -> Path:
    return Path(trained_example(example_image)["model_artifacts"])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three files: the Iris rows, a nested one, and one of several MB (long but equal numbers)."""
    root = tmp_path_factory.mktemp("transform-input")
    rows = (EXAMPLE_DIR / "data" / "transform" / "iris.csv").read_text().splitlines()
    (root / "a.csv").write_text("\n".join(rows) + "\n")
    (root / "nested").mkdir()
    (root / "nested" / "b.csv").write_text("\n".join(reversed(rows[:40])) + "\n")
    padded = [",".join(f"{value}{PADDING}" if "." in value else value for value in row.split(",")) for row in rows]
    (root / "big.csv").write_text("\n".join(padded * 4) + "\n")
    assert (root / "big.csv").stat().st_size > 4 * 1024 * 1024
    return root


def _predictor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_predictor", EXAMPLE_DIR / "predictor.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def _expected(model: Path, csv: Path, scratch: Path) -> list[str]:
    safe_extract(model, scratch)  # tarfile's data filter only exists from Python 3.11.4
    predictor = _predictor()
    rows = np.loadtxt(csv, delimiter=",", dtype=np.float64, ndmin=2)
    return [str(label) for label in predictor.predict(predictor.load_model(str(scratch)), rows, {})]


@pytest.mark.parametrize(("strategy", "extra"), [("MultiRecord", ["--max-payload-mb", "1"]), ("SingleRecord", [])])
def test_outputs_are_complete_ordered_and_equal_to_in_process_predictions(
    model: Path, inputs: Path, example_image: str, tmp_path: Path, strategy: str, extra: list[str]
) -> None:
    output = tmp_path / "out"
    result = run_cli(
        "--json", "transform", "--local", "--image", example_image, "--model", str(model),
        "--input", str(inputs), "--output", str(output), "--strategy", strategy, "--concurrency", "4", *extra,
        cwd=EXAMPLE_DIR,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    names = ["a.csv", "big.csv", "nested/b.csv"]
    assert summary["outputs"] == [str(output / f"{name}.out") for name in names]
    total = 0
    for name in names:
        expected = _expected(model, inputs / name, tmp_path / f"model-{name.replace('/', '-')}")
        assert (output / f"{name}.out").read_text().splitlines() == expected, name
        total += len(expected)
    assert summary["records"] == total
    if strategy == "SingleRecord":
        assert summary["requests"] == total
    else:
        assert 5 <= summary["requests"] < total  # big.csv alone needs several 1 MB requests
    assert not local_containers(**{"dev.smbyo.job": summary["job_name"]})


def test_a_refused_record_fails_the_job_with_its_range_and_the_container_message(
    model: Path, example_image: str, tmp_path: Path
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "rows.csv").write_text("5.1,3.5,1.4,0.2\n6.2,2.9\n")
    result = run_cli(
        "transform", "--local", "--image", example_image, "--model", str(model), "--input", str(data),
        "--output", str(tmp_path / "out"), "--strategy", "SingleRecord", cwd=EXAMPLE_DIR,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "rows.csv line 2" in result.stderr and "HTTP 400" in result.stderr
    assert "expected 4 features per row, got 2" in result.stderr


def test_max_payload_mb_20_sends_batches_over_6_mb_and_the_container_takes_them(
    model: Path, example_image: str, tmp_path: Path
) -> None:
    """Batch transform may send up to MaxPayloadInMB: the container must accept what the job sends."""
    data = tmp_path / "in"
    data.mkdir()
    rows = (EXAMPLE_DIR / "data" / "transform" / "iris.csv").read_bytes()
    block = rows if rows.endswith(b"\n") else rows + b"\n"
    (data / "big.csv").write_bytes(block * (15 * 1024 * 1024 // len(block) + 1))
    size = (data / "big.csv").stat().st_size
    assert 15 * 1024 * 1024 <= size < 20 * 1024 * 1024
    output = tmp_path / "out"
    result = run_cli(
        "--json", "transform", "--local", "--image", example_image, "--model", str(model),
        "--input", str(data), "--output", str(output), "--max-payload-mb", "20", "--concurrency", "1",
        cwd=EXAMPLE_DIR,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    assert summary["settings"]["max_payload_mb"] == 20
    assert summary["requests"] == 1  # the whole 15+ MB file in one request: far over the real-time 6 MB
    expected = _expected(model, data / "big.csv", tmp_path / "model")
    assert (output / "big.csv.out").read_text().splitlines() == expected
    assert summary["records"] == len(expected)
    assert not local_containers(**{"dev.smbyo.job": summary["job_name"]})


def test_hidden_files_are_transformed_too_with_a_warning(model: Path, example_image: str, tmp_path: Path) -> None:
    """As under an S3 prefix, where SageMaker transforms every object: same outputs locally and in the cloud."""
    data = tmp_path / "in"
    (data / ".checkpoints").mkdir(parents=True)
    rows = (EXAMPLE_DIR / "data" / "transform" / "iris.csv").read_text().splitlines()[:3]
    for name in ("rows.csv", ".hidden.csv", ".checkpoints/old.csv"):
        (data / name).write_text("\n".join(rows) + "\n")
    output = tmp_path / "out"
    result = run_cli(
        "--json", "transform", "--local", "--image", example_image, "--model", str(model), "--input", str(data),
        "--output", str(output), cwd=EXAMPLE_DIR,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    names = [".checkpoints/old.csv", ".hidden.csv", "rows.csv"]
    assert summary["outputs"] == [str(output / f"{name}.out") for name in names]
    assert summary["records"] == 9 and summary["where"] == "local"
    assert "2 hidden file(s)" in result.stderr
    outs = {(output / f"{name}.out").read_text() for name in names}
    assert len(outs) == 1 and len(outs.pop().splitlines()) == 3


@pytest.mark.parametrize(
    ("signum", "ignore_sigint", "code"),
    [(signal.SIGTERM, False, 143), (signal.SIGINT, True, 130)],
    ids=["sigterm", "sigint-while-ignored"],
)
def test_a_stop_signal_stops_the_job_and_removes_its_container_and_temporary_tree(
    model: Path, example_image: str, tmp_path: Path, signum: int, ignore_sigint: bool, code: int
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    rows = (EXAMPLE_DIR / "data" / "transform" / "iris.csv").read_text()
    (data / "rows.csv").write_text(rows * 400)  # one request per row: the job lasts long enough to be stopped
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    ended = stop_with_signal(
        ["transform", "--local", "--image", example_image, "--model", str(model), "--input", str(data),
         "--output", str(tmp_path / "out"), "--strategy", "SingleRecord", "--concurrency", "1"],
        cwd=EXAMPLE_DIR, tmpdir=tmpdir, ready=r"in flight", signals=[signum], ignore_sigint=ignore_sigint,
    )  # fmt: skip
    assert ended.returncode == code, ended.stderr
    job = re.search(r"Batch transform (\S+) locally", ended.stderr)
    assert job is not None
    assert "interrupted by" in ended.stderr and "Stopping smbyo-local-transform-" in ended.stderr
    assert local_containers(**{"dev.smbyo.job": job.group(1)}) == []
    assert smbyo_temp_dirs(tmpdir) == []  # the model's extracted copy


def test_a_normal_job_sends_each_batch_once(
    model: Path, inputs: Path, example_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retries are for failures only: a job whose container answers every request makes one request per batch."""
    sent: list[int] = []
    invoke = ContainerClient.invoke

    def counted(self: ContainerClient, body: bytes, **kwargs: Any) -> Any:
        sent.append(len(body))
        return invoke(self, body, **kwargs)

    monkeypatch.setattr(ContainerClient, "invoke", counted)
    reporter = RecordingReporter()
    result = transform_local(
        load_manifest(EXAMPLE_DIR / "smbyo.yaml"), reporter, image=example_image, model=model, input=inputs,
        output=tmp_path / "out", max_payload_mb=1, concurrency=4,
    )  # fmt: skip
    assert len(sent) == result.requests and result.requests >= 5
    assert sum(sent) == result.input_bytes  # every byte once (no blank lines in these inputs)
    assert not any("retry" in str(args[0]) for args in reporter.of_kind("warn"))
    assert any("up to 3 retries per request" in str(args[0]) for args in reporter.of_kind("detail"))
