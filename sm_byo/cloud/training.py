"""``smbyo train`` on SageMaker: upload the data, CreateTrainingJob, follow it to the end.

Hyperparameters and channels are checked against the manifest before anything is uploaded or
submitted, so a typo costs nothing. Metrics come from the job's log with the manifest's regexes,
the same parser the local runner uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.cloud.naming import unique_name
from sm_byo.cloud.session import default_bucket, default_image, default_role, open_aws, resume_flags
from sm_byo.cloud.upload import upload_path
from sm_byo.cloud.waiting import PollSettings, follow
from sm_byo.hyperparameters import validate_hyperparameters
from sm_byo.manifest import LoadedManifest
from sm_byo.metrics import parse_metrics
from sm_byo.reporting import Reporter
from sm_byo.specs.training import TrainingOptions, check_channels, training_job_request, training_spec


@dataclass
class CloudTrainingResult:
    job_name: str
    job_arn: str
    status: str
    image: str
    model_artifacts: str | None
    hyperparameters: dict[str, str]
    channels: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stage_channels(
    aws: AwsAdapter, loaded: LoadedManifest, data: Mapping[str, str], reporter: Reporter
) -> dict[str, str]:
    """Channel -> S3 URI: s3:// URIs as given, local paths uploaded (unchanged files skipped)."""
    staged: dict[str, str] = {}
    bucket: str | None = None
    for channel, location in sorted(data.items()):
        if location.startswith("s3://"):
            staged[channel] = location
            continue
        bucket = bucket or default_bucket(aws, reporter)
        path = Path(location) if Path(location).is_absolute() else Path.cwd() / location
        reporter.step(f"Uploading channel {channel} from {location}")
        outcome = upload_path(aws, path, bucket, f"smbyo/{loaded.manifest.name}/input/{channel}", reporter, "--data")
        reporter.detail(f"{channel}: {outcome.uploaded} uploaded, {outcome.skipped} unchanged -> {outcome.uri}")
        staged[channel] = outcome.uri
    return staged


def train_cloud(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    image: str | None = None,
    data: Mapping[str, str],
    hyperparameters: Mapping[str, str] | None = None,
    instance_type: str | None = None,
    role: str | None = None,
    input_mode: str | None = None,
    wait: bool = True,
    logs: bool = True,
    timeout: float | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
    settings: PollSettings | None = None,
) -> CloudTrainingResult:
    """Submit a training job (and, with ``wait``, follow it: exit 1 with the FailureReason if it fails)."""
    manifest = loaded.manifest
    spec = training_spec(manifest)
    check_channels(spec, data)
    values = validate_hyperparameters(manifest, hyperparameters or {})
    chosen_role = default_role(loaded, role)
    adapter = open_aws(profile, region, aws)
    chosen_image = image or default_image(adapter, loaded)
    channels = stage_channels(adapter, loaded, data, reporter)
    bucket = default_bucket(adapter, reporter)
    job_name = unique_name(manifest.name)
    request = training_job_request(
        manifest,
        TrainingOptions(
            job_name=job_name,
            image=chosen_image,
            role=chosen_role,
            output_path=f"s3://{bucket}/smbyo/{manifest.name}/training-output",
            channels=channels,
            hyperparameters=values,
            instance_type=instance_type,
            input_mode=input_mode,
        ),
    )
    reporter.step(f"Creating training job {job_name} ({request['ResourceConfig']['InstanceType']}, {chosen_image})")
    arn = str(adapter.create_training_job(request).get("TrainingJobArn", ""))
    result = CloudTrainingResult(job_name, arn, "InProgress", chosen_image, None, values, channels)
    if not wait:
        reporter.detail(f"not waiting; resume with `smbyo wait training-job {job_name}{resume_flags(profile, region)}`")
        return result
    followed = follow(
        adapter,
        "training-job",
        job_name,
        reporter,
        logs=logs,
        timeout=timeout,
        flags=resume_flags(profile, region),
        settings=settings,
    )
    metrics = parse_metrics(spec.metrics, followed.log_lines).finals() or _final_metrics(followed.outcome.description)
    followed.outcome.raise_if_failed()
    result.status = followed.outcome.status
    result.model_artifacts = followed.outcome.description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    result.metrics = metrics
    result.elapsed_seconds = round(followed.outcome.elapsed_seconds, 1)
    return result


def _final_metrics(description: Mapping[str, Any]) -> dict[str, float]:
    """SageMaker's own FinalMetricDataList, used when logs were not streamed (--no-logs)."""
    return {str(item["MetricName"]): float(item["Value"]) for item in description.get("FinalMetricDataList", [])}
