"""``smbyo tune`` on SageMaker: the plan (uploads, then CreateHyperParameterTuningJob), checked, sent, followed.

Each trial of a tuning job is the training job ``smbyo train`` would run with the same options
(``sm_byo.specs.tuning`` builds the request around that training request), so the plan is staged like a
training plan: local data is uploaded first, the image is the pushed ECR image (or ``--algorithm``, a
published algorithm, tuned by name). While the job runs, a table of its trials grows as SageMaker starts
them (ListTrainingJobsForHyperParameterTuningJob), each with its tuned hyperparameters, objective value
or failure reason, the best so far set apart (DescribeHyperParameterTuningJob's BestTrainingJob); the
poller is the one every job uses, so Ctrl-C, SIGTERM, ``--timeout`` and ``--no-wait`` leave the job
running and print ``smbyo wait tuning-job NAME``, which resumes with the same table and result.

How tuning works: https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-how-it-works.html
Requests: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeHyperParameterTuningJob.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTrainingJobsForHyperParameterTuningJob.html
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.aws.errors import AwsUnreachable, TransientAwsError
from sm_byo.cloud.published import refuse_image_with, training_specification
from sm_byo.cloud.s3 import PlannedUpload, send_uploads
from sm_byo.cloud.session import (
    account_registries,
    bucket_name,
    default_role,
    open_aws,
    plan_account,
    plan_image,
    plan_ownership,
)
from sm_byo.cloud.training import stage_channels
from sm_byo.cloud.waiting import PollSettings, follow
from sm_byo.errors import JobFailed
from sm_byo.hyperparameters import validate_hyperparameters
from sm_byo.manifest import LoadedManifest
from sm_byo.options import CloudOptions, TuneCommand
from sm_byo.plan import Plan, upload_step
from sm_byo.reporting import RecordingReporter, Reporter, show_table
from sm_byo.results import TrialResult, TuningResult
from sm_byo.specs.names import unique_tuning_job_name
from sm_byo.specs.training import TrainingOptions
from sm_byo.specs.tuning import TuningOptions, tuning_job_request

TRIAL_TITLE = "trial"


@dataclass(frozen=True)
class CloudTuningPlan(Plan):
    """The plan, plus what executing it needs and the printed plan does not show (the bucket, the files)."""

    bucket: str = ""
    uploads: tuple[PlannedUpload, ...] = ()


# --- the plan -----------------------------------------------------------------------------------------


def cloud_tuning_plan(
    loaded: LoadedManifest, options: TuneCommand, aws: AwsAdapter, reporter: Reporter | None = None
) -> CloudTuningPlan:
    """Uploads of local data, then CreateHyperParameterTuningJob; pre-flighted (exit 2 naming what to fix).

    The trials' training job is staged as ``smbyo train`` stages it (same bucket, prefixes, image, role);
    with ``--algorithm`` the published algorithm's TrainingSpecification replaces the manifest's image and
    is what the builder checks the hyperparameters and channels against."""
    manifest = loaded.manifest
    refuse_image_with("--algorithm", options.algorithm, options.image, "a tuning job")
    published = training_specification(aws, options.algorithm) if options.algorithm else None
    if published is None:
        # -H judged by the rule `train` uses, before any AWS call (the builder judges them again, in place).
        validate_hyperparameters(manifest, options.hyperparameters)
    role = default_role(loaded, options.role)
    account = plan_account(aws, reporter or RecordingReporter(), dry_run=options.dry_run, role=role)
    bucket = bucket_name(aws.region, account)
    if published is not None:
        image = str(published.get("TrainingImage", ""))
    else:
        image = options.image or plan_image(aws, loaded, account, dry_run=options.dry_run)
    channels, uploads = stage_channels(loaded, options.data, bucket)
    job_name = unique_tuning_job_name(manifest.name)
    flags = {"image": "--image", "output": "--data", **({"role": "--role"} if options.role else {})}
    training = TrainingOptions(
        job_name=job_name,
        image=image,
        role=role,
        output_path=f"s3://{bucket}/smbyo/{manifest.name}/tuning-output",
        channels=channels,
        hyperparameters=dict(options.hyperparameters),  # -H as given: the builder checks them and fills the rest
        instance_type=options.instance_type,
        input_mode=options.input_mode,
        job=options.job,
        flags=flags,
    )
    tuning = TuningOptions(
        job_name=job_name,
        training=training,
        strategy=options.strategy,
        max_jobs=options.max_jobs,
        max_parallel_jobs=options.max_parallel_jobs,
        ranges=options.ranges,
        early_stopping=options.early_stopping,
        warm_start_from=options.warm_start_from,
        warm_start_type=options.warm_start_type,
        algorithm_name=options.algorithm,  # as given: a subscribed algorithm is named by its ARN
        published=published,
        flags={**flags, **({"algorithm": "--algorithm"} if options.algorithm else {})},
    )
    request = tuning_job_request(manifest, tuning)
    steps = [upload_step(str(item.source), item.uri, "--data") for item in uploads]
    registries = frozenset() if published is not None else account_registries(aws, dry_run=options.dry_run)
    plan = CloudTuningPlan("sagemaker", (*steps, request), bucket=bucket, uploads=tuple(uploads))
    plan.check(loaded, registries=registries, ownership=plan_ownership(aws, dry_run=options.dry_run))
    return plan


def tune_cloud(
    loaded: LoadedManifest,
    reporter: Reporter,
    options: TuneCommand,
    *,
    aws: AwsAdapter | None = None,
    settings: PollSettings | None = None,
) -> TuningResult | Plan:
    """Submit a tuning job (and, with ``wait``, follow it to the end); ``--dry-run`` returns the plan."""
    options.refuse_other_mode()
    adapter = open_aws(options.cloud.profile, options.cloud.region, aws)
    planned = cloud_tuning_plan(loaded, options, adapter, reporter)
    if options.dry_run:
        return planned
    request = planned.request("CreateHyperParameterTuningJob").kwargs
    send_uploads(adapter, planned.uploads, reporter)
    return run_cloud_tuning_job(adapter, request, reporter, options, settings)


# --- running and following -----------------------------------------------------------------------------


def run_cloud_tuning_job(
    aws: AwsAdapter,
    request: Mapping[str, Any],
    reporter: Reporter,
    options: TuneCommand,
    settings: PollSettings | None = None,
) -> TuningResult:
    """The SageMaker executor for one CreateHyperParameterTuningJob request: send it, follow it to the end
    (``--no-wait``: return at once, InProgress, with the command that resumes)."""
    name = str(request["HyperParameterTuningJobName"])
    config: Mapping[str, Any] = request["HyperParameterTuningJobConfig"]
    algorithm = request.get("TrainingJobDefinition", {}).get("AlgorithmSpecification", {})
    runs = algorithm.get("AlgorithmName") or algorithm.get("TrainingImage", "")
    reporter.step(f"Creating tuning job {name} ({_limits_text(config)}, {runs})")
    arn = aws.create_hyper_parameter_tuning_job(dict(request)).get("HyperParameterTuningJobArn")
    cloud = options.cloud
    if not cloud.wait:
        reporter.detail(f"not waiting; resume with `smbyo wait tuning-job {name}{cloud.resume_flags}`")
        return TuningResult(
            job_name=name,
            where="sagemaker",
            status="InProgress",
            strategy=str(config.get("Strategy", "")),
            objective=objective_of(config),
            job_arn=None if arn is None else str(arn),
        )
    return follow_tuning_job(aws, name, reporter, cloud, settings)


def _limits_text(config: Mapping[str, Any]) -> str:
    """``Random: up to 20 trials, 2 at a time``. Grid without MaxNumberOfTrainingJobs runs one trial per
    combination of the categorical values (https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-how-it-works.html)."""
    limits = config.get("ResourceLimits", {})
    total = limits.get("MaxNumberOfTrainingJobs")
    if total:
        trials = f"up to {total} trials"
    else:
        grid = config.get("Strategy") == "Grid"
        trials = "a trial per combination of values" if grid else "trials until its completion criteria are met"
    return f"{config.get('Strategy')}: {trials}, {limits.get('MaxParallelTrainingJobs', 1)} at a time"


def wait_for_tuning_job(
    name: str,
    reporter: Reporter,
    *,
    timeout: float | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
    settings: PollSettings | None = None,
) -> TuningResult:
    """``smbyo wait tuning-job NAME``: the same table and result as ``smbyo tune`` gives when it waits."""
    adapter = open_aws(profile, region, aws)
    reporter.step(f"Waiting for tuning-job {name}")
    cloud = CloudOptions(profile=profile, region=region, timeout=timeout)
    return follow_tuning_job(adapter, name, reporter, cloud, settings)


def follow_tuning_job(
    aws: AwsAdapter, name: str, reporter: Reporter, cloud: CloudOptions, settings: PollSettings | None = None
) -> TuningResult:
    """Poll the tuning job to Completed/Failed/Stopped, refreshing the trial table after every describe.

    No log is streamed: the trials' logs would interleave; each is ``smbyo wait training-job TRIAL``'s.
    Failed or Stopped exit 1 (JobFailed) with AWS's FailureReason, the result in the error's details."""
    table = TrialTable(aws, name, reporter)
    followed = follow(
        aws,
        "tuning-job",
        name,
        reporter,
        logs=False,
        timeout=cloud.timeout,
        flags=cloud.resume_flags,
        settings=settings,
        on_tick=table.refresh,
    )
    outcome = followed.outcome
    description = outcome.description
    result = tuning_result(
        description,
        aws.list_training_jobs_for_tuning_job(name),
        best_model_artifacts=_best_model_artifacts(aws, description),
        elapsed_seconds=outcome.elapsed_seconds,
    )
    try:
        outcome.raise_if_failed()
    except JobFailed as exc:
        exc.details = {**exc.details, "result": result.to_dict()}
        raise
    return result


class TrialTable:
    """The live table of a tuning job's trials, refreshed after each describe of the tuning job."""

    def __init__(self, aws: AwsAdapter, name: str, reporter: Reporter):
        self.aws, self.name, self.reporter = aws, name, reporter

    def refresh(self, description: Mapping[str, Any]) -> None:
        """List the trials and show them; a throttled or unreachable List is skipped (the next tick retries)."""
        try:
            summaries = self.aws.list_training_jobs_for_tuning_job(self.name)
        except (TransientAwsError, AwsUnreachable) as exc:
            self.reporter.warn(f"{exc.message}; the trial table is refreshed at the next poll")
            return
        trials = [trial_of(summary) for summary in summaries]
        metric = objective_of(description.get("HyperParameterTuningJobConfig", {})).get("metric", "objective")
        show_table(self.reporter, TRIAL_TITLE, trial_rows(trials, metric), best_name(description))


