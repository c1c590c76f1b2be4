"""The ``train`` entrypoint: run the user's ``train(env)`` under the SageMaker training contract.

Reads /opt/ml/input/config/*.json, casts hyperparameters with the manifest's types, gives the user
an :class:`TrainingEnv` that reads File- and Pipe-mode channels alike, and on failure writes
/opt/ml/output/failure (the first 1024 characters become the job's FailureReason) and exits 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import hyperparameters
from .paths import MlPaths, code_dir, load_spec
from .usercode import load_module

FAILURE_REASON_LIMIT = 1024


@dataclass
class TrainingEnv:
    """What user training code receives: typed hyperparameters, channel readers and output dirs."""

    hyperparameters: dict[str, Any]
    input_data_config: dict[str, dict[str, Any]]
    resource_config: dict[str, Any]
    paths: MlPaths
    job_name: str = ""
    _epochs: dict[str, int] = field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        return self.paths.model_dir

    @property
    def output_data_dir(self) -> Path:
        return self.paths.output_data_dir

    @property
    def checkpoint_dir(self) -> Path:
        return self.paths.checkpoint_dir

    # Hosts of a multi-instance job: SageMaker names them algo-1..algo-N, lists them in resourceconfig.json
    # (``current_host``, ``hosts``, ``network_interface_name``), and they resolve each other by those names
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html
    # #your-algorithms-training-algo-running-container-dist-training). Without the file: one host, algo-1.

    @property
    def current_host(self) -> str:
        return str(self.resource_config.get("current_host", "algo-1"))

    @property
    def hosts(self) -> list[str]:
        listed = self.resource_config.get("hosts") or [self.current_host]
        if not isinstance(listed, list):
            raise ValueError(f"resourceconfig.json: hosts must be a list of host names, not {listed!r}")
        return [str(host) for host in listed]

    @property
    def master_host(self) -> str:
        """The host that coordinates a distributed job (runs the tracker, saves the model): the first of
        ``hosts`` as SageMaker orders them, algo-1. Every host computes the same name without talking."""
        return self.hosts[0]

    @property
    def host_rank(self) -> int:
        """This host's index in ``hosts`` (0 on the master): a stable id to give a distributed engine."""
        hosts = self.hosts
        if self.current_host not in hosts:
            raise ValueError(
                f"resourceconfig.json: current_host {self.current_host!r} is not in hosts {hosts!r}; "
                "SageMaker lists every host of the job, this one included"
            )
        return hosts.index(self.current_host)

    @property
    def num_hosts(self) -> int:
        return len(self.hosts)

    @property
    def is_master(self) -> bool:
        """Whether this host is ``master_host``: the one host that should write the model, so that the
        hosts' /opt/ml/model directories, merged into one model.tar.gz, do not clash."""
        return self.current_host == self.master_host

    @property
    def network_interface_name(self) -> str:
        """The interface the hosts reach each other on (``eth0`` unless SageMaker says otherwise)."""
        return str(self.resource_config.get("network_interface_name") or "eth0")

    @property
    def channels(self) -> list[str]:
        return sorted(self.input_data_config)

    def channel_dir(self, name: str) -> Path:
        """The File-mode directory of a channel."""
        return self.paths.data_dir / name

    def input_mode(self, name: str) -> str:
        return str(self.input_data_config.get(name, {}).get("TrainingInputMode", "File"))

    def open_channel(self, name: str) -> Iterator[IO[bytes]]:
        """Binary streams of a channel's data, whatever its input mode.

        File mode: one stream per file under the channel directory, sorted by path, exactly as
        stored (a ``.gz`` file stays compressed: SageMaker applies CompressionType in Pipe mode only).
        Pipe mode: the FIFO of the next epoch (``<channel>_<epoch>``); call again for the next epoch.
        SageMaker has already decompressed a Gzip Pipe channel by then.
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Channel.html
        """
        if name not in self.input_data_config:
            raise KeyError(f"channel {name!r} was not provided (channels: {', '.join(self.channels) or 'none'})")
        for raw in self._raw_streams(name):
            with raw:
                yield raw

    def _raw_streams(self, name: str) -> Iterator[IO[bytes]]:
        if self.input_mode(name) == "Pipe":
            epoch = self._epochs.get(name, 0)
            self._epochs[name] = epoch + 1
            yield open(self.paths.data_dir / f"{name}_{epoch}", "rb")  # noqa: SIM115 - closed by caller
            return
        root = self.channel_dir(name)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            yield path.open("rb")


