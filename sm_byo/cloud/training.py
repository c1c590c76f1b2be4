"""``smbyo train`` on SageMaker: the plan (uploads, then CreateTrainingJob), checked, then sent and followed.

The request is the one ``train --local`` runs too (``sm_byo.specs.training``); here its data sources
are S3 prefixes, local data being uploaded first (unchanged files are skipped). Hyperparameters,
channels and every request field are checked before anything is uploaded or submitted, so a typo
costs nothing; ``--dry-run`` prints the plan and sends nothing. Metrics come from the job's log with
the request's MetricDefinitions, the same parser the local executor uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.cloud.published import refuse_image_with, training_specification
from sm_byo.cloud.s3 import PlannedUpload, parse_s3_uri, plan_upload, send_uploads
from sm_byo.cloud.session import (
    account_registries,
    bucket_name,
    default_role,
    open_aws,
    plan_account,
    plan_image,
    plan_ownership,
)
from sm_byo.cloud.waiting import PollSettings, follow
from sm_byo.hyperparameters import validate_hyperparameters
from sm_byo.manifest import LoadedManifest, Manifest
from sm_byo.metrics import metric_specs, parse_metrics
from sm_byo.options import TrainCommand
from sm_byo.plan import Plan, upload_step
from sm_byo.reporting import Reporter
from sm_byo.results import TrainingResult
from sm_byo.rules import metric_regex_problem
from sm_byo.specs.hyperparameters import hyperparameter_values
from sm_byo.specs.names import data_prefix, unique_name
from sm_byo.specs.published import as_published, check_training_choices, declared_in_published, published_training
from sm_byo.specs.training import (
    TrainingOptions,
    check_channels,
    check_distribution,
    training_job_request,
    training_spec,
)


@dataclass(frozen=True)
class CloudTrainingPlan:
    """The plan, plus what executing it needs and the printed plan does not show (the files to send)."""

    plan: Plan
    bucket: str
    uploads: tuple[PlannedUpload, ...]


def stage_channels(
    loaded: LoadedManifest, data: Mapping[str, str], bucket: str
) -> tuple[dict[str, str], list[PlannedUpload]]:
    """Channel -> S3 URI: s3:// URIs as given, local paths planned for upload under the bucket (a tuning
    job's trials read the same prefixes as a training job)."""
    uris: dict[str, str] = {}
    uploads: list[PlannedUpload] = []
    for channel, location in sorted(data.items()):
        if location.startswith("s3://"):
            uris[channel] = location
            continue
        path = Path(location).expanduser().absolute()
        base = f"{data_prefix(loaded.manifest)}input/{channel}"
        planned = plan_upload(path, bucket, base, f"--data {channel}", project=loaded.manifest.name)
        uploads.append(planned)
        uris[channel] = planned.uri
    return uris, uploads


def cloud_training_plan(
    loaded: LoadedManifest, options: TrainCommand, aws: AwsAdapter, reporter: Reporter
) -> CloudTrainingPlan:
    """Uploads of local data, then CreateTrainingJob; pre-flighted (exit 2 naming what to fix).

    With ``--algorithm`` the published algorithm's TrainingSpecification (DescribeAlgorithm) replaces the
    manifest's training section: the hyperparameters, channels, input mode, instance type and count are checked
    against it, and the request names the algorithm instead of an image (``sm_byo.specs.published``)."""
    manifest = loaded.manifest
    refuse_image_with("--algorithm", options.algorithm, options.image, "a training job")
    published = training_specification(aws, options.algorithm) if options.algorithm else None
    if published is None:
        check_channels(training_spec(manifest), options.data)
        check_distribution(training_spec(manifest), options.job.distribution, options.data)
        values = validate_hyperparameters(manifest, options.hyperparameters)
    else:
        assert options.algorithm is not None
        values = _check_published(manifest, published, options.algorithm, options)
        loaded = loaded.model_copy(update={"manifest": published_training(manifest, published, options.algorithm)})
    role = default_role(loaded, options.role)
    account = plan_account(aws, reporter, dry_run=options.dry_run, role=role)
    image = "" if published is not None else options.image or plan_image(aws, loaded, account, dry_run=options.dry_run)
    bucket = bucket_name(aws.region, account)
    channels, uploads = stage_channels(loaded, options.data, bucket)
    request = training_job_request(
        loaded.manifest,
        TrainingOptions(
            job_name=unique_name(manifest.name),
            image=image,
            role=role,
            output_path=f"s3://{bucket}/smbyo/{manifest.name}/training-output",
            channels=channels,
            hyperparameters=values,
            instance_type=options.instance_type,
            input_mode=options.input_mode,
            job=options.job,
            flags={"image": "--image", "output": "--data", **({"role": "--role"} if options.role else {})},
        ),
    )
    if options.algorithm is not None:
        request = as_published(request, options.algorithm)
    steps = [upload_step(str(item.source), item.uri, "--data") for item in uploads]
    registries = frozenset() if published is not None else account_registries(aws, dry_run=options.dry_run)
    ownership = plan_ownership(aws, dry_run=options.dry_run)
    plan = Plan("sagemaker", (*steps, request)).check(loaded, registries=registries, ownership=ownership)
    return CloudTrainingPlan(plan, bucket, tuple(uploads))


