"""The /opt/ml tree of a local training job: config files, channel checks, Pipe-mode FIFOs."""

from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path

import pytest

from sm_byo.docker import Bind
from sm_byo.errors import UsageError
from sm_byo.local.layout import (
    ChannelInput,
    MlTree,
    PipeFeeder,
    channels_from_request,
    checkpoint_mounts,
    data_files,
    hidden_files,
)


def _data(tmp_path: Path, *names: str) -> Path:
    directory = tmp_path / "data"
    directory.mkdir(exist_ok=True)
    for index, name in enumerate(names):
        (directory / name).write_bytes(f"part{index}\n".encode())
    return directory


def _request(data: Path, mode: str, compression: str = "None") -> dict[str, object]:
    return {
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {"S3DataSource": {"S3Uri": data.as_uri(), "S3DataDistributionType": "ShardedByS3Key"}},
                "ContentType": "text/csv",
                "CompressionType": compression,
                "InputMode": mode,
            }
        ],
    }


def test_channels_come_from_the_request_with_file_uris(tmp_path: Path) -> None:
    data = _data(tmp_path, "a.csv")
    (channel,) = channels_from_request(_request(data, "FastFile"))
    assert (channel.name, channel.path, channel.input_mode) == ("training", data, "File")  # FastFile runs as File
    assert channel.distribution == "ShardedByS3Key"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("s3://bucket/data", "a local job reads local data"),
        ("file:///no/such/dir", "no such file or directory"),
        ("file://relative/dir", "no such file or directory"),
    ],
)
def test_a_data_source_a_local_job_cannot_read_is_refused(tmp_path: Path, uri: str, message: str) -> None:
    request = _request(tmp_path, "File")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = uri  # type: ignore[index]
    with pytest.raises(UsageError, match=message):
        channels_from_request(request)


def test_config_files_follow_the_contract(tmp_path: Path) -> None:
    data = _data(tmp_path, "a.csv.gz", "b.csv.gz")
    channels = channels_from_request(_request(data, "Pipe", "Gzip"))
    tree = MlTree.create(tmp_path / "ml")
    tree.write_config({"max_leaf_nodes": "5"}, channels, "ml.m5.large")
    config = tree.root / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text()) == {"max_leaf_nodes": "5"}
    assert json.loads((config / "inputdataconfig.json").read_text()) == {
        "training": {
            "ContentType": "text/csv",
            "TrainingInputMode": "Pipe",
            "S3DistributionType": "ShardedByS3Key",
            "RecordWrapperType": "None",
            "CompressionType": "Gzip",
        }
    }
    assert json.loads((config / "resourceconfig.json").read_text()) == {
        "current_host": "algo-1",
        "current_instance_type": "ml.m5.large",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.large", "hosts": ["algo-1"]}
        ],
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
    assert tree.volumes(channels) == [
        Bind(str(tree.root), "/opt/ml"),
        Bind(str(data), "/opt/ml/input/data/training", read_only=True),
        Bind(str(single), "/opt/ml/input/data/extra/one.csv", read_only=True),
    ]


