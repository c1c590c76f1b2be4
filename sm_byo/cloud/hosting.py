"""Real-time endpoints: ``deploy`` (model + config + endpoint, wait for InService), ``invoke``, ``delete``.

The model and endpoint config take the endpoint's name, so ``delete`` finds all three from the
endpoint alone (through DescribeEndpoint and DescribeEndpointConfig).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.aws.errors import AwsNotFound
from sm_byo.cloud.session import default_image, default_role, open_aws, resume_flags
from sm_byo.cloud.waiting import PollSettings, follow
from sm_byo.errors import UsageError
from sm_byo.manifest import LoadedManifest
from sm_byo.reporting import Reporter
from sm_byo.rules import NAME_PATTERN
from sm_byo.specs.hosting import check_realtime_body, endpoint_config_request, endpoint_request, invoke_request
from sm_byo.specs.names import unique_name
from sm_byo.specs.transform import model_request


@dataclass
class EndpointResult:
    endpoint_name: str
    endpoint_arn: str
    status: str
    model_name: str
    config_name: str
    image: str
    elapsed_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint_name": self.endpoint_name,
            "endpoint_arn": self.endpoint_arn,
            "status": self.status,
            "model_name": self.model_name,
            "endpoint_config_name": self.config_name,
            "image": self.image,
            "elapsed_seconds": self.elapsed_seconds,
        }


@dataclass
class InvokeResponse:
    body: bytes
    content_type: str
    endpoint: str
    custom_attributes: str | None = None

    def to_dict(self) -> dict[str, Any]:
        text = self.body.decode("utf-8", errors="replace")
        return {
            "endpoint": self.endpoint,
            "content_type": self.content_type,
            "body": text,
            "custom_attributes": self.custom_attributes,
        }


@dataclass
class DeleteResult:
    endpoint: str
    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "deleted": self.deleted, "missing": self.missing}


def _endpoint_name(loaded: LoadedManifest, name: str | None) -> str:
    if name is None:
        return unique_name(loaded.manifest.name)
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"--name {name!r} is not a valid endpoint name",
            hint="Use 1-63 letters, digits and hyphens, starting and ending with a letter or digit.",
        )
    return name


def deploy_endpoint(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    image: str | None = None,
    model_data: str,
    name: str | None = None,
    instance_type: str | None = None,
    instance_count: int = 1,
    role: str | None = None,
    wait: bool = True,
    timeout: float | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
    settings: PollSettings | None = None,
) -> EndpointResult:
    """CreateModel + CreateEndpointConfig + CreateEndpoint; with ``wait``, Failed raises JobFailed (exit 1)."""
    manifest = loaded.manifest
    endpoint = _endpoint_name(loaded, name)
    chosen_role = default_role(loaded, role)
    config = endpoint_config_request(
        manifest, config_name=endpoint, model_name=endpoint, instance_type=instance_type, instance_count=instance_count
    )
    adapter = open_aws(profile, region, aws)
    chosen_image = image or default_image(adapter, loaded)
    reporter.step(f"Creating model {endpoint} ({chosen_image}, {model_data})")
    adapter.create_model(
        model_request(manifest, model_name=endpoint, image=chosen_image, model_data=model_data, role=chosen_role)
    )
    reporter.step(f"Creating endpoint config and endpoint {endpoint}")
    adapter.create_endpoint_config(config)
    arn = str(
        adapter.create_endpoint(endpoint_request(manifest, endpoint_name=endpoint, config_name=endpoint))["EndpointArn"]
    )
    result = EndpointResult(endpoint, arn, "Creating", endpoint, endpoint, chosen_image)
    if not wait:
        return result
    followed = follow(
        adapter,
        "endpoint",
        endpoint,
        reporter,
        logs=True,
        timeout=timeout,
        flags=resume_flags(profile, region),
        settings=settings,
    )
    followed.outcome.raise_if_failed()
    result.status = followed.outcome.status
    result.elapsed_seconds = round(followed.outcome.elapsed_seconds, 1)
    return result


def invoke_endpoint(
    endpoint: str,
    payload: bytes,
    *,
    content_type: str,
    accept: str | None = None,
    custom_attributes: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
) -> InvokeResponse:
    """One InvokeEndpoint request; a 4xx from the container surfaces as a usage error with its message.

    A body over 6 MB is refused before any AWS call (SageMaker would refuse it: InvokeEndpoint's limit).
    """
    check_realtime_body(payload, f"endpoint {endpoint}")
    adapter = open_aws(profile, region, aws)
    request = invoke_request(
        endpoint, payload, content_type=content_type, accept=accept, custom_attributes=custom_attributes
    )
    response = adapter.invoke_endpoint(request)
    return InvokeResponse(
        body=bytes(response["Body"]),
        content_type=str(response["ContentType"]),
        endpoint=endpoint,
        custom_attributes=response.get("CustomAttributes"),
    )


def delete_endpoint(
    endpoint: str,
    reporter: Reporter,
    *,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
) -> DeleteResult:
    """Delete the endpoint, then its config, then the config's models (whatever of them still exists)."""
    adapter = open_aws(profile, region, aws)
    result = DeleteResult(endpoint)
    description = adapter.describe_endpoint(endpoint)
    config_name = str(description.get("EndpointConfigName", endpoint))
    models: list[str] = []
    try:
        config = adapter.describe_endpoint_config(config_name)
        models = [str(variant["ModelName"]) for variant in config.get("ProductionVariants", [])]
    except AwsNotFound:
        result.missing.append(f"endpoint-config/{config_name}")
    reporter.step(f"Deleting endpoint {endpoint}")
    adapter.delete_endpoint(endpoint)
    result.deleted.append(f"endpoint/{endpoint}")
    if f"endpoint-config/{config_name}" not in result.missing:
        adapter.delete_endpoint_config(config_name)
        result.deleted.append(f"endpoint-config/{config_name}")
    for model in models:
        try:
            adapter.delete_model(model)
            result.deleted.append(f"model/{model}")
        except AwsNotFound:
            result.missing.append(f"model/{model}")
    return result
