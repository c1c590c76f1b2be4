"""``smbyo train --local``: the CreateTrainingJob request SageMaker would get, run by local Docker.

:func:`train_local` builds the same request as the cloud command (``sm_byo.specs.training``), with
the data named as ``file://`` URIs, checks it (pre-flight, exit 2 with what to fix) before Docker is
contacted, and hands it to :func:`run_training_job`, the local executor. The executor reads nothing
but the request: channels, input modes, compression, hyperparameters, instance type, environment and
stopping condition. It prepares the /opt/ml tree, runs ``IMAGE train`` with logs streamed live and
metrics scanned with the request's MetricDefinitions, and packs model/ and output/data/ as SageMaker's
model.tar.gz and output.tar.gz. A failed job raises :class:`JobFailed` with the container's
/opt/ml/output/failure text as the failure reason.

The results land in ``--out`` through :class:`~sm_byo.local.outputs.OutputDirectory`: written under
temporary names, renamed when complete, and never over a file smbyo did not write (refused before
Docker is contacted). After the run, each of model.tar.gz and output.tar.gz in ``--out`` is this run's
or absent: an earlier run's that this run did not replace (a failed run writes no model) is renamed to
``<name>.previous``. The container's tree is read without trusting it (links, FIFOs and devices are
neither followed nor packed; see :mod:`sm_byo.local.untrusted`).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sm_byo.docker import DockerAdapter, connect
from sm_byo.errors import JobFailed, UsageError
from sm_byo.hyperparameters import validate_hyperparameters
from sm_byo.local.archive import pack_directories
from sm_byo.local.hosts import empty_shards, prepare_hosts, run_hosts
from sm_byo.local.layout import (
    ChannelInput,
    MlTree,
    channels_from_request,
    checkpoint_mounts,
    file_uri,
    hidden_files,
    host_names,
    local_source,
    output_dir,
)
from sm_byo.local.outputs import OutputDirectory
from sm_byo.local.untrusted import entries
from sm_byo.manifest import LoadedManifest, MetricSpec
from sm_byo.metrics import MetricScanner, metric_specs
from sm_byo.options import TrainCommand, TrainingJobSettings
from sm_byo.plan import Plan
from sm_byo.reporting import Reporter
from sm_byo.results import TrainingResult
from sm_byo.specs.names import local_image_tag, unique_name
from sm_byo.specs.training import LOCAL_ROLE, TrainingOptions, training_job_request

FAILURE_REASON_LIMIT = 1024
MODEL_ARCHIVE = "model.tar.gz"
OUTPUT_ARCHIVE = "output.tar.gz"
RESULTS = (MODEL_ARCHIVE, OUTPUT_ARCHIVE)
PREVIOUS = ".previous"
SKIPPED_SHOWN = 5
# Hosts a local job may ask for: each is a container on this machine, with 1/N of its CPUs.
MAX_LOCAL_HOSTS = 16


# --- the plan -------------------------------------------------------------------------------------


def local_data(channel: str, raw: str) -> str:
    """``--data CHANNEL=PATH`` of a local job, named as the request names local data (``file://``)."""
    path = local_source(
        f"--data {channel}={raw}",
        raw,
        "training job",
        s3_hint="Download the data first (`aws s3 sync URI DIR`) and pass the directory, or drop --local "
        "to train on SageMaker.",
        missing_hint="Point the channel at an existing local file or directory of training data.",
    )
    return file_uri(path)


def check_training_section(loaded: LoadedManifest) -> None:
    if loaded.manifest.training is None or not loaded.manifest.code.train:
        raise UsageError(
            f"{loaded.path}: this manifest describes a model-only image (no training section or code.train)",
            hint="Add a training section and code.train to smbyo.yaml to train, or serve an existing model.",
        )


def local_checkpoint(raw: str) -> str:
    """--checkpoint-uri with --local: a local directory (made when the job starts, if missing), as file://."""
    if "://" in raw:
        raise UsageError(
            f"--checkpoint-uri {raw}: a local training job keeps its checkpoints in a local directory",
            hint="Pass a directory (it is created if missing, and never emptied), or drop --local to train on "
            "SageMaker with an s3:// location.",
        )
    return file_uri(Path(raw).expanduser())


# Request fields a local job checks (pre-flight) but cannot honour, and what they become (docs/local.md).
_NOT_LOCAL = (
    (("EnableManagedSpotTraining",), "managed spot training (EnableManagedSpotTraining) has no meaning locally: the "
     "job runs once, on this machine, and is never interrupted for capacity; MaxWaitTimeInSeconds is checked as on "
     "SageMaker and not used"),
    (("VpcConfig",), "VpcConfig is checked and not used locally: the training container has no network"),
    (("ResourceConfig", "VolumeKmsKeyId"), "ResourceConfig.VolumeKmsKeyId is checked and not used locally"),
    (("OutputDataConfig", "KmsKeyId"), "OutputDataConfig.KmsKeyId is checked and not used locally: model.tar.gz "
     "is written unencrypted to --out"),
    (("EnableInterContainerTrafficEncryption",), "EnableInterContainerTrafficEncryption is checked and not used "
     "locally: the containers of a local job do not talk over a network that leaves this machine"),
)  # fmt: skip


def local_notes(
    loaded: LoadedManifest, job_fields: Mapping[str, Any], settings: TrainingJobSettings
) -> tuple[str, ...]:
    """What a local job checks but cannot honour (``job_fields``: a CreateTrainingJob request, or a tuning job's
    TrainingJobDefinition), and a manifest checkpoint location that is SageMaker's."""
    notes = [text for path, text in _NOT_LOCAL if _has(job_fields, path)]
    job = loaded.manifest.training.job if loaded.manifest.training else None
    if job and job.checkpoint and settings.checkpoint_uri is None:
        notes.append(
            f"training.job.checkpoint.s3_uri ({job.checkpoint.s3_uri}) is for SageMaker: this local job keeps no "
            "checkpoints; pass --checkpoint-uri DIR to keep them in a local directory and resume from it"
        )
    return tuple(notes)


def _has(kwargs: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    value: Any = kwargs
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value is not None


def local_training_plan(loaded: LoadedManifest, options: TrainCommand) -> Plan:
    """The CreateTrainingJob request for local Docker, checked (exit 2 naming what to fix)."""
    check_training_section(loaded)
    values = validate_hyperparameters(loaded.manifest, options.hyperparameters)
    channels = {name: local_data(name, raw) for name, raw in options.data.items()}
    job = options.job
    if job.checkpoint_uri is not None:
        job = replace(job, checkpoint_uri=local_checkpoint(job.checkpoint_uri))
    request = training_job_request(
        loaded.manifest,
        TrainingOptions(
            job_name=unique_name(loaded.manifest.name),
            image=options.image or local_image_tag(loaded.manifest, "training"),
            role=LOCAL_ROLE,
            output_path=file_uri(options.out),
            channels=channels,
            hyperparameters=values,
            instance_type=options.instance_type,
            input_mode=options.input_mode,
            job=job,
            checkpoint_from_manifest=False,  # an s3:// location: SageMaker's (a note says so)
            flags={"image": "--image", "output": "--out"},
        ),
    )
    return Plan("local", (request,), local_notes(loaded, request.kwargs, options.job)).check(loaded)


def train_local(
    loaded: LoadedManifest, reporter: Reporter, options: TrainCommand, *, docker: DockerAdapter | None = None
) -> TrainingResult | Plan:
    """``smbyo train --local``: the plan (``--dry-run``), or its result once local Docker ran it."""
    options.refuse_other_mode()
    plan = local_training_plan(loaded, options)
    if options.dry_run:
        return plan
    for note in plan.notes:
        reporter.detail(f"note: {note}")
    return run_training_job(plan.request("CreateTrainingJob").kwargs, reporter, docker=docker)


# --- the executor ---------------------------------------------------------------------------------


def _instances(request: Mapping[str, Any]) -> tuple[str, int]:
    """ResourceConfig's instance type and count (heterogeneous InstanceGroups are not run locally)."""
    resources = request.get("ResourceConfig", {})
    if resources.get("InstanceGroups"):
        raise UsageError(
            "ResourceConfig.InstanceGroups: local training runs one group of identical instances",
            hint="Use InstanceType and InstanceCount (smbyo train --instance-type/--instance-count).",
        )
    count = int(resources.get("InstanceCount", 1))
    if not 1 <= count <= MAX_LOCAL_HOSTS:
        raise UsageError(
            f"ResourceConfig.InstanceCount {count}: a local job runs 1 to {MAX_LOCAL_HOSTS} hosts on this machine",
            hint=f"Use --instance-count 1 to {MAX_LOCAL_HOSTS} locally, or train on SageMaker for more.",
        )
    return str(resources.get("InstanceType", "")), count


def _job_environment(request: Mapping[str, Any]) -> dict[str, str]:
    name = str(request["TrainingJobName"])
    environment = {str(key): str(value) for key, value in (request.get("Environment") or {}).items()}
    environment.update(
        {
            "TRAINING_JOB_NAME": name,
            "TRAINING_JOB_ARN": f"arn:aws:sagemaker:local:000000000000:training-job/{name}",
            "SMBYO_HOST_UID": str(os.getuid()),
            "SMBYO_HOST_GID": str(os.getgid()),
        }
    )
    return environment


def run_training_job(
    request: Mapping[str, Any], reporter: Reporter, *, docker: DockerAdapter | None = None
) -> TrainingResult:
    """Run one CreateTrainingJob request in local Docker, on as many hosts as it asks for; the model
    lands where OutputDataConfig says."""
    name = str(request["TrainingJobName"])
    image = str(request["AlgorithmSpecification"]["TrainingImage"])
    channels = channels_from_request(request)
    instance_type, count = _instances(request)
    checkpoints = checkpoint_mounts(request)
    out_dir = output_dir(
        str(request.get("OutputDataConfig", {}).get("S3OutputPath", "")), "OutputDataConfig.S3OutputPath", "--out"
    )
    hyperparameters = {str(key): str(value) for key, value in (request.get("HyperParameters") or {}).items()}
    metrics = metric_specs(request.get("AlgorithmSpecification", {}).get("MetricDefinitions") or [])
    _warn_about_data(channels, reporter)
    results = OutputDirectory(out_dir, "--out")
    results.refuse_foreign([*RESULTS, *(name + PREVIOUS for name in RESULTS)])
    adapter = docker or connect()
    adapter.inspect_image(image)
    started = time.monotonic()
    on = f"{count} hosts ({', '.join(host_names(count))}) of {instance_type}" if count > 1 else instance_type
    reporter.step(f"Training {name} locally with {image} (as {on})")
    with tempfile.TemporaryDirectory(prefix="smbyo-local-train-", ignore_cleanup_errors=True) as scratch:
        hosts = prepare_hosts(Path(scratch), count, channels, hyperparameters, instance_type)
        for empty in empty_shards(hosts):
            reporter.warn(f"{empty}: this host gets no file of the sharded channel (fewer files than hosts)")
        scanner = MetricScanner(metrics)
        max_runtime = float(request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 0)) or None
        outcome = run_hosts(
            adapter, image, name, hosts, reporter, _job_environment(request), max_runtime, scanner.feed, checkpoints
        )
        completed = outcome.failed is None and not outcome.timed_out
        reporter.status(name, "Completed" if completed else "Failed", time.monotonic() - started)
        trees = [host.tree for host in hosts]
        output_path = _pack_output(trees, results, reporter)
        model_path = _pack(trees, "model", results, MODEL_ARCHIVE, reporter) if completed else None
        _set_aside_earlier_results(results, {MODEL_ARCHIVE: model_path, OUTPUT_ARCHIVE: output_path}, reporter)
        if outcome.timed_out:
            raise _failure(
                name,
                f"the job reached StoppingCondition.MaxRuntimeInSeconds ({max_runtime:g} s) and was stopped",
                scanner,
                output_path,
                outcome.exit_code,
            )
        if outcome.failed is not None:
            reason = _container_reason(outcome.failed.tree)
            if count > 1:
                reason = f"{outcome.failed.name}: {reason}" if reason else f"{outcome.failed.name} failed"
            raise _failure(name, reason, scanner, output_path, outcome.exit_code)
    _warn_about_silent_metrics(metrics, scanner.finals(), reporter)
    return TrainingResult(
        job_name=name,
        where="local",
        status="Completed",
        image=image,
        hyperparameters=hyperparameters,
        channels={channel.name: str(channel.path) for channel in channels},
        model_artifacts=str(model_path),
        output_artifacts=str(output_path) if output_path else None,
        metrics=scanner.finals(),
        metric_series=scanner.all_series(),
        elapsed_seconds=time.monotonic() - started,
        instance_count=count,
    )


def _warn_about_silent_metrics(metrics: list[MetricSpec], found: dict[str, float], reporter: Reporter) -> None:
    """A metric regex that never matched means tuning and the listing will have no value for it."""
    for metric in metrics:
        if metric.name not in found:
            reporter.warn(
                f"metric {metric.name!r}: its regex {metric.regex!r} matched no line of the training log; "
                "fix training.metrics in the manifest or print a matching line from train.py"
            )


def _warn_about_data(channels: list[ChannelInput], reporter: Reporter) -> None:
    for channel in channels:
        leaving = channel.links_leaving() if channel.input_mode == "File" else []
        if leaving:
            reporter.warn(
                f"channel {channel.name!r}: {len(leaving)} symbolic link(s) point outside {channel.path} "
                f"(e.g. {leaving[0].name}); the container cannot follow them. Copy those files in, or use "
                "--input-mode Pipe, which reads them on the host."
            )
        hidden = hidden_files(channel.path)
        if hidden:
            reporter.warn(
                f"channel {channel.name!r}: {len(hidden)} hidden file(s) (e.g. {hidden[0].name}) are data too: "
                "SageMaker hands over every file under the channel's prefix. Remove them if they are not data."
            )


def _pack(trees: list[MlTree], relative: str, results: OutputDirectory, archive: str, reporter: Reporter) -> Path:
    """/opt/ml/<relative> of every host -> <--out>/<archive>: regular files and directories only, links
    not followed; one archive for all hosts, as SageMaker aggregates them."""
    packed = pack_directories([(tree.root, tree.root / relative) for tree in trees], results.claim(archive))
    if packed.skipped:
        reporter.warn(
            f"/opt/ml/{relative}: left out of {archive} what is not a regular file or directory "
            f"({_shown(packed.skipped)}). smbyo follows no link the container made; SageMaker cannot deploy a "
            "model.tar.gz holding links. Write the files themselves."
        )
    if packed.clashes:
        reporter.warn(
            f"/opt/ml/{relative}: more than one host wrote {_shown(packed.clashes)}; {archive} holds the "
            "lowest-numbered host's copy. SageMaker aggregates every host's files into one archive and asks that "
            "their names not clash: write from one host only (env.current_host), or use per-host names."
        )
    return packed.path


def _shown(items: list[str]) -> str:
    more = len(items) - SKIPPED_SHOWN
    return "; ".join(items[:SKIPPED_SHOWN]) + (f"; and {more} more" if more > 0 else "")


def _pack_output(trees: list[MlTree], results: OutputDirectory, reporter: Reporter) -> Path | None:
    """output/data -> output.tar.gz when a host wrote anything there (also for failed jobs)."""
    wrote = False
    for tree in trees:
        names = entries(tree.root, "output/data")
        if names is None:
            reporter.warn("/opt/ml/output/data is not a directory (or is reached through a link): not packed")
        wrote = wrote or bool(names)
    if not wrote:
        return None
    return _pack(trees, "output/data", results, OUTPUT_ARCHIVE, reporter)


def _set_aside_earlier_results(
    results: OutputDirectory, written: Mapping[str, Path | None], reporter: Reporter
) -> None:
    """An earlier run's model.tar.gz or output.tar.gz that this run did not replace becomes
    ``<name>.previous``: after a failed run, nothing in --out may pass for its result."""
    for archive, path in written.items():
        if path is None and (aside := results.set_aside(archive, PREVIOUS)) is not None:
            reporter.warn(
                f"{results.path / archive} was an earlier run's and this run wrote none: it is now {aside.name}, "
                "so it is not taken for this run's result"
            )


def _container_reason(tree: MlTree) -> str:
    reason = tree.failure_reason(FAILURE_REASON_LIMIT)
    return reason.strip() if reason and reason.strip() else ""


def _failure(name: str, reason: str, scanner: MetricScanner, output: Path | None, exit_code: int) -> JobFailed:
    shown = reason or f"the container exited with code {exit_code} without writing a reason"
    return JobFailed(
        f"training job {name} failed: {shown}",
        hint="The reason above comes from /opt/ml/output/failure (your train(env) raised); fix it and "
        "train again. The full log is above.",
        details={
            "job_name": name,
            "exit_code": exit_code,
            "failure_reason": reason,
            "metrics": scanner.finals(),
            "metric_series": scanner.all_series(),
            "output": str(output) if output else None,
        },
    )
