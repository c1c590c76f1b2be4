"""CreateEndpointConfig, CreateEndpoint and InvokeEndpoint requests (pure: no I/O)."""

from __future__ import annotations

from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import Manifest
from sm_byo.runtime.payload import REALTIME_MAX_PAYLOAD_BYTES, REALTIME_MAX_PAYLOAD_MB
from sm_byo.specs.training import check_instance_type, tags

VARIANT_NAME = "AllTraffic"


def endpoint_config_request(
    manifest: Manifest, *, config_name: str, model_name: str, instance_type: str | None, instance_count: int
) -> dict[str, Any]:
    chosen = check_instance_type(instance_type or manifest.inference.realtime_instance_types[0], "--instance-type")
    request: dict[str, Any] = {
        "EndpointConfigName": config_name,
        "ProductionVariants": [
            {
                "VariantName": VARIANT_NAME,
                "ModelName": model_name,
                "InstanceType": chosen,
                "InitialInstanceCount": instance_count,
                "InitialVariantWeight": 1.0,
            }
        ],
    }
    if manifest.tags:
        request["Tags"] = tags(manifest)
    return request


def endpoint_request(manifest: Manifest, *, endpoint_name: str, config_name: str) -> dict[str, Any]:
    request: dict[str, Any] = {"EndpointName": endpoint_name, "EndpointConfigName": config_name}
    if manifest.tags:
        request["Tags"] = tags(manifest)
    return request


def invoke_request(
    endpoint_name: str, body: bytes, *, content_type: str, accept: str | None, custom_attributes: str | None
) -> dict[str, Any]:
    request: dict[str, Any] = {"EndpointName": endpoint_name, "Body": body, "ContentType": content_type}
    if accept:
        request["Accept"] = accept
    if custom_attributes:
        request["CustomAttributes"] = custom_attributes
    return request


def check_realtime_body(body: bytes, target: str) -> None:
    """Refuse a body SageMaker would refuse: InvokeEndpoint's Body is at most 6 MB (6,291,456 bytes),
    enforced by SageMaker in front of the container
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html).

    ``invoke ENDPOINT`` and ``invoke --local URL`` both check it before sending anything, so a local
    container (which may have been started with a larger batch limit) answers what an endpoint would.
    """
    if len(body) <= REALTIME_MAX_PAYLOAD_BYTES:
        return
    raise UsageError(
        f"the request body is {len(body):,} bytes; a SageMaker real-time endpoint accepts at most "
        f"{REALTIME_MAX_PAYLOAD_BYTES:,} bytes ({REALTIME_MAX_PAYLOAD_MB} MB) per request, so nothing was sent "
        f"to {target}",
        hint="Send fewer rows per request, or run the whole input as a batch transform: `smbyo transform` "
        "(or `smbyo transform --local`) splits it into requests of up to --max-payload-mb (at most 100 MB).",
        details={"body_bytes": len(body), "limit_bytes": REALTIME_MAX_PAYLOAD_BYTES},
    )