def _read_json(path: Path, default: Any) -> Any:
    if not path.exists():
        return default
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def build_env(paths: MlPaths, spec: dict[str, Any]) -> TrainingEnv:
    given = _read_json(paths.config_dir / "hyperparameters.json", {})
    _, typed = hyperparameters.resolve(spec.get("hyperparameters", []), given)
    return TrainingEnv(
        hyperparameters=typed,
        input_data_config=_read_json(paths.config_dir / "inputdataconfig.json", {}),
        resource_config=_read_json(paths.config_dir / "resourceconfig.json", {}),
        paths=paths,
        job_name=os.environ.get("TRAINING_JOB_NAME", ""),
    )


def failure_reason(exc: BaseException) -> str:
    """The message SageMaker shows as FailureReason: the error first, then the traceback."""
    headline = f"{type(exc).__name__}: {exc}"
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{headline}\n\n{trace}"


def _write_failure(paths: MlPaths, reason: str) -> None:
    paths.failure_file.parent.mkdir(parents=True, exist_ok=True)
    paths.failure_file.write_text(reason, encoding="utf-8")


def _hand_back_outputs(paths: MlPaths) -> None:
    """Local runs only: give files written as root back to the host user (SMBYO_HOST_UID/GID)."""
    uid, gid = os.environ.get("SMBYO_HOST_UID"), os.environ.get("SMBYO_HOST_GID")
    if uid is None or gid is None or os.geteuid() != 0:
        return
    for top in (paths.model_dir, paths.output_dir, paths.checkpoint_dir):
        for path in [top, *top.rglob("*")] if top.exists() else []:
            with contextlib.suppress(OSError):
                os.lchown(path, int(uid), int(gid))


class Stopped(BaseException):
    """SIGTERM arrived: SageMaker is stopping the job (StopTrainingJob, or MaxRuntimeInSeconds reached)."""


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    raise Stopped(f"the job was stopped (signal {signum})")


def run(paths: MlPaths) -> int:
    """Train once; returns the process exit code.

    SageMaker stops a training job by sending the container SIGTERM and waiting 120 s before it kills it
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StopTrainingJob.html). The runtime is
    PID 1 in the container, where SIGTERM does nothing unless handled: it is turned into an exception in
    ``train(env)``, so ``finally`` blocks run, the reason is written, and the container exits 143 at once.
    """
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if main_thread else None
    try:
        return _train(paths)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _train(paths: MlPaths) -> int:
    for directory in (paths.model_dir, paths.output_data_dir):
        directory.mkdir(parents=True, exist_ok=True)
    try:
        spec = load_spec()
        env = build_env(paths, spec)
        module = load_module(code_dir() / spec["code"]["train"], "smbyo_user_train")
        train = getattr(module, "train", None)
        if not callable(train):
            raise TypeError(f"{spec['code']['train']} must define a function train(env)")
        train(env)
    except Stopped as exc:
        print(str(exc), file=sys.stderr, flush=True)
        _write_failure(paths, str(exc))
        return 128 + signal.SIGTERM
    except BaseException as exc:
        if isinstance(exc, SystemExit) and exc.code in (0, None):
            return 0
        reason = failure_reason(exc)
        print(reason, file=sys.stderr, flush=True)
        _write_failure(paths, reason)
        return 1
    finally:
        _hand_back_outputs(paths)
    return 0


def main() -> None:
    sys.exit(run(MlPaths.from_env()))


if __name__ == "__main__":
    main()
