"""`smbyo transform --local` on several instances (TransformResources.InstanceCount) and with DataProcessing,
on real Docker: the files spread over the containers, each file transformed once, a failure on one instance
failing the job, and the filters and join giving what SageMaker documents."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_DIR, run_cli
from tests.integration.local_helpers import local_containers, smbyo_temp_dirs, stop_with_signal, trained_example

pytestmark = pytest.mark.docker
ROWS = (EXAMPLE_DIR / "data" / "transform" / "iris.csv").read_text().splitlines()
# Five files of different sizes (one of them nested), so that both instances get some and sizes differ.
FILES = {"a.csv": 1, "b.csv": 40, "c.csv": 3, "d/e.csv": 12, "f.csv": 7}


@pytest.fixture(scope="module")
def model(example_image: str) -> Path:
    return Path(trained_example(example_image)["model_artifacts"])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("instances-input")
    for name, copies in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("\n".join(ROWS * copies) + "\n")
    return root


def _transform(image: str, model: Path, data: Path, output: Path, *flags: str) -> tuple[int, dict[str, Any], str]:
    result = run_cli(
        "--json", "transform", "--local", "--image", image, "--model", str(model), "--input", str(data),
        "--output", str(output), *flags, cwd=EXAMPLE_DIR,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout) if result.returncode == 0 else {}, result.stderr


def test_two_instances_transform_every_file_once_and_write_what_one_instance_writes(
    model: Path, inputs: Path, example_image: str, tmp_path: Path
) -> None:
    code, one, stderr = _transform(example_image, model, inputs, tmp_path / "one", "--max-payload-mb", "1")
    assert code == 0, stderr
    code, two, stderr = _transform(
        example_image, model, inputs, tmp_path / "two", "--instance-count", "2", "--max-payload-mb", "1"
    )
    assert code == 0, stderr
    names = sorted(FILES)
    assert two["outputs"] == [str(tmp_path / "two" / f"{name}.out") for name in names]  # in input order
    for name in names:
        written = (tmp_path / "two" / f"{name}.out").read_bytes()
        assert written == (tmp_path / "one" / f"{name}.out").read_bytes(), name
        assert len(written.splitlines()) == len(ROWS) * FILES[name], name
    assert two["records"] == one["records"] == len(ROWS) * sum(FILES.values())
    assert two["settings"]["instance_count"] == 2
    # each file on exactly one instance, and both instances served requests
    instances = two["instances"]
    assert [instance["name"] for instance in instances] == ["algo-1", "algo-2"]
    assert sorted(name for instance in instances for name in instance["files"]) == names
    assert all(instance["records"] > 0 and instance["requests"] > 0 for instance in instances)
    assert sum(instance["records"] for instance in instances) == two["records"]
    for instance in instances:  # each container's own log lines, prefixed with its instance
        assert re.search(rf"^{instance['name']} \| ", stderr, re.MULTILINE), stderr[-2000:]
    assert "2 x ml.m5.large" in stderr and "CPUs each" in stderr
    assert not local_containers(**{"dev.smbyo.job": two["job_name"]})
    assert [instance["name"] for instance in one["instances"]] == ["algo-1"]


def test_more_instances_than_files_leave_some_instances_without_files(
    model: Path, example_image: str, tmp_path: Path
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "only.csv").write_text("\n".join(ROWS) + "\n")
    code, result, stderr = _transform(example_image, model, data, tmp_path / "out", "--instance-count", "3")
    assert code == 0, stderr
    assert [instance["files"] for instance in result["instances"]] == [["only.csv"], [], []]
    assert len((tmp_path / "out" / "only.csv.out").read_text().splitlines()) == len(ROWS)
    assert not local_containers(**{"dev.smbyo.job": result["job_name"]})


def test_a_refused_record_on_one_instance_fails_the_job_and_leaves_no_partial_output_or_container(
    model: Path, example_image: str, tmp_path: Path
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    (data / "big.csv").write_text("\n".join(ROWS * 400) + "\n")  # the other instance is busy with this one
    (data / "bad.csv").write_text("\n".join([*ROWS[:5], "6.2,2.9", *ROWS[5:10]]) + "\n")
    output = tmp_path / "out"
    result = run_cli(
        "transform", "--local", "--image", example_image, "--model", str(model), "--input", str(data),
        "--output", str(output), "--instance-count", "2", "--strategy", "SingleRecord", "--concurrency", "1",
        cwd=EXAMPLE_DIR,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "bad.csv line 6" in result.stderr and "HTTP 400" in result.stderr and "on algo-" in result.stderr
    assert not (output / "bad.csv.out").exists()
    assert [path.name for path in output.rglob("*.partial")] == []
    if (output / "big.csv.out").exists():  # whatever finished before the failure is complete
        assert len((output / "big.csv.out").read_text().splitlines()) == len(ROWS) * 400
    job = re.search(r"Batch transform (\S+) locally", result.stderr)
    assert job is not None
    assert local_containers(**{"dev.smbyo.job": job.group(1)}) == []


def test_data_processing_drops_the_id_joins_the_input_and_keeps_the_id_with_the_prediction(
    model: Path, example_image: str, tmp_path: Path
) -> None:
    """The AWS page's "Output an ID Column with Results and Exclude the ID Column from the Input (CSV)", with an
    output filter keeping the id and the prediction; and the JSON example's $.features / SageMakerOutput."""
    data = tmp_path / "in"
    data.mkdir()
    rows = ROWS[:20]
    (data / "ids.csv").write_text("".join(f"id-{n},{row}\n" for n, row in enumerate(rows)))
    code, _, stderr = _transform(example_image, model, EXAMPLE_DIR / "data" / "transform", tmp_path / "plain")
    assert code == 0, stderr
    labels = (tmp_path / "plain" / "iris.csv.out").read_text().splitlines()[:20]
    output = tmp_path / "out"
    code, result, stderr = _transform(
        example_image, model, data, output, "--input-filter", "$[1:]", "--join-source", "Input",
        "--output-filter", "$[0,-1]", "--instance-count", "2",
    )  # fmt: skip
    assert code == 0, stderr
    assert (output / "ids.csv.out").read_text().splitlines() == [f"id-{n},{label}" for n, label in enumerate(labels)]
    assert [instance["files"] for instance in result["instances"]] == [["ids.csv"], []]
    code, _, stderr = _transform(
        example_image, model, data, tmp_path / "joined", "--input-filter", "$[1:]", "--join-source", "Input"
    )
    assert code == 0, stderr
    expected = [f"id-{n},{row},{label}" for n, (row, label) in enumerate(zip(rows, labels, strict=True))]
    assert (tmp_path / "joined" / "ids.csv.out").read_text().splitlines() == expected
    json_data = tmp_path / "json"
    json_data.mkdir()
    records = [{"id": n, "features": [float(v) for v in row.split(",")]} for n, row in enumerate(rows)]
    (json_data / "rows.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    code, _, stderr = _transform(
        example_image, model, json_data, tmp_path / "json-out", "--content-type", "application/json",
        "--accept", "application/json", "--strategy", "SingleRecord", "--input-filter", "$.features",
        "--join-source", "Input", "--output-filter", "$['id','SageMakerOutput']",
    )  # fmt: skip
    assert code == 0, stderr
    written = [json.loads(line) for line in (tmp_path / "json-out" / "rows.jsonl.out").read_text().splitlines()]
    assert written == [{"id": n, "SageMakerOutput": {"predictions": [label]}} for n, label in enumerate(labels)]


def test_a_stop_signal_stops_and_removes_every_instance_container(
    model: Path, example_image: str, tmp_path: Path
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    for name in ("a.csv", "b.csv"):  # one file per instance, one request per row: long enough to be stopped
        (data / name).write_text("\n".join(ROWS * 200) + "\n")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    ended = stop_with_signal(
        ["transform", "--local", "--image", example_image, "--model", str(model), "--input", str(data),
         "--output", str(tmp_path / "out"), "--strategy", "SingleRecord", "--concurrency", "1",
         "--instance-count", "2"],
        cwd=EXAMPLE_DIR, tmpdir=tmpdir, ready=r"in flight", signals=[signal.SIGTERM],
    )  # fmt: skip
    assert ended.returncode == 143, ended.stderr
    job = re.search(r"Batch transform (\S+) locally", ended.stderr)
    assert job is not None
    assert "the local containers were stopped and removed" in ended.stderr
    assert local_containers(**{"dev.smbyo.job": job.group(1)}) == []
    assert smbyo_temp_dirs(tmpdir) == []
    assert [path.name for path in (tmp_path / "out").rglob("*.partial")] == []
