"""The /opt/ml tree SageMaker prepares for a training container, built in a host directory.

Config files follow the contract (every hyperparameter a string; one inputdataconfig entry per
channel; resourceconfig naming this host among the job's ``algo-1`` ... ``algo-N``). File-mode channels
are bind-mounted read-only at ``/opt/ml/input/data/<channel>`` (one mount per channel, even when two
name the same data; a ``ShardedByS3Key`` channel of a multi-host job mounts only this host's files,
one by one); Pipe-mode channels are FIFOs ``<channel>_<epoch>`` in the tree, fed from host threads, one
epoch after another, as SageMaker does.

The container owns the tree while it runs (root, read-write), so the host does not trust it
(:mod:`sm_byo.local.untrusted`): each FIFO is made under a temporary name and renamed into place
(a rename replaces a link planted at the name, never writes through it), and is opened, through the
directory the host opened before the container started, only while it is still that FIFO (lstat
before opening, fstat after, no link followed). The failure file is read the same way, as at most
a few KB of a regular file.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

from sm_byo.docker import Bind
from sm_byo.errors import UsageError
from sm_byo.local.untrusted import UnexpectedFile, open_below, open_directory, read_regular_file
from sm_byo.rules import is_hidden
from sm_byo.runtime.paths import MlPaths

CONTAINER_ROOT = "/opt/ml"
CURRENT_HOST = "algo-1"
HOST_PREFIX = "algo-"
SHARDED = "ShardedByS3Key"
PIPE_CHUNK = 1024 * 1024
PIPE_OPEN_POLL_SECONDS = 0.02
FILE_URI = "file://"


@dataclass(frozen=True)
class ChannelInput:
    """One channel of a local training job, read from the request's InputDataConfig entry."""

    name: str
    path: Path
    content_type: str
    input_mode: str
    compression: str
    distribution: str = "FullyReplicated"
    # This host's files of a sharded channel (None: every file under the path).
    shard: tuple[Path, ...] | None = None

    def files(self) -> list[Path]:
        """The channel's data files this host gets, sorted: every file under the path, as under an S3
        prefix, or this host's share of them."""
        return list(self.shard) if self.shard is not None else data_files(self.path)

    def for_host(self, index: int, count: int) -> ChannelInput:
        """This channel as host ``index`` (0-based) of ``count`` receives it.

        ``FullyReplicated``: every host gets every object. ``ShardedByS3Key``: "each machine receives
        approximately 1/n of the number of Amazon S3 objects"
        (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html). SageMaker does
        not document which object goes where; smbyo deals the objects, sorted by key, round-robin
        (object i to host i mod n), so every host's share differs from the others' by at most one object
        and no object goes to two hosts. A single-host job gets everything either way.
        """
        if self.distribution != SHARDED or count == 1:
            return self
        return replace(self, shard=tuple(data_files(self.path)[index::count]))

    def links_leaving(self) -> list[Path]:
        """Symbolic links under a File-mode directory that point outside it: they dangle in the container."""
        if not self.path.is_dir():
            return []
        return [
            link
            for link in sorted(self.path.rglob("*"))
            if link.is_symlink() and not link.resolve().is_relative_to(self.path)
        ]

    def data_config(self) -> dict[str, str]:
        """This channel's entry of inputdataconfig.json, as SageMaker writes it from the request."""
        return {
            "ContentType": self.content_type,
            "TrainingInputMode": self.input_mode,
            "S3DistributionType": self.distribution,
            "RecordWrapperType": "None",
            "CompressionType": self.compression,
        }


def data_files(path: Path) -> list[Path]:
    """Every file under ``path`` (or ``path`` itself), sorted by path: what an S3 prefix would hold.

    Hidden files are data too: SageMaker hands over every object under the prefix and smbyo uploads
    them all, so local runs see them as well (:func:`hidden_files` lets commands warn about them).
    """
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file())


def hidden_files(path: Path) -> list[Path]:
    """Files under ``path`` with a hidden part (``.DS_Store``, ``.ipynb_checkpoints/...``)."""
    if not path.is_dir():
        return []
    return [p for p in data_files(path) if is_hidden(p.relative_to(path))]