# --- from SageMaker's answers to the result ------------------------------------------------------------


def objective_of(config: Mapping[str, Any]) -> dict[str, str]:
    """``{"metric": name, "type": Maximize|Minimize}`` of HyperParameterTuningJobConfig (empty when absent)."""
    objective = config.get("HyperParameterTuningJobObjective") or {}
    if not objective:
        return {}
    return {"metric": str(objective.get("MetricName", "")), "type": str(objective.get("Type", ""))}


def best_name(description: Mapping[str, Any]) -> str | None:
    """The best training job so far (DescribeHyperParameterTuningJob's BestTrainingJob), if any."""
    best = description.get("BestTrainingJob") or {}
    return str(best["TrainingJobName"]) if best.get("TrainingJobName") else None


def trial_of(summary: Mapping[str, Any]) -> TrialResult:
    """A HyperParameterTrainingJobSummary as a trial: SageMaker's status, the tuned values, the objective
    (FinalHyperParameterTuningJobObjectiveMetric) and the failure reason."""
    metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    value = metric.get("Value")
    reason = summary.get("FailureReason")
    return TrialResult(
        name=str(summary["TrainingJobName"]),
        status=str(summary.get("TrainingJobStatus", "Unknown")),
        hyperparameters={str(k): str(v) for k, v in (summary.get("TunedHyperParameters") or {}).items()},
        objective_value=None if value is None else float(value),
        failure_reason=str(reason) if reason else None,
        elapsed_seconds=_seconds_between(summary.get("TrainingStartTime"), summary.get("TrainingEndTime")),
        started_at=_iso(summary.get("TrainingStartTime")),
        ended_at=_iso(summary.get("TrainingEndTime")),
    )


