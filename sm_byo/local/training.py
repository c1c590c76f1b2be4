"""``smbyo train --local``: one SageMaker training job, run by the local Docker Engine.

Order matters for the user's time: hyperparameters and channels are checked before Docker is even
contacted (exit 2 with what to fix), then the /opt/ml tree is prepared, ``IMAGE train`` runs with logs
streamed live and metrics scanned from them, and model/ and output/data/ are packed like SageMaker's
model.tar.gz and output.tar.gz. A failed job raises :class:`JobFailed` with the container's
/opt/ml/output/failure text as the failure reason.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sm_byo.build import default_tag
from sm_byo.docker import DockerAdapter, connect
from sm_byo.errors import JobFailed, UsageError
from sm_byo.hyperparameters import validate_hyperparameters
from sm_byo.local.archive import pack_directory
from sm_byo.local.containers import LogPump, container_name, job_name, running
from sm_byo.local.layout import ChannelInput, MlTree, PipeFeeder, resolve_channels
from sm_byo.manifest import LoadedManifest
from sm_byo.metrics import MetricScanner
from sm_byo.reporting import Reporter

FAILURE_REASON_LIMIT = 1024


@dataclass
class LocalTrainingResult:
    job_name: str
    status: str
    image: str
    model_path: Path
    output_path: Path | None
    hyperparameters: dict[str, str]
    metrics: dict[str, float]
    metric_series: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_name": self.job_name,
            "status": self.status,
            "image": self.image,
            "model": str(self.model_path),
            "output": str(self.output_path) if self.output_path else None,
            "hyperparameters": self.hyperparameters,
            "metrics": self.metrics,
            "metric_series": self.metric_series,
            "seconds": round(self.seconds, 2),
        }


def _job_environment(name: str) -> dict[str, str]:
    return {
        "TRAINING_JOB_NAME": name,
        "TRAINING_JOB_ARN": f"arn:aws:sagemaker:local:000000000000:training-job/{name}",
        "SMBYO_HOST_UID": str(os.getuid()),
        "SMBYO_HOST_GID": str(os.getgid()),
    }


def _check_training_section(loaded: LoadedManifest) -> None:
    if loaded.manifest.training is None or not loaded.manifest.code.train:
        raise UsageError(
            f"{loaded.path}: this manifest describes a model-only image (no training section or code.train)",
            hint="Add a training section and code.train to smbyo.yaml to train, or serve an existing model.",
        )


def train_local(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    image: str | None = None,
    data: Mapping[str, str],
    hyperparameters: Mapping[str, str] | None = None,
    out_dir: Path,
    input_mode: str | None = None,
    docker: DockerAdapter | None = None,
) -> LocalTrainingResult:
    """Run ``IMAGE train`` under the SageMaker training contract; model.tar.gz lands in ``out_dir``."""
    _check_training_section(loaded)
    values = validate_hyperparameters(loaded.manifest, hyperparameters or {})
    channels = resolve_channels(loaded, data, input_mode)
    _warn_about_links(channels, reporter)
    adapter = docker or connect()
    image = image or default_tag(loaded)
    adapter.inspect_image(image)
    name = job_name(loaded.manifest.name, "train")
    started = time.monotonic()
    reporter.step(f"Training {name} locally with {image}")
    with tempfile.TemporaryDirectory(prefix="smbyo-local-train-", ignore_cleanup_errors=True) as scratch:
        tree = MlTree.create(Path(scratch) / "ml")
        tree.write_config(values, channels)
        scanner = MetricScanner(loaded.manifest.training.metrics if loaded.manifest.training else [])
        exit_code = _run_container(adapter, image, name, tree, channels, scanner, reporter)
        reporter.status(name, "Completed" if exit_code == 0 else "Failed", time.monotonic() - started)
        output_path = _pack_output(tree, out_dir)
        if exit_code != 0:
            raise _failure(name, exit_code, tree, scanner, output_path)
        model_path = pack_directory(tree.model_dir, Path(out_dir) / "model.tar.gz")
    _warn_about_silent_metrics(loaded, scanner.finals(), reporter)
    return LocalTrainingResult(
        job_name=name,
        status="Completed",
        image=image,
        model_path=model_path,
        output_path=output_path,
        hyperparameters=dict(values),
        metrics=scanner.finals(),
        metric_series=scanner.all_series(),
        seconds=time.monotonic() - started,
    )


def _warn_about_silent_metrics(loaded: LoadedManifest, found: dict[str, float], reporter: Reporter) -> None:
    """A metric regex that never matched means tuning and the listing will have no value for it."""
    for metric in loaded.manifest.training.metrics if loaded.manifest.training else []:
        if metric.name not in found:
            reporter.warn(
                f"metric {metric.name!r}: its regex {metric.regex!r} matched no line of the training log; "
                "fix training.metrics in the manifest or print a matching line from train.py"
            )


def _warn_about_links(channels: list[ChannelInput], reporter: Reporter) -> None:
    for channel in channels:
        leaving = channel.links_leaving() if channel.input_mode == "File" else []
        if leaving:
            reporter.warn(
                f"channel {channel.name!r}: {len(leaving)} symbolic link(s) point outside {channel.path} "
                f"(e.g. {leaving[0].name}); the container cannot follow them. Copy those files in, or use "
                "--input-mode Pipe, which reads them on the host."
            )


def _run_container(
    adapter: DockerAdapter,
    image: str,
    name: str,
    tree: MlTree,
    channels: list[ChannelInput],
    scanner: MetricScanner,
    reporter: Reporter,
) -> int:
    """Start the job's container, stream its log in the foreground, and return its exit code."""
    feeders: list[PipeFeeder] = tree.start_pipes(channels)
    try:
        with running(
            adapter,
            image,
            ["train"],
            volumes=tree.volumes(channels),
            environment=_job_environment(name),
            network_mode="none",
            name=container_name("train"),
            labels={"dev.smbyo.job": name, "dev.smbyo.kind": "train"},
        ) as handle:
            LogPump(handle, reporter, "train", scanner.feed).follow()
            return handle.wait()
    finally:
        for feeder in feeders:
            feeder.stop()
            if feeder.error:
                reporter.warn(feeder.error)


def _pack_output(tree: MlTree, out_dir: Path) -> Path | None:
    """output/data -> output.tar.gz when the job wrote anything there (also for failed jobs)."""
    if not any(tree.output_data_dir.iterdir()):
        return None
    return pack_directory(tree.output_data_dir, Path(out_dir) / "output.tar.gz")


def _failure(name: str, exit_code: int, tree: MlTree, scanner: MetricScanner, output: Path | None) -> JobFailed:
    reason = tree.failure_reason(FAILURE_REASON_LIMIT)
    shown = reason.strip() if reason else f"the container exited with code {exit_code} without writing a reason"
    return JobFailed(
        f"training job {name} failed: {shown}",
        hint="The reason above comes from /opt/ml/output/failure (your train(env) raised); fix it and "
        "train again. The full log is above.",
        details={
            "job_name": name,
            "exit_code": exit_code,
            "failure_reason": reason or "",
            "metrics": scanner.finals(),
            "metric_series": scanner.all_series(),
            "output": str(output) if output else None,
        },
    )
