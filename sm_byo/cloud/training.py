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
from sm_byo.cloud.s3 import PlannedUpload, parse_s3_uri, plan_upload, send_uploads
from sm_byo.cloud.session import (
    account_registries,
    bucket_name,
    default_role,
    open_aws,
    plan_account,
    plan_image,
)
from sm_byo.cloud.waiting import PollSettings, follow
from sm_byo.hyperparameters import validate_hyperparameters
from sm_byo.manifest import LoadedManifest
from sm_byo.metrics import metric_specs, parse_metrics
from sm_byo.options import TrainCommand
from sm_byo.plan import Plan, upload_step
from sm_byo.reporting import Reporter
from sm_byo.results import TrainingResult
from sm_byo.specs.names import unique_name
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
        planned = plan_upload(path, bucket, f"smbyo/{loaded.manifest.name}/input/{channel}", f"--data {channel}")
        uploads.append(planned)
        uris[channel] = planned.uri
    return uris, uploads


def cloud_training_plan(
    loaded: LoadedManifest, options: TrainCommand, aws: AwsAdapter, reporter: Reporter
) -> CloudTrainingPlan:
    manifest = loaded.manifest
    check_channels(training_spec(manifest), options.data)
    check_distribution(training_spec(manifest), options.job.distribution, options.data)
    values = validate_hyperparameters(manifest, options.hyperparameters)
    role = default_role(loaded, options.role)
    account = plan_account(aws, reporter, dry_run=options.dry_run, role=role)
    image = options.image or plan_image(aws, loaded, account, dry_run=options.dry_run)
    bucket = bucket_name(aws.region, account)
    channels, uploads = stage_channels(loaded, options.data, bucket)
    request = training_job_request(
        manifest,
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
    steps = [upload_step(str(item.source), item.uri, "--data") for item in uploads]
    registries = account_registries(aws, dry_run=options.dry_run)
    plan = Plan("sagemaker", (*steps, request)).check(loaded, registries=registries)
    return CloudTrainingPlan(plan, bucket, tuple(uploads))


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
    image = str(request["AlgorithmSpecification"]["TrainingImage"])
    reporter.step(f"Creating training job {job_name} ({request['ResourceConfig']['InstanceType']}, {image})")
    arn = str(aws.create_training_job(dict(request)).get("TrainingJobArn", ""))
    result = TrainingResult(
        job_name=job_name,
        where="sagemaker",
        status="InProgress",
        image=image,
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
    definitions = request["AlgorithmSpecification"].get("MetricDefinitions", [])
    scanner = parse_metrics(metric_specs(definitions), followed.log_lines)
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