def local_path(uri: str, field: str, *, hint: str | None = None) -> Path:
    """The local path of a local plan's ``file://`` URI (a request names local data this way)."""
    if not uri.startswith(FILE_URI):
        raise UsageError(
            f"{field} {uri!r}: a local job reads local data, named as a file:// URI",
            hint="Give a local file or directory (smbyo names it file://...), or drop --local to use SageMaker.",
        )
    path = Path(unquote(uri.removeprefix(FILE_URI)))
    if not path.is_absolute() or not path.exists():
        raise UsageError(
            f"{field} {uri!r}: no such file or directory",
            hint=hint or "Point the channel at an existing local file or directory of training data.",
        )
    return path


def refuse_s3(given: str, raw: str, job: str, hint: str) -> None:
    """A local ``job`` works on local paths: an ``s3://`` one (``given``: the flag as typed) is a usage error."""
    if raw.startswith("s3://"):
        raise UsageError(f"{given}: a local {job} reads and writes local paths, not S3", hint=hint)


def local_source(given: str, raw: str, job: str, *, s3_hint: str, missing_hint: str) -> Path:
    """The local file or directory a local ``job`` reads, as given on the command line (``~`` expanded):
    refused when it is an S3 URI or does not exist, naming ``given`` (the flag as typed)."""
    refuse_s3(given, raw, job, s3_hint)
    path = Path(raw).expanduser()
    if not path.exists():
        raise UsageError(f"{given}: no such file or directory", hint=missing_hint)
    return path


def output_dir(uri: str, field: str, flag: str) -> Path:
    """The local directory of a local plan's ``file://`` output URI (it need not exist yet)."""
    if not uri.startswith(FILE_URI):
        raise UsageError(
            f"{field} {uri!r}: a local job writes to a local directory (file://...)", hint=f"Pass {flag} DIR."
        )
    return Path(unquote(uri.removeprefix(FILE_URI)))


