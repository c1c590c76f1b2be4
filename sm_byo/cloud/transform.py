"""``smbyo transform`` on SageMaker: CreateModel (when given model data) + CreateTransformJob, follow it,
then list (or download with ``--download DIR``) the ``.out`` files it wrote."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.cloud.session import (
    default_bucket,
    default_image,
    default_role,
    open_aws,
    parse_s3_uri,
    resume_flags,
)
from sm_byo.cloud.upload import upload_path
from sm_byo.cloud.waiting import PollSettings, follow
from sm_byo.manifest import LoadedManifest
from sm_byo.reporting import Reporter
from sm_byo.specs.names import unique_name
from sm_byo.specs.transform import TransformOptions, model_request, transform_job_request


@dataclass
class CloudTransformResult:
    job_name: str
    job_arn: str
    status: str
    model_name: str
    input: str
    output: str
    output_files: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    elapsed_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ensure_model(
    aws: AwsAdapter, loaded: LoadedManifest, reporter: Reporter, *, model: str, image: str | None, role: str | None
) -> str:
    """A SageMaker model name: ``model`` itself, or a new model serving the s3:// artifact ``model``."""
    if not model.startswith("s3://"):
        return model
    name = unique_name(loaded.manifest.name)
    request = model_request(
        loaded.manifest,
        model_name=name,
        image=image or default_image(aws, loaded),
        model_data=model,
        role=default_role(loaded, role),
    )
    reporter.step(f"Creating model {name} from {model}")
    aws.create_model(request)
    return name


def stage_input(aws: AwsAdapter, loaded: LoadedManifest, location: str, reporter: Reporter) -> str:
    if location.startswith("s3://"):
        return location
    bucket = default_bucket(aws, reporter)
    reporter.step(f"Uploading transform input {location}")
    base = f"smbyo/{loaded.manifest.name}/transform-input"
    return upload_path(aws, Path(location).absolute(), bucket, base, reporter, "--input").uri


def transform_cloud(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    image: str | None = None,
    model: str,
    input: str,
    output: str,
    content_type: str | None = None,
    accept: str | None = None,
    split_type: str = "Line",
    strategy: str | None = None,
    max_payload_mb: int | None = None,
    concurrency: int | None = None,
    instance_type: str | None = None,
    role: str | None = None,
    download: Path | None = None,
    wait: bool = True,
    timeout: float | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
    settings: PollSettings | None = None,
) -> CloudTransformResult:
    """Run a batch transform job; with ``wait``, Failed/Stopped raise JobFailed (exit 1)."""
    parse_s3_uri(output, "--output")
    adapter = open_aws(profile, region, aws)
    job_name = unique_name(loaded.manifest.name)
    input_uri = stage_input(adapter, loaded, input, reporter)
    options = TransformOptions(
        job_name=job_name,
        model_name="pending",
        input_uri=input_uri,
        output_uri=output,
        content_type=content_type,
        accept=accept,
        split_type=split_type,
        strategy=strategy,
        max_payload_mb=max_payload_mb,
        concurrency=concurrency,
        instance_type=instance_type,
    )
    transform_job_request(loaded.manifest, options)  # every check before creating anything
    model_name = ensure_model(adapter, loaded, reporter, model=model, image=image, role=role)
    request = transform_job_request(loaded.manifest, _with_model(options, model_name))
    reporter.step(f"Creating transform job {job_name} (model {model_name})")
    arn = str(adapter.create_transform_job(request).get("TransformJobArn", ""))
    result = CloudTransformResult(job_name, arn, "InProgress", model_name, input_uri, output)
    if not wait:
        return result
    followed = follow(
        adapter,
        "transform-job",
        job_name,
        reporter,
        logs=True,
        timeout=timeout,
        flags=resume_flags(profile, region),
        settings=settings,
    )
    followed.outcome.raise_if_failed()
    result.status = followed.outcome.status
    result.elapsed_seconds = round(followed.outcome.elapsed_seconds, 1)
    result.output_files = output_files(adapter, output)
    if download is not None:
        result.downloaded = download_outputs(adapter, result.output_files, output, download)
    return result


def _with_model(options: TransformOptions, model_name: str) -> TransformOptions:
    from dataclasses import replace

    return replace(options, model_name=model_name)


def output_files(aws: AwsAdapter, output: str) -> list[str]:
    bucket, prefix = parse_s3_uri(output, "--output")
    return [f"s3://{bucket}/{item['Key']}" for item in aws.list_objects(bucket, prefix) if item["Key"].endswith(".out")]


def download_outputs(aws: AwsAdapter, files: list[str], output: str, target: Path) -> list[str]:
    _, prefix = parse_s3_uri(output, "--output")
    saved: list[str] = []
    for uri in files:
        bucket, key = parse_s3_uri(uri, "--output")
        relative = key[len(prefix) :].lstrip("/") or Path(key).name
        path = target / relative
        aws.download_file(bucket, key, path)
        saved.append(str(path))
    return saved