def test_two_channels_of_the_same_data_get_a_mount_each(tmp_path: Path) -> None:
    """Keyed by host path, the second channel's mount replaced the first: one channel came up empty."""
    data = _data(tmp_path, "a.csv")
    tree = MlTree.create(tmp_path / "ml")
    channels = [ChannelInput(name, data, "text/csv", "File", "None") for name in ("training", "validation")]
    assert tree.volumes(channels)[1:] == [
        Bind(str(data), "/opt/ml/input/data/training", read_only=True),
        Bind(str(data), "/opt/ml/input/data/validation", read_only=True),
    ]


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with path.open("rb") as fifo:
            into.append(fifo.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_pipe_feeder_writes_the_channel_once_per_epoch(tmp_path: Path) -> None:
    data = _data(tmp_path, "b.csv", "a.csv", ".hidden")  # part0 .. part2
    channel = ChannelInput("training", data, "text/csv", "Pipe", "None")
    tree = MlTree.create(tmp_path / "ml")
    feeder = PipeFeeder(channel, tree.data_dir).start()
    try:
        epochs: list[bytes] = []
        for epoch in range(2):
            _read_fifo(tree.data_dir / f"training_{epoch}", epochs).join(timeout=10)
        # sorted by name, hidden files included (they are under the prefix), the same bytes every epoch
        assert epochs == [b"part2\npart1\npart0\n", b"part2\npart1\npart0\n"]
        assert (tree.data_dir / "training_2").exists()  # the next epoch is ready, as on SageMaker
    finally:
        feeder.stop()
    assert feeder.error is None


def test_a_gzip_pipe_channel_is_decompressed_as_it_streams(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv.gz").write_bytes(gzip.compress(b"1,2\n"))
    channel = ChannelInput("training", data, "text/csv", "Pipe", "Gzip")
    tree = MlTree.create(tmp_path / "ml")
    feeder = PipeFeeder(channel, tree.data_dir).start()
    try:
        received: list[bytes] = []
        _read_fifo(tree.data_dir / "training_0", received).join(timeout=10)
        assert received == [b"1,2\n"]
    finally:
        feeder.stop()


def test_hidden_files_are_found_so_commands_can_warn(tmp_path: Path) -> None:
    data = _data(tmp_path, "a.csv", ".DS_Store")
    (data / ".ipynb_checkpoints").mkdir()
    (data / ".ipynb_checkpoints" / "x.csv").write_text("1\n")
    assert [p.name for p in hidden_files(data)] == [".DS_Store", "x.csv"]
    assert len(data_files(data)) == 3


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


# --- the tree is the container's: the host follows none of its links ---------------------------------


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "host" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("host file\n")
    return victim


def _plant(path: Path, kind: str, victim: Path) -> None:
    import os

    if kind == "link":
        path.symlink_to(victim)
    elif kind == "file":
        path.write_text("planted\n")
    elif kind == "fifo":
        os.mkfifo(path)


@pytest.mark.parametrize("kind", ["link", "file", "fifo"])
def test_a_feeder_does_not_write_through_what_the_container_put_at_the_next_fifo(tmp_path: Path, kind: str) -> None:
    """Planted before the host makes the next epoch's FIFO: the rename replaces it, data goes to the FIFO."""
    victim = _victim(tmp_path)
    channel = ChannelInput("training", _data(tmp_path, "a.csv"), "text/csv", "Pipe", "None")
    tree = MlTree.create(tmp_path / "ml")
    _plant(tree.data_dir / "training_1", kind, victim)
    feeder = PipeFeeder(channel, tree.data_dir).start()
    try:
        epochs: list[bytes] = []
        for epoch in range(2):
            _read_fifo(tree.data_dir / f"training_{epoch}", epochs).join(timeout=10)
        assert epochs == [b"part0\n", b"part0\n"]
    finally:
        feeder.stop()
    assert victim.read_text() == "host file\n"
    assert feeder.error is None


@pytest.mark.parametrize("kind", ["link", "file"])
def test_a_feeder_refuses_a_fifo_the_container_swapped_while_it_waits(tmp_path: Path, kind: str) -> None:
    """Swapped after the host made it (while the host waits for a reader): nothing is written, the error says
    why. (A FIFO swapped for another FIFO may get the freed inode number back and pass: harmless, it is a FIFO.)"""
    import time

    victim = _victim(tmp_path)
    channel = ChannelInput("training", _data(tmp_path, "a.csv"), "text/csv", "Pipe", "None")
    tree = MlTree.create(tmp_path / "ml")
    feeder = PipeFeeder(channel, tree.data_dir).start()
    try:
        (tree.data_dir / "training_0").unlink()
        _plant(tree.data_dir / "training_0", kind, victim)
        deadline = time.monotonic() + 10
        while feeder.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        feeder.stop()
    assert victim.read_text() == "host file\n"
    assert feeder.error is not None and "not the FIFO smbyo made" in feeder.error
    if kind == "file":
        assert (tree.data_dir / "training_0").read_text() == "planted\n"


@pytest.mark.parametrize("kind", ["link", "fifo", "dir-link"])
def test_the_failure_reason_is_read_only_from_a_regular_file(tmp_path: Path, kind: str) -> None:
    import os

    victim = _victim(tmp_path)
    tree = MlTree.create(tmp_path / "ml")
    if kind == "dir-link":  # output/ itself replaced by a link to a host directory holding "failure"
        (victim.parent / "failure").write_text("host secret\n")
        os.rename(tree.root / "output", tree.root / "output.moved")
        (tree.root / "output").symlink_to(victim.parent)
    else:
        _plant(tree.failure_file, kind, victim)
    assert tree.failure_reason() is None  # neither followed nor blocking on the FIFO


def test_the_failure_reason_is_cut_at_the_limit_and_decoded_leniently(tmp_path: Path) -> None:
    tree = MlTree.create(tmp_path / "ml")
    tree.failure_file.write_bytes("é".encode() * 3000 + b"\xff")
    reason = tree.failure_reason(1024)
    assert reason == "é" * 1024


# --- several hosts -----------------------------------------------------------------------------------


def test_a_sharded_channel_deals_its_files_round_robin_in_key_order(tmp_path: Path) -> None:
    data = _data(tmp_path, "e.csv", "a.csv", "c.csv", "b.csv", "d.csv")
    (channel,) = channels_from_request(_request(data, "File"))
    shares = [channel.for_host(index, 2).files() for index in range(2)]
    assert [[p.name for p in share] for share in shares] == [["a.csv", "c.csv", "e.csv"], ["b.csv", "d.csv"]]
    assert channel.for_host(0, 1).files() == data_files(data)  # one host gets everything


def test_more_hosts_than_files_leaves_some_hosts_an_empty_share(tmp_path: Path) -> None:
    from sm_byo.local.hosts import empty_shards, prepare_hosts

    data = _data(tmp_path, "only.csv")
    channels = channels_from_request(_request(data, "File"))
    hosts = prepare_hosts(tmp_path / "scratch", 3, channels, {}, "ml.m5.large")
    assert [[p.name for p in host.channels[0].files()] for host in hosts] == [["only.csv"], [], []]
    assert empty_shards(hosts) == ["algo-2: training", "algo-3: training"]


def test_a_fully_replicated_channel_gives_every_host_everything(tmp_path: Path) -> None:
    data = _data(tmp_path, "a.csv", "b.csv")
    request = _request(data, "File")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] = "FullyReplicated"  # type: ignore[index]
    (channel,) = channels_from_request(request)
    assert channel.for_host(1, 2) is channel and channel.for_host(1, 2).files() == data_files(data)


def test_each_host_has_its_own_tree_config_and_only_its_share_mounted(tmp_path: Path) -> None:
    from sm_byo.local.hosts import prepare_hosts

    data = _data(tmp_path, "a.csv", "b.csv", "c.csv")
    (data / "sub").mkdir()
    (data / "sub" / "d.csv").write_text("d\n")
    hosts = prepare_hosts(tmp_path / "scratch", 2, channels_from_request(_request(data, "File")), {}, "ml.c5.xlarge")
    assert [host.name for host in hosts] == ["algo-1", "algo-2"]
    assert hosts[0].tree.root != hosts[1].tree.root
    for host in hosts:
        config = json.loads((host.tree.config_dir / "resourceconfig.json").read_text())
        assert config["current_host"] == host.name and config["hosts"] == ["algo-1", "algo-2"]
        assert config["instance_groups"][0]["hosts"] == ["algo-1", "algo-2"]
    mounts = hosts[1].tree.volumes(hosts[1].channels)
    assert mounts[1:] == [
        Bind(str(data / "b.csv"), "/opt/ml/input/data/training/b.csv", read_only=True),
        Bind(str(data / "sub" / "d.csv"), "/opt/ml/input/data/training/sub/d.csv", read_only=True),
    ]
    # The mount points exist in the host's tree, made by the host user (not by Docker, as root).
    assert (hosts[1].tree.data_dir / "training" / "sub" / "d.csv").is_file()


# --- checkpoints -----------------------------------------------------------------------------------


def test_a_checkpoint_directory_is_mounted_read_write_at_the_local_path_and_made_if_missing(tmp_path: Path) -> None:
    directory = tmp_path / "runs" / "checkpoints"
    request = {"CheckpointConfig": {"S3Uri": directory.as_uri(), "LocalPath": "/opt/ml/checkpoints"}}
    assert checkpoint_mounts(request) == [Bind(str(directory), "/opt/ml/checkpoints", read_only=False)]
    assert directory.is_dir()


def test_an_existing_checkpoint_directory_is_kept_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "step-3.ckpt").write_text("the user's")
    request = {"CheckpointConfig": {"S3Uri": tmp_path.as_uri()}}  # no LocalPath: SageMaker's default
    assert checkpoint_mounts(request) == [Bind(str(tmp_path), "/opt/ml/checkpoints")]
    assert [path.name for path in tmp_path.iterdir()] == ["step-3.ckpt"]
    assert (tmp_path / "step-3.ckpt").read_text() == "the user's"