def checkpoint_mounts(request: Mapping[str, Any]) -> list[Bind]:
    """The request's CheckpointConfig as a read-write bind mount: the local directory its ``file://`` S3Uri
    names, at its LocalPath (default /opt/ml/checkpoints), so a re-run with the same directory finds what the
    last one wrote, as SageMaker copies the checkpoints under S3Uri back to LocalPath when a job starts
    (https://docs.aws.amazon.com/sagemaker/latest/dg/model-checkpoints.html). The directory is the user's:
    made if missing, never emptied or removed.
    """
    config = request.get("CheckpointConfig")
    if not config:
        return []
    directory = output_dir(str(config.get("S3Uri", "")), "CheckpointConfig.S3Uri", "--checkpoint-uri")
    inside = str(config.get("LocalPath") or f"{CONTAINER_ROOT}/checkpoints")
    if not inside.startswith("/"):
        raise UsageError(
            f"CheckpointConfig.LocalPath {inside!r}: a directory in the container is an absolute path",
            hint="Pass --checkpoint-local-path /opt/ml/checkpoints (the default), or another absolute path.",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file at its name, or on the way to it; no permission
        raise UsageError(
            f"--checkpoint-uri {directory}: cannot be a checkpoint directory: {exc.strerror or exc}",
            hint="Pass a directory you can write (it is created if missing).",
        ) from None
    return [Bind(str(directory), inside)]


def file_uri(path: Path) -> str:
    """``file://`` URI of an absolute local path (how a local plan names local data)."""
    return path.resolve().as_uri()


def channels_from_request(request: Mapping[str, Any]) -> list[ChannelInput]:
    """The channels of a CreateTrainingJob request whose data sources are file:// URIs.

    Input mode: the channel's own, else the job's TrainingInputMode; FastFile runs as File (both
    present the data as files under /opt/ml/input/data/<channel>).
    """
    default_mode = str(request.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File"))
    channels = []
    for index, entry in enumerate(request.get("InputDataConfig", [])):
        source = entry["DataSource"]["S3DataSource"]
        mode = str(entry.get("InputMode") or default_mode)
        channels.append(
            ChannelInput(
                name=str(entry["ChannelName"]),
                path=local_path(str(source["S3Uri"]), f"InputDataConfig[{index}].DataSource.S3DataSource.S3Uri"),
                content_type=str(entry.get("ContentType", "")),
                input_mode="File" if mode == "FastFile" else mode,
                compression=str(entry.get("CompressionType", "None")),
                distribution=str(source.get("S3DataDistributionType", "FullyReplicated")),
            )
        )
    return channels


@dataclass
class PipeFeeder:
    """Feeds one Pipe-mode channel: FIFO ``<channel>_0`` gets the channel's files concatenated, then
    ``<channel>_1`` for the next epoch, and so on until the job ends."""

    channel: ChannelInput
    data_dir: Path
    stop_event: threading.Event = field(default_factory=threading.Event)
    epochs_fed: int = 0
    error: str | None = None
    _thread: threading.Thread | None = None
    _directory: int | None = None  # data_dir, opened before the container could replace it
    _made: dict[int, tuple[int, int]] = field(default_factory=dict)  # epoch -> (st_dev, st_ino) of its FIFO

    def _name(self, epoch: int) -> str:
        return f"{self.channel.name}_{epoch}"

    def fifo(self, epoch: int) -> Path:
        """Make the epoch's FIFO (once): under a temporary name, then renamed over whatever is at its name."""
        if epoch not in self._made:
            assert self._directory is not None, "start() opens the data directory first"
            temporary = f".{self._name(epoch)}.{secrets.token_hex(4)}"
            os.mkfifo(temporary, 0o666, dir_fd=self._directory)
            made = os.stat(temporary, dir_fd=self._directory, follow_symlinks=False)
            os.rename(temporary, self._name(epoch), src_dir_fd=self._directory, dst_dir_fd=self._directory)
            self._made[epoch] = (made.st_dev, made.st_ino)
        return self.data_dir / self._name(epoch)

    def start(self) -> PipeFeeder:
        self._directory = open_directory(self.data_dir)
        self.fifo(0)
        self._thread = threading.Thread(target=self._run, name=f"pipe-{self.channel.name}", daemon=True)
        self._thread.start()
        return self

    def _is_mine(self, epoch: int) -> Callable[[os.stat_result], bool]:
        def check(status: os.stat_result) -> bool:
            return stat.S_ISFIFO(status.st_mode) and (status.st_dev, status.st_ino) == self._made[epoch]

        return check

    def _open_writer(self, epoch: int) -> int | None:
        """Wait for the container to open the epoch's FIFO for reading (or for the job to end); refuse
        anything but the FIFO this feeder made (a link, a file or a device planted in its place)."""
        assert self._directory is not None
        while not self.stop_event.is_set():
            try:
                fd = open_below(self._directory, self._name(epoch), os.O_WRONLY | os.O_NONBLOCK, self._is_mine(epoch))
            except UnexpectedFile as exc:
                raise UnexpectedFile(
                    f"/opt/ml/input/data/{self._name(epoch)}", f"{exc.found}, not the FIFO smbyo made"
                ) from None
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOENT):
                    found = "a symbolic link" if exc.errno == errno.ELOOP else "missing"
                    raise UnexpectedFile(
                        f"/opt/ml/input/data/{self._name(epoch)}", f"{found}, not the FIFO smbyo made"
                    ) from None
                if exc.errno != errno.ENXIO:
                    raise
                time.sleep(PIPE_OPEN_POLL_SECONDS)
                continue
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
            return fd
        return None

    def _open_source(self, path: Path) -> IO[bytes]:
        """A Gzip Pipe channel is decompressed as it streams, as SageMaker does."""
        if self.channel.compression == "Gzip":
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return path.open("rb")

    def _run(self) -> None:
        epoch = 0
        try:
            while not self.stop_event.is_set():
                self.fifo(epoch)
                fd = self._open_writer(epoch)
                if fd is None:
                    return
                with os.fdopen(fd, "wb", buffering=0) as pipe:
                    for path in self.channel.files():
                        with self._open_source(path) as source:
                            while chunk := source.read(PIPE_CHUNK):
                                pipe.write(chunk)
                    self.fifo(epoch + 1)  # exists before the reader sees EOF and asks for the next epoch
                self.epochs_fed = epoch = epoch + 1
        except BrokenPipeError:
            return  # the reader stopped early: its choice, as on SageMaker
        except UnexpectedFile as exc:
            self.error = f"feeding Pipe channel {self.channel.name!r} stopped: {exc} (smbyo feeds only its own FIFOs)"
        except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
            self.error = f"feeding Pipe channel {self.channel.name!r} failed: {exc}"

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._directory is not None and not (self._thread and self._thread.is_alive()):
            os.close(self._directory)
            self._directory = None


@dataclass(frozen=True)
class MlTree(MlPaths):
    """A host directory laid out as /opt/ml (the runtime's own layout), mounted into the training container."""

    @classmethod
    def create(cls, root: Path) -> MlTree:
        for sub in ("input/config", "input/data", "model", "output/data", "checkpoints", "code"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        return cls(root)

    def write_config(
        self,
        hyperparameters: Mapping[str, str],
        channels: list[ChannelInput],
        instance_type: str,
        host: str = CURRENT_HOST,
        hosts: tuple[str, ...] = (CURRENT_HOST,),
    ) -> None:
        """The three files SageMaker writes under /opt/ml/input/config, from the request's values, for
        ``host`` among the job's ``hosts``.

        https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html
        (resourceconfig.json: "Distributed Training Configuration" on that page).
        """
        config = self.config_dir
        _write_json(config / "hyperparameters.json", {name: str(value) for name, value in hyperparameters.items()})
        _write_json(config / "inputdataconfig.json", {c.name: c.data_config() for c in channels})
        _write_json(config / "resourceconfig.json", resource_config(instance_type, host, hosts))

    def volumes(self, channels: list[ChannelInput]) -> list[Bind]:
        """The tree at /opt/ml, each File-mode channel read-only inside it (no copy of the data); a
        mount per channel, so two channels of the same data each get it. A host's share of a sharded
        channel is mounted file by file, at each file's path under the channel."""
        mounts = [Bind(str(self.root), CONTAINER_ROOT)]
        for channel in channels:
            if channel.input_mode != "File":
                continue
            target = self.data_dir / channel.name
            target.mkdir(exist_ok=True)
            inside = f"{CONTAINER_ROOT}/input/data/{channel.name}"
            if channel.shard is not None:
                mounts.extend(self._shard_mounts(channel, target, inside))
                continue
            if channel.path.is_file():
                inside = f"{inside}/{channel.path.name}"
            mounts.append(Bind(str(channel.path), inside, read_only=True))
        return mounts

    @staticmethod
    def _shard_mounts(channel: ChannelInput, target: Path, inside: str) -> list[Bind]:
        """One read-only mount per file of the host's share. The mount points are made here, by the host
        user, so Docker does not create them as root in a tree the host must be able to remove. A link that
        leaves the channel's directory is not mounted: mounting it would hand the container the file it
        points to, where the whole-directory mount of an unsharded channel shows a link it cannot follow
        (both are warned about: local/training.py)."""
        mounts = []
        leaving = set(channel.links_leaving())
        for path in channel.files():
            if path in leaving:
                continue
            relative = path.name if channel.path.is_file() else path.relative_to(channel.path).as_posix()
            point = target / relative
            point.parent.mkdir(parents=True, exist_ok=True)
            point.touch(exist_ok=True)
            mounts.append(Bind(str(path), f"{inside}/{relative}", read_only=True))
        return mounts

    def start_pipes(self, channels: list[ChannelInput]) -> list[PipeFeeder]:
        return [PipeFeeder(channel, self.data_dir).start() for channel in channels if channel.input_mode == "Pipe"]

    def failure_reason(self, limit: int = 1024) -> str | None:
        """The first ``limit`` characters of output/failure, if the container left a regular file there
        (a link, FIFO or device in its place, or on the way to it, is not opened)."""
        data = read_regular_file(self.root, "output/failure", limit * 4)  # UTF-8: at most 4 bytes a character
        return None if data is None else data.decode("utf-8", errors="replace")[:limit]


def host_name(number: int) -> str:
    """Instance ``number`` (from 1) of a job, as SageMaker names a training job's hosts: ``algo-<number>``."""
    return f"{HOST_PREFIX}{number}"


def host_names(count: int) -> tuple[str, ...]:
    """The hosts of a job with ``count`` instances: algo-1 ... algo-N."""
    return tuple(host_name(number) for number in range(1, count + 1))


def resource_config(instance_type: str, host: str, hosts: tuple[str, ...]) -> dict[str, Any]:
    """resourceconfig.json for ``host`` of a job run on ``hosts`` of one instance type (one group,
    ``homogeneousCluster``, as SageMaker names a job without heterogeneous instance groups)."""
    return {
        "current_host": host,
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": list(hosts),
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": list(hosts)}
        ],
        "network_interface_name": "eth0",
    }


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
