"""The host does not trust what a container writes into its /opt/ml tree, and keeps results whole.

A hostile image (any ``--image`` can run, as root, with /opt/ml mounted read-write) plants symbolic
links to host files where the host writes Pipe-mode data, reads the failure reason and packs the
model; none may be followed. Also: two channels of one path both get the data, a failed run leaves
no earlier result that passes for its own, and a failed transform leaves no partial ``.out``.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sm_byo.errors import JobFailed
from sm_byo.local.training import local_training_plan, run_training_job
from sm_byo.manifest import load_manifest
from sm_byo.options import TrainCommand
from sm_byo.reporting import RecordingReporter
from tests.conftest import EXAMPLE_DIR, EXAMPLE_TAG, probe_report, run_cli
from tests.integration.local_helpers import local_containers, trained_example

pytestmark = pytest.mark.docker
HOSTILE_TAG = EXAMPLE_TAG.rsplit(":", 1)[0] + "-hostile:" + EXAMPLE_TAG.rsplit(":", 1)[1]
SECRET = "HOST-SECRET-do-not-leak\n"

HOSTILE_TRAIN = r"""#!/bin/sh
# Plants links to host paths (VICTIM_FILE, VICTIM_DIR) wherever the host reads or writes.
ml=/opt/ml
VICTIM_FILE=${VICTIM_FILE:-/etc/passwd}
case "${HOSTILE_MODE:-failure}" in
pipe)
  ln -s "$VICTIM_FILE" "$ml/input/data/training_1"      # before the host makes epoch 1's FIFO
  cat "$ml/input/data/training_0" > /dev/null           # epoch 0; the host makes training_1 meanwhile
  sleep 0.5
  rm -f "$ml/input/data/training_1"
  ln -s "$VICTIM_FILE" "$ml/input/data/training_1"      # swapped while the host waits for a reader
  echo weights > "$ml/model/real.txt"
  ln -s "$VICTIM_FILE" "$ml/model/creds"
  ln -s "$VICTIM_DIR" "$ml/model/hostdir"
  mkfifo "$ml/model/pipe"
  mv "$ml/output" "$ml/output.moved" && ln -s "$VICTIM_DIR" "$ml/output"
  sleep 1
  exit 0 ;;
failure)
  ln -s "$VICTIM_FILE" "$ml/output/failure"
  exit 1 ;;
model-link)
  rm -rf "$ml/model" && ln -s "$VICTIM_DIR" "$ml/model"
  exit 0 ;;