def trial_rows(trials: Sequence[TrialResult], metric: str) -> list[dict[str, Any]]:
    """The table's rows: status, the training job, each tuned hyperparameter, the objective, the reason."""
    rows = []
    for trial in trials:
        row: dict[str, Any] = {"status": trial.status, "training job": trial.name, **trial.hyperparameters}
        row[metric] = trial.objective_value
        row["failure reason"] = trial.failure_reason
        rows.append(row)
    return rows


def tuning_result(
    description: Mapping[str, Any],
    summaries: Sequence[Mapping[str, Any]],
    *,
    best_model_artifacts: str | None = None,
    elapsed_seconds: float | None = None,
) -> TuningResult:
    """The result from DescribeHyperParameterTuningJob and the listed trials (in the order they were created).

    ``best`` is the BestTrainingJob SageMaker chose, with its model artifact (DescribeTrainingJob)."""
    config = description.get("HyperParameterTuningJobConfig", {})
    trials = [trial_of(summary) for summary in summaries]
    best = _best_trial(description, trials, best_model_artifacts)
    took = _seconds_between(description.get("CreationTime"), description.get("HyperParameterTuningEndTime"))
    return TuningResult(
        job_name=str(description["HyperParameterTuningJobName"]),
        where="sagemaker",
        status=str(description.get("HyperParameterTuningJobStatus", "Unknown")),
        strategy=str(config.get("Strategy", "")),
        objective=objective_of(config),
        job_arn=description.get("HyperParameterTuningJobArn"),
        best=best,
        trials=trials,
        elapsed_seconds=took if took is not None else elapsed_seconds,
    )


