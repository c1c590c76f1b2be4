"""Waiting for anything smbyo submits, through the one poller in :mod:`sm_byo.polling`.

:func:`watch_for` knows, for each kind the CLI names, which Describe call to make and which statuses
end it; :func:`follow` polls it while streaming its CloudWatch logs; :func:`wait_for` is
``smbyo wait KIND NAME``, which resumes after ``--no-wait`` or Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.cloud.logs import LogFollower, endpoint_logs, training_logs, transform_logs
from sm_byo.errors import UsageError
from sm_byo.polling import Backoff, PollOutcome, Watch, poll
from sm_byo.reporting import Reporter

JOB_SUCCEEDED = frozenset({"Completed"})
JOB_FAILED = frozenset({"Failed", "Stopped"})
KINDS = ("training-job", "transform-job", "tuning-job", "endpoint", "algorithm", "model-package")
# A tuning job ends Completed, Failed or Stopped; Stopping is still on its way there.
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeHyperParameterTuningJob.html
TUNING_SUCCEEDED = frozenset({"Completed"})
TUNING_FAILED = frozenset({"Failed", "Stopped"})


@dataclass(frozen=True)
class PollSettings:
    """Clock, sleep and backoff for the poller; tests inject fast ones, the CLI uses the defaults."""

    clock: Callable[[], float] | None = None
    sleep: Callable[[float], None] | None = None
    backoff: Backoff | None = None


def _describe(aws: AwsAdapter, kind: str, name: str) -> Callable[[], Mapping[str, Any]]:
    calls: dict[str, Callable[[str], Mapping[str, Any]]] = {
        "training-job": aws.describe_training_job,
        "transform-job": aws.describe_transform_job,
        "tuning-job": aws.describe_hyper_parameter_tuning_job,
        "endpoint": aws.describe_endpoint,
        "algorithm": aws.describe_algorithm,
        "model-package": aws.describe_model_package,
    }
    call = calls[kind]
    return lambda: call(name)


def watch_for(aws: AwsAdapter, kind: str, name: str, flags: str = "") -> Watch:
    """The :class:`Watch` of a ``kind`` the CLI names (``training-job``, ``endpoint``...)."""
    if kind not in KINDS:
        raise UsageError(f"cannot wait for {kind!r}", hint=f"KIND is one of: {', '.join(KINDS)}.")
    describe = _describe(aws, kind, name)
    if kind == "training-job":
        return Watch(
            kind, name, describe, "TrainingJobStatus", JOB_SUCCEEDED, JOB_FAILED, "SecondaryStatus", resume_flags=flags
        )
    if kind == "transform-job":
        return Watch(kind, name, describe, "TransformJobStatus", JOB_SUCCEEDED, JOB_FAILED, resume_flags=flags)
    if kind == "tuning-job":
        status_key = "HyperParameterTuningJobStatus"
        return Watch(kind, name, describe, status_key, TUNING_SUCCEEDED, TUNING_FAILED, resume_flags=flags)
    if kind == "endpoint":
        return Watch(
            kind,
            name,
            describe,
            "EndpointStatus",
            frozenset({"InService"}),
            frozenset({"Failed", "OutOfService"}),
            resume_flags=flags,
        )
    status_key = "AlgorithmStatus" if kind == "algorithm" else "ModelPackageStatus"
    return Watch(kind, name, describe, status_key, JOB_SUCCEEDED, frozenset({"Failed"}), resume_flags=flags)


def log_follower(aws: AwsAdapter, kind: str, name: str, reporter: Reporter) -> LogFollower | None:
    if kind == "training-job":
        return training_logs(aws, name, reporter)
    if kind == "transform-job":
        return transform_logs(aws, name, reporter)
    if kind == "endpoint":
        return endpoint_logs(aws, name, reporter)
    return None


@dataclass
class Followed:
    outcome: PollOutcome
    log_lines: list[str]


def follow(
    aws: AwsAdapter,
    kind: str,
    name: str,
    reporter: Reporter,
    *,
    logs: bool,
    timeout: float | None,
    flags: str = "",
    settings: PollSettings | None = None,
    on_tick: Callable[[Mapping[str, Any]], object] | None = None,
) -> Followed:
    """Poll ``kind name`` to a terminal state, showing its logs as they arrive (and once more at the end).

    ``on_tick`` runs after every description too (a tuning job's table of trials is refreshed so)."""
    watch = watch_for(aws, kind, name, flags)
    follower = log_follower(aws, kind, name, reporter) if logs else None
    chosen = settings or PollSettings()
    extra: dict[str, Any] = {}
    if chosen.clock is not None:
        extra["clock"] = chosen.clock
    if chosen.sleep is not None:
        extra["sleep"] = chosen.sleep
    outcome = poll(
        watch,
        reporter,
        timeout=timeout,
        backoff=chosen.backoff,
        on_tick=_ticks(follower, on_tick),
        **extra,
    )
    if follower is not None:
        follower.poll()  # the last lines are often written after the final status change
    return Followed(outcome, follower.lines if follower else [])


def _ticks(
    follower: LogFollower | None, on_tick: Callable[[Mapping[str, Any]], object] | None
) -> Callable[[Mapping[str, Any]], object] | None:
    """What runs after each describe: the log follower's poll, then the caller's own tick."""
    if follower is None:
        return on_tick

    def tick(description: Mapping[str, Any]) -> None:
        follower.poll()
        if on_tick is not None:
            on_tick(description)

    return tick


def summary(outcome: PollOutcome) -> dict[str, Any]:
    description = outcome.description
    data: dict[str, Any] = {
        "kind": outcome.watch.kind,
        "name": outcome.watch.name,
        "status": outcome.status,
        "elapsed_seconds": round(outcome.elapsed_seconds, 1),
        "polls": outcome.polls,
    }
    for key in ("TrainingJobArn", "TransformJobArn", "EndpointArn", "AlgorithmArn", "ModelPackageArn"):
        if key in description:
            data["arn"] = description[key]
    if "ModelArtifacts" in description:
        data["model_artifacts"] = description["ModelArtifacts"].get("S3ModelArtifacts")
    if "TransformOutput" in description:
        data["output"] = description["TransformOutput"].get("S3OutputPath")
    return data