esac
exit 3
"""


@pytest.fixture(scope="module")
def hostile_image(docker_adapter, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    context = tmp_path_factory.mktemp("hostile")
    (context / "train").write_text(HOSTILE_TRAIN)
    (context / "train").chmod(0o755)
    (context / "Dockerfile").write_text(f"FROM {base_image}\nCOPY train /usr/local/bin/train\n")
    docker_adapter.client.images.build(path=str(context), tag=HOSTILE_TAG, rm=True, forcerm=True)
    yield HOSTILE_TAG
    docker_adapter.client.images.remove(HOSTILE_TAG, force=True)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """Host files a container must never reach: a file, and a directory with data/ and failure in it."""
    directory = tmp_path / "host"
    (directory / "data").mkdir(parents=True)
    (directory / "secret.txt").write_text(SECRET)
    (directory / "data" / "secret.txt").write_text(SECRET)
    (directory / "failure").write_text(SECRET)
    return directory


def _hostile_run(image: str, mode: str, victim: Path, out: Path, input_mode: str, reporter: RecordingReporter) -> Any:
    plan = local_training_plan(
        load_manifest(EXAMPLE_DIR / "smbyo.yaml"),
        TrainCommand(
            local=True,
            image=image,
            data={"training": str(EXAMPLE_DIR / "data" / "training")},
            out=out,
            input_mode=input_mode,
        ),
    )
    request = dict(plan.request("CreateTrainingJob").kwargs)
    request["Environment"] = {
        "HOSTILE_MODE": mode,
        "VICTIM_FILE": str(victim / "secret.txt"),
        "VICTIM_DIR": str(victim),
    }
    return run_training_job(request, reporter)


def _unchanged(victim: Path) -> None:
    for name in ("secret.txt", "data/secret.txt", "failure"):
        assert (victim / name).read_text() == SECRET, name
    assert sorted(p.relative_to(victim).as_posix() for p in victim.rglob("*")) == [
        "data",
        "data/secret.txt",
        "failure",
        "secret.txt",
    ]


def _names(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            assert member.isfile() or member.isdir(), member.name
            if member.isfile():
                extracted = tar.extractfile(member)
                assert extracted is not None and SECRET.encode() not in extracted.read()
        return sorted(tar.getnames())


def test_a_hostile_training_image_reaches_no_host_file_and_a_failed_rerun_leaves_no_result(
    hostile_image: str, victim: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    reporter = RecordingReporter()
    result = _hostile_run(hostile_image, "pipe", victim, out, "Pipe", reporter)
    _unchanged(victim)  # the Pipe feeder wrote into neither planted link
    assert _names(Path(str(result.model_artifacts))) == ["real.txt"]  # no link, FIFO or host file packed
    assert result.output_artifacts is None  # output/ was a link to a host directory: not packed
    warnings = "\n".join(str(args[0]) for args in reporter.of_kind("warn"))
    assert "not the FIFO smbyo made" in warnings
    assert (
        "creds: a symbolic link" in warnings and "hostdir: a symbolic link" in warnings and "pipe: a FIFO" in warnings
    )
    assert not local_containers(**{"dev.smbyo.job": result.job_name})

    # Now a run that fails, into the same --out: its failure file is a link to a host file.
    reporter = RecordingReporter()
    with pytest.raises(JobFailed) as caught:
        _hostile_run(hostile_image, "failure", victim, out, "File", reporter)
    assert "HOST-SECRET" not in caught.value.message and "HOST-SECRET" not in json.dumps(caught.value.to_dict())
    assert "without writing a reason" in caught.value.message
    _unchanged(victim)
    # the first run's model must not pass for the failed run's result
    assert not (out / "model.tar.gz").exists()
    assert _names(out / "model.tar.gz.previous") == ["real.txt"]
    assert any("model.tar.gz.previous" in str(args[0]) for args in reporter.of_kind("warn"))
    assert sorted(p.name for p in out.iterdir()) == [".smbyo-outputs", "model.tar.gz.previous"]


def test_a_model_directory_replaced_by_a_link_packs_nothing_of_the_host(
    hostile_image: str, victim: Path, tmp_path: Path
) -> None:
    reporter = RecordingReporter()
    result = _hostile_run(hostile_image, "model-link", victim, tmp_path / "out", "File", reporter)
    assert _names(Path(str(result.model_artifacts))) == []
    assert any("model: a symbolic link" in str(args[0]) for args in reporter.of_kind("warn"))
    _unchanged(victim)


def test_the_failure_reason_of_a_hostile_image_is_not_a_host_file_on_the_command_line(
    hostile_image: str, tmp_path: Path
) -> None:
    """Through the CLI (human and --json output): output/failure -> /etc/passwd prints nothing of the host's."""
    result = run_cli(
        "--json", "train", "--local", "--image", hostile_image, "--data", "training=data/training",
        "--out", str(tmp_path / "out"), cwd=EXAMPLE_DIR,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "root:" not in result.stdout and "root:" not in result.stderr
    assert "exited with code 1 without writing a reason" in json.loads(result.stdout)["message"]


def test_two_channels_of_the_same_path_both_get_the_data(probe_image: str, tmp_path: Path) -> None:
    """Mounts were keyed by host path: the second channel's replaced the first's, which came up empty."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("1,2\n")
    (data / "b.csv").write_text("3,4\n")
    plan = local_training_plan(
        load_manifest(EXAMPLE_DIR / "smbyo.yaml"),
        TrainCommand(local=True, image=probe_image, data={"training": str(data)}, out=tmp_path / "out"),
    )
    request = dict(plan.request("CreateTrainingJob").kwargs)
    first = request["InputDataConfig"][0]
    request["InputDataConfig"] = [first, {**first, "ChannelName": "validation"}]
    result = run_training_job(request, RecordingReporter())
    report = probe_report(Path(str(result.model_artifacts)))
    expected = {name: hashlib.sha256((data / name).read_bytes()).hexdigest() for name in ("a.csv", "b.csv")}
    assert report["files"] == {"training": expected, "validation": expected}


def test_a_transform_that_fails_part_way_leaves_no_partial_out(example_image: str, tmp_path: Path) -> None:
    model = Path(trained_example(example_image)["model_artifacts"])
    rows = (EXAMPLE_DIR / "data" / "transform" / "iris.csv").read_text().splitlines()
    data = tmp_path / "in"
    data.mkdir()
    (data / "a.csv").write_text("\n".join(rows[:5]) + "\n")
    (data / "b.csv").write_text("\n".join([*rows[:50], "6.2,2.9", *rows[50:]]) + "\n")  # line 51 is refused
    out = tmp_path / "out"
    args = ["transform", "--local", "--image", example_image, "--model", str(model), "--input", str(data)]
    result = run_cli(*args, "--output", str(out), "--strategy", "SingleRecord", cwd=EXAMPLE_DIR)
    assert result.returncode == 1, result.stderr
    assert "b.csv line 51" in result.stderr
    listing = sorted(p.name for p in out.iterdir())
    assert listing == [".smbyo-outputs", "a.csv.out"], listing  # b.csv.out's partial answers are gone
    assert len((out / "a.csv.out").read_text().splitlines()) == 5

    (data / "b.csv").write_text("\n".join(rows[:7]) + "\n")  # fixed: the rerun replaces what smbyo wrote
    result = run_cli(*args, "--output", str(out), cwd=EXAMPLE_DIR)
    assert result.returncode == 0, result.stderr
    assert len((out / "b.csv.out").read_text().splitlines()) == 7


def test_container_log_escape_sequences_reach_the_terminal_inert(
    docker_adapter, base_image: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A training log line with OSC 52, a screen clear and a carriage return arrives escaped on stderr."""
    context = tmp_path / "ctx"
    context.mkdir()
    script = "#!/bin/sh\nprintf 'a\\033]52;c;ZXZpbA==\\007b\\033[2Jc\\rFAKE\\n'\nexit 0\n"
    (context / "train").write_text(script)
    (context / "train").chmod(0o755)
    (context / "Dockerfile").write_text(f"FROM {base_image}\nCOPY train /usr/local/bin/train\n")
    tag = HOSTILE_TAG.replace("-hostile:", "-escapes:")
    docker_adapter.client.images.build(path=str(context), tag=tag, rm=True, forcerm=True)
    try:
        result = run_cli(
            "train", "--local", "--image", tag, "--data", "training=data/training", "--out", str(tmp_path / "out"),
            cwd=EXAMPLE_DIR,
        )  # fmt: skip
    finally:
        docker_adapter.client.images.remove(tag, force=True)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr and "\r" not in result.stderr and "\x07" not in result.stderr
    assert "a\\x1b]52;c;ZXZpbA==\\x07b\\x1b[2Jc\\x0dFAKE" in result.stderr
