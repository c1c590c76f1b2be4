"""The /opt/ml tree SageMaker prepares for a training container, built in a host directory.

Config files follow the contract (every hyperparameter a string; one inputdataconfig entry per
channel; resourceconfig for a single host ``algo-1``). File-mode channels are bind-mounted read-only
at ``/opt/ml/input/data/<channel>``; Pipe-mode channels are FIFOs ``<channel>_<epoch>`` in the tree,
fed from host threads, one epoch after another, as SageMaker does.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import ChannelSpec, LoadedManifest
from sm_byo.runtime.paths import MlPaths

CONTAINER_ROOT = "/opt/ml"
CURRENT_HOST = "algo-1"
PIPE_CHUNK = 1024 * 1024
PIPE_OPEN_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class ChannelInput:
    """One channel of a local training job: where its data is and how it is delivered."""

    name: str
    path: Path
    content_type: str
    input_mode: str
    compression: str

    def files(self) -> list[Path]:
        """The channel's data files in the order the runtime reads them (sorted, hidden ones skipped)."""
        if self.path.is_file():
            return [self.path]
        return sorted(
            p
            for p in self.path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(self.path).parts)
        )

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
        return {
            "ContentType": self.content_type,
            "TrainingInputMode": self.input_mode,
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
            "CompressionType": self.compression,
        }


def _channel_mode(spec: ChannelSpec, override: str | None) -> str:
    mode = override or spec.input_modes[0]
    if mode not in spec.input_modes:
        raise UsageError(
            f"--input-mode {mode}: channel {spec.name!r} supports only {', '.join(spec.input_modes)}",
            hint=f"Add {mode} to training.channels[].input_modes of {spec.name!r} in smbyo.yaml, or drop --input-mode.",
        )
    return "File" if mode == "FastFile" else mode


def _compression(spec: ChannelSpec, path: Path) -> str:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    gzipped = bool(files) and all(p.name.endswith(".gz") for p in files)
    return "Gzip" if gzipped and "Gzip" in spec.compression_types else "None"


def resolve_channels(loaded: LoadedManifest, data: Mapping[str, str], input_mode: str | None) -> list[ChannelInput]:
    """``--data CHANNEL=PATH`` pairs checked against the manifest's channels (names, required, paths)."""
    training = loaded.manifest.training
    specs = {spec.name: spec for spec in (training.channels if training else [])}
    unknown = sorted(set(data) - set(specs))
    if unknown:
        raise UsageError(
            f"--data {unknown[0]}=...: the manifest has no channel {unknown[0]!r} "
            f"(channels: {', '.join(specs) or 'none'})",
            hint="Use a channel name from training.channels in smbyo.yaml.",
        )
    missing = [name for name, spec in specs.items() if spec.required and name not in data]
    if missing:
        example = " ".join(f"--data {name}=PATH" for name in missing)
        raise UsageError(
            f"required channel(s) without data: {', '.join(missing)}",
            hint=f"Give each required channel a local file or directory, e.g. `smbyo train --local {example}`.",
        )
    channels = []
    for name, raw in data.items():
        if raw.startswith("s3://"):
            raise UsageError(
                f"--data {name}={raw}: a local training job reads local files, not S3",
                hint="Download the data first (`aws s3 sync URI DIR`) and pass the directory, or drop --local "
                "to train on SageMaker.",
            )
        path = Path(raw).expanduser()
        if not path.exists():
            raise UsageError(
                f"--data {name}={raw}: no such file or directory",
                hint="Point the channel at an existing local file or directory of training data.",
            )
        spec = specs[name]
        channels.append(
            ChannelInput(
                name=name,
                path=path.resolve(),
                content_type=spec.content_types[0],
                input_mode=_channel_mode(spec, input_mode),
                compression=_compression(spec, path),
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

    def fifo(self, epoch: int) -> Path:
        path = self.data_dir / f"{self.channel.name}_{epoch}"
        if not path.exists():
            os.mkfifo(path, 0o666)
        return path

    def start(self) -> PipeFeeder:
        self.fifo(0)
        self._thread = threading.Thread(target=self._run, name=f"pipe-{self.channel.name}", daemon=True)
        self._thread.start()
        return self

    def _open_writer(self, path: Path) -> int | None:
        """Wait for the container to open the FIFO for reading (or for the job to end)."""
        while not self.stop_event.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                time.sleep(PIPE_OPEN_POLL_SECONDS)
                continue
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
            return fd
        return None

    def _run(self) -> None:
        epoch = 0
        try:
            while not self.stop_event.is_set():
                fd = self._open_writer(self.fifo(epoch))
                if fd is None:
                    return
                with os.fdopen(fd, "wb", buffering=0) as pipe:
                    for path in self.channel.files():
                        with path.open("rb") as source:
                            while chunk := source.read(PIPE_CHUNK):
                                pipe.write(chunk)
                    self.fifo(epoch + 1)  # exists before the reader sees EOF and asks for the next epoch
                self.epochs_fed = epoch = epoch + 1
        except BrokenPipeError:
            return  # the reader stopped early: its choice, as on SageMaker
        except OSError as exc:
            self.error = f"feeding Pipe channel {self.channel.name!r} failed: {exc}"

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread:
            self._thread.join(timeout=5)


@dataclass(frozen=True)
class MlTree(MlPaths):
    """A host directory laid out as /opt/ml (the runtime's own layout), mounted into the training container."""

    @classmethod
    def create(cls, root: Path) -> MlTree:
        for sub in ("input/config", "input/data", "model", "output/data", "checkpoints", "code"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        return cls(root)

    def write_config(self, hyperparameters: Mapping[str, str], channels: list[ChannelInput]) -> None:
        config = self.config_dir
        _write_json(config / "hyperparameters.json", {name: str(value) for name, value in hyperparameters.items()})
        _write_json(config / "inputdataconfig.json", {c.name: c.data_config() for c in channels})
        _write_json(
            config / "resourceconfig.json",
            {"current_host": CURRENT_HOST, "hosts": [CURRENT_HOST], "network_interface_name": "eth0"},
        )

    def volumes(self, channels: list[ChannelInput]) -> dict[str, dict[str, str]]:
        """The tree at /opt/ml, File-mode channels read-only inside it (no copy of the data)."""
        volumes = {str(self.root): {"bind": CONTAINER_ROOT, "mode": "rw"}}
        for channel in channels:
            if channel.input_mode != "File":
                continue
            target = self.data_dir / channel.name
            target.mkdir(exist_ok=True)
            inside = f"{CONTAINER_ROOT}/input/data/{channel.name}"
            if channel.path.is_file():
                inside = f"{inside}/{channel.path.name}"
            volumes[str(channel.path)] = {"bind": inside, "mode": "ro"}
        return volumes

    def start_pipes(self, channels: list[ChannelInput]) -> list[PipeFeeder]:
        return [PipeFeeder(channel, self.data_dir).start() for channel in channels if channel.input_mode == "Pipe"]

    def failure_reason(self, limit: int = 1024) -> str | None:
        if not self.failure_file.is_file():
            return None
        return self.failure_file.read_text(encoding="utf-8", errors="replace")[:limit]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
