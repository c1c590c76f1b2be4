"""The /opt/ml tree of a local training job: config files, channel checks, Pipe-mode FIFOs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from sm_byo.errors import UsageError
from sm_byo.local.layout import ChannelInput, MlTree, PipeFeeder, resolve_channels
from sm_byo.manifest import ChannelSpec, LoadedManifest, Manifest, TrainingSpec


def _loaded(tmp_path: Path, *channels: ChannelSpec) -> LoadedManifest:
    manifest = Manifest(name="algo", training=TrainingSpec(channels=list(channels)))
    return LoadedManifest(manifest=manifest, path=tmp_path / "smbyo.yaml")


TRAINING = ChannelSpec(name="training", input_modes=["File", "Pipe"], compression_types=["None", "Gzip"])
EXTRA = ChannelSpec(name="extra", required=False)


def _data(tmp_path: Path, *names: str) -> Path:
    directory = tmp_path / "data"
    directory.mkdir(exist_ok=True)
    for index, name in enumerate(names):
        (directory / name).write_bytes(f"part{index}\n".encode())
    return directory


def test_a_required_channel_without_data_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_channels(_loaded(tmp_path, TRAINING, EXTRA), {}, None)
    assert "training" in caught.value.message and "extra" not in caught.value.message
    assert "--data training=PATH" in (caught.value.hint or "")


def test_unknown_channels_and_missing_paths_are_usage_errors(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, TRAINING)
    with pytest.raises(UsageError, match="no channel 'test'"):
        resolve_channels(loaded, {"training": str(tmp_path), "test": str(tmp_path)}, None)
    with pytest.raises(UsageError, match="no such file or directory"):
        resolve_channels(loaded, {"training": str(tmp_path / "nope")}, None)
    with pytest.raises(UsageError, match="reads local files, not S3"):
        resolve_channels(loaded, {"training": "s3://bucket/data"}, None)


def test_an_input_mode_the_channel_does_not_support_is_refused(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, ChannelSpec(name="training", input_modes=["File"]))
    with pytest.raises(UsageError, match="supports only File"):
        resolve_channels(loaded, {"training": str(tmp_path)}, "Pipe")


def test_config_files_follow_the_contract(tmp_path: Path) -> None:
    data = _data(tmp_path, "a.csv.gz", "b.csv.gz")
    channels = resolve_channels(_loaded(tmp_path, TRAINING), {"training": str(data)}, "Pipe")
    tree = MlTree.create(tmp_path / "ml")
    tree.write_config({"max_leaf_nodes": "5"}, channels)
    config = tree.root / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == {"max_leaf_nodes": "5"}
    assert json.loads((config / "inputdataconfig.json").read_text()) == {
        "training": {
            "ContentType": "text/csv",
            "TrainingInputMode": "Pipe",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
            "CompressionType": "Gzip",
        }
    }
    assert json.loads((config / "resourceconfig.json").read_text()) == {
        "current_host": "algo-1",
        "hosts": ["algo-1"],
        "network_interface_name": "eth0",
    }


def test_file_channels_are_mounted_read_only_without_copying(tmp_path: Path) -> None:
    data = _data(tmp_path, "a.csv")
    single = tmp_path / "one.csv"
    single.write_text("1\n")
    tree = MlTree.create(tmp_path / "ml")
    channels = [
        ChannelInput("training", data, "text/csv", "File", "None"),
        ChannelInput("extra", single, "text/csv", "File", "None"),
        ChannelInput("piped", data, "text/csv", "Pipe", "None"),
    ]
    assert tree.volumes(channels) == {
        str(tree.root): {"bind": "/opt/ml", "mode": "rw"},
        str(data): {"bind": "/opt/ml/input/data/training", "mode": "ro"},
        str(single): {"bind": "/opt/ml/input/data/extra/one.csv", "mode": "ro"},
    }


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with path.open("rb") as fifo:
            into.append(fifo.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_pipe_feeder_writes_the_channel_once_per_epoch(tmp_path: Path) -> None:
    data = _data(tmp_path, "b.csv", "a.csv", ".hidden")
    channel = ChannelInput("training", data, "text/csv", "Pipe", "None")
    tree = MlTree.create(tmp_path / "ml")
    feeder = PipeFeeder(channel, tree.data_dir).start()
    try:
        epochs: list[bytes] = []
        for epoch in range(2):
            _read_fifo(tree.data_dir / f"training_{epoch}", epochs).join(timeout=10)
        # sorted by name, hidden files skipped, the same bytes every epoch
        assert epochs == [b"part1\npart0\n", b"part1\npart0\n"]
        assert (tree.data_dir / "training_2").exists()  # the next epoch is ready, as on SageMaker
    finally:
        feeder.stop()
    assert feeder.error is None


def test_pipe_feeder_stops_when_nobody_reads(tmp_path: Path) -> None:
    channel = ChannelInput("training", _data(tmp_path, "a.csv"), "text/csv", "Pipe", "None")
    feeder = PipeFeeder(channel, tmp_path).start()
    feeder.stop()
    assert feeder._thread is not None and not feeder._thread.is_alive()
    assert feeder.epochs_fed == 0


def test_links_that_leave_a_channel_directory_are_found(tmp_path: Path) -> None:
    data = _data(tmp_path, "inside.csv")
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("1\n")
    (data / "alias.csv").symlink_to(data / "inside.csv")
    (data / "escape.csv").symlink_to(outside)
    channel = ChannelInput("training", data.resolve(), "text/csv", "File", "None")
    assert [link.name for link in channel.links_leaving()] == ["escape.csv"]