def _best_trial(
    description: Mapping[str, Any], trials: Sequence[TrialResult], model_artifacts: str | None
) -> TrialResult | None:
    summary = description.get("BestTrainingJob")
    if not summary:
        return None
    listed = {trial.name: trial for trial in trials}
    best = listed.get(str(summary.get("TrainingJobName"))) or trial_of(summary)
    return TrialResult(
        name=best.name,
        status=best.status,
        hyperparameters=dict(best.hyperparameters),
        objective_value=best.objective_value,
        failure_reason=best.failure_reason,
        model_artifacts=model_artifacts,
        elapsed_seconds=best.elapsed_seconds,
        started_at=best.started_at,
        ended_at=best.ended_at,
    )


def _best_model_artifacts(aws: AwsAdapter, description: Mapping[str, Any]) -> str | None:
    """The best training job's ModelArtifacts.S3ModelArtifacts (DescribeTrainingJob), when there is a best."""
    name = best_name(description)
    if name is None:
        return None
    artifacts = aws.describe_training_job(name).get("ModelArtifacts") or {}
    return str(artifacts["S3ModelArtifacts"]) if artifacts.get("S3ModelArtifacts") else None


def _iso(moment: Any) -> str | None:
    """A trial's start or end as the local executor writes it: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds") if isinstance(moment, datetime) else None


def _seconds_between(start: Any, end: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return (end - start).total_seconds()
    return None