def test_no_checkpoint_config_mounts_nothing() -> None:
    assert checkpoint_mounts({}) == []


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"S3Uri": "s3://bucket/ckpt"}, "local directory (file://"),
        ({"S3Uri": "FILE", "LocalPath": "/opt/ml/checkpoints"}, "cannot be a checkpoint directory"),
        ({"S3Uri": "DIR", "LocalPath": "checkpoints"}, "absolute path"),
    ],
)
def test_a_checkpoint_location_a_local_job_cannot_use_is_a_usage_error(
    tmp_path: Path, config: dict[str, str], words: str
) -> None:
    (tmp_path / "file").write_text("not a directory")
    uris = {"FILE": (tmp_path / "file").as_uri(), "DIR": (tmp_path / "dir").as_uri()}
    request = {"CheckpointConfig": {**config, "S3Uri": uris.get(config["S3Uri"], config["S3Uri"])}}
    with pytest.raises(UsageError) as refused:
        checkpoint_mounts(request)
    assert words in refused.value.message
    assert (tmp_path / "file").read_text() == "not a directory"


def test_a_local_source_must_be_a_local_path_that_exists(tmp_path: Path) -> None:
    from sm_byo.local.layout import local_source

    def source(raw: str) -> Path:
        return local_source(f"--input {raw}", raw, "transform", s3_hint="drop --local", missing_hint="pass a file")

    with pytest.raises(UsageError, match=r"^--input s3://b/k: a local transform reads and writes local paths, not S3"):
        source("s3://b/k")
    with pytest.raises(UsageError, match=r"--input .*nothing: no such file or directory") as missing:
        source(str(tmp_path / "nothing"))
    assert missing.value.hint == "pass a file"
    assert source(str(tmp_path)) == tmp_path


def test_a_sharded_share_never_mounts_a_link_that_leaves_the_channel(tmp_path: Path) -> None:
    from sm_byo.local.hosts import prepare_hosts

    secret = tmp_path / "secret.txt"
    secret.write_text("not data")
    data = _data(tmp_path, "a.csv", "c.csv")
    (data / "b.csv").symlink_to(secret)  # dealt to algo-2 (sorted: a, b, c)
    hosts = prepare_hosts(tmp_path / "scratch", 2, channels_from_request(_request(data, "File")), {}, "ml.m5.large")
    mounted = [bind.source for host in hosts for bind in host.tree.volumes(host.channels)[1:]]
    assert mounted == [str(data / "a.csv"), str(data / "c.csv")]
    assert str(secret) not in mounted and str(data / "b.csv") not in mounted
