"""CreateModel and CreateTransformJob requests (pure: no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import Manifest
from sm_byo.specs.training import check_instance_type, tags


@dataclass(frozen=True)
class TransformOptions:
    job_name: str
    model_name: str
    input_uri: str
    output_uri: str
    content_type: str | None = None
    accept: str | None = None
    split_type: str = "Line"
    strategy: str | None = None
    max_payload_mb: int | None = None
    concurrency: int | None = None
    instance_type: str | None = None
    instance_count: int = 1


def model_request(manifest: Manifest, *, model_name: str, image: str, model_data: str, role: str) -> dict[str, Any]:
    """``create_model`` kwargs: the image serving ``model_data`` (a model.tar.gz on S3)."""
    if not model_data.startswith("s3://"):
        raise UsageError(
            f"model data {model_data!r} is not an s3:// URI",
            hint="Pass the ModelArtifacts URI printed by `smbyo train` (s3://.../model.tar.gz).",
        )
    request: dict[str, Any] = {
        "ModelName": model_name,
        "PrimaryContainer": {"Image": image, "ModelDataUrl": model_data},
        "ExecutionRoleArn": role,
    }
    if manifest.tags:
        request["Tags"] = tags(manifest)
    return request


def _check_type(value: str, allowed: list[str], flag: str) -> str:
    if value not in allowed:
        raise UsageError(
            f"{flag} {value} is not one the container declares ({', '.join(allowed)})",
            hint=f"Use one of serving.{'content_types' if flag == '--content-type' else 'accept'} in smbyo.yaml.",
        )
    return value


def transform_job_request(manifest: Manifest, options: TransformOptions) -> dict[str, Any]:
    """``create_transform_job`` kwargs; unset options are left to the container's /execution-parameters."""
    content_type = _check_type(
        options.content_type or manifest.serving.content_types[0], manifest.serving.content_types, "--content-type"
    )
    accept = _check_type(options.accept or manifest.serving.accept[0], manifest.serving.accept, "--accept")
    for flag, uri in (("--input", options.input_uri), ("--output", options.output_uri)):
        if not uri.startswith("s3://"):
            raise UsageError(f"{flag} {uri!r} is not an s3:// URI", hint=f"Pass {flag} s3://bucket/prefix.")
    instance_type = check_instance_type(
        options.instance_type or manifest.inference.transform_instance_types[0], "--instance-type"
    )
    request: dict[str, Any] = {
        "TransformJobName": options.job_name,
        "ModelName": options.model_name,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": options.input_uri}},
            "ContentType": content_type,
            "CompressionType": "None",
            "SplitType": options.split_type,
        },
        "TransformOutput": {"S3OutputPath": options.output_uri, "Accept": accept, "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": options.instance_count},
    }
    if options.strategy:
        request["BatchStrategy"] = options.strategy
    if options.max_payload_mb is not None:
        request["MaxPayloadInMB"] = options.max_payload_mb
    if options.concurrency is not None:
        request["MaxConcurrentTransforms"] = options.concurrency
    if manifest.tags:
        request["Tags"] = tags(manifest)
    return request