def _check_published(
    manifest: Manifest, published: Mapping[str, Any], algorithm: str, options: TrainCommand
) -> dict[str, str]:
    """What ``train --algorithm`` asks of the published algorithm, checked against its TrainingSpecification;
    returns the hyperparameters to send (-H, with the declared defaults)."""
    count = options.job.instance_count
    if count is None:
        count = manifest.training.job.instance_count if manifest.training else 1
    check_training_choices(
        published, algorithm, channels=options.data, instance_type=options.instance_type, instance_count=count,
        input_mode=options.input_mode, network_isolation=options.job.network_isolation,
    )  # fmt: skip
    return hyperparameter_values(
        declared_in_published(published, algorithm), options.hyperparameters,
        hint=f"Fix the -H NAME=VALUE values: {algorithm}'s TrainingSpecification.SupportedHyperParameters "
        "says what it takes (`aws sagemaker describe-algorithm`).",
    )  # fmt: skip


def train_cloud(
    loaded: LoadedManifest,
    reporter: Reporter,
    options: TrainCommand,
    *,
    aws: AwsAdapter | None = None,
    settings: PollSettings | None = None,
) -> TrainingResult | Plan:
    """Submit a training job (and, with ``wait``, follow it: exit 1 with the FailureReason if it fails)."""
    options.refuse_other_mode()
    adapter = open_aws(options.cloud.profile, options.cloud.region, aws)
    planned = cloud_training_plan(loaded, options, adapter, reporter)
    if options.dry_run:
        return planned.plan
    request = planned.plan.request("CreateTrainingJob").kwargs
    send_uploads(adapter, planned.uploads, reporter)
    return run_cloud_training_job(adapter, request, reporter, options, settings)


def run_cloud_training_job(
    aws: AwsAdapter,
    request: Mapping[str, Any],
    reporter: Reporter,
    options: TrainCommand,
    settings: PollSettings | None = None,
) -> TrainingResult:
    """The SageMaker executor for one CreateTrainingJob request: send it, follow it to the end."""
    job_name = str(request["TrainingJobName"])
    specification = request["AlgorithmSpecification"]
    image, algorithm = specification.get("TrainingImage"), specification.get("AlgorithmName")
    runs = image or f"algorithm {algorithm}"
    reporter.step(f"Creating training job {job_name} ({request['ResourceConfig']['InstanceType']}, {runs})")
    arn = str(aws.create_training_job(dict(request)).get("TrainingJobArn", ""))
    result = TrainingResult(
        job_name=job_name,
        where="sagemaker",
        status="InProgress",
        image=image,
        algorithm=algorithm,
        hyperparameters=dict(request.get("HyperParameters", {})),
        channels={c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]},
        job_arn=arn,
        instance_count=int(request["ResourceConfig"].get("InstanceCount", 1)),
    )
    cloud = options.cloud
    if not cloud.wait:
        reporter.detail(f"not waiting; resume with `smbyo wait training-job {job_name}{cloud.resume_flags}`")
        return result
    followed = follow(
        aws,
        "training-job",
        job_name,
        reporter,
        logs=cloud.logs,
        timeout=cloud.timeout,
        flags=cloud.resume_flags,
        settings=settings,
    )
    scanner = parse_metrics(metric_specs(_metric_definitions(request, followed.outcome.description)),
                            followed.log_lines)  # fmt: skip
    metrics = scanner.finals() or _final_metrics(followed.outcome.description)
    followed.outcome.raise_if_failed()
    description = followed.outcome.description
    result.status = followed.outcome.status
    result.model_artifacts = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    result.output_artifacts = _output_archive(aws, description, job_name)
    result.metrics = metrics
    result.metric_series = scanner.all_series()
    result.elapsed_seconds = followed.outcome.elapsed_seconds
    return result


def _metric_definitions(request: Mapping[str, Any], description: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's MetricDefinitions; a published algorithm's job sends none (the algorithm brings them), so
    DescribeTrainingJob's AlgorithmSpecification says which it ran with (FinalMetricDataList is the fallback)."""
    sent = request["AlgorithmSpecification"].get("MetricDefinitions")
    if sent:
        return list(sent)
    described = (description.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    # A regex Python cannot compile is skipped (hostile or not, it must not end the run after the job completed).
    readable = [dict(item) for item in described if isinstance(item, Mapping) and "Name" in item]
    return [item for item in readable if metric_regex_problem(str(item.get("Regex"))) is None]


def _output_archive(aws: AwsAdapter, description: Mapping[str, Any], job_name: str) -> str | None:
    """``<S3OutputPath>/<job>/output/output.tar.gz`` when the job wrote /opt/ml/output/data (else None)."""
    output = str(description.get("OutputDataConfig", {}).get("S3OutputPath", ""))
    if not output.startswith("s3://"):
        return None
    bucket, prefix = parse_s3_uri(output, "OutputDataConfig.S3OutputPath")
    key = f"{prefix.strip('/')}/{job_name}/output/output.tar.gz".lstrip("/")
    return f"s3://{bucket}/{key}" if aws.head_object(bucket, key) is not None else None


def _final_metrics(description: Mapping[str, Any]) -> dict[str, float]:
    """SageMaker's own FinalMetricDataList, used when logs were not streamed (--no-logs)."""
    return {str(item["MetricName"]): float(item["Value"]) for item in description.get("FinalMetricDataList", [])}
