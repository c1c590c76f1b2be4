"""CreateEndpointConfig, CreateEndpoint and InvokeEndpoint requests (pure: no I/O).

``smbyo deploy`` names the model, the endpoint config and the endpoint alike (``--name``, else
``<name>-<timestamp>``), so ``smbyo delete`` finds all three from the endpoint. The builders record
where each value came from, so pre-flight can name the flag or manifest field behind a rejected one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import Manifest
from sm_byo.runtime.payload import REALTIME_MAX_PAYLOAD_BYTES, REALTIME_MAX_PAYLOAD_MB
from sm_byo.specs.request import Origin, Request, RequestPath
from sm_byo.specs.training import check_instance_type, tags

VARIANT_NAME = "AllTraffic"


@dataclass(frozen=True)
class EndpointOptions:
    """An endpoint's names and instances (values already chosen)."""

    name: str  # the endpoint's, its config's and its model's
    instance_type: str | None = None
    instance_count: int = 1
    name_flag: str | None = None  # "--name" when the user chose the name


def _name_origin(options: EndpointOptions) -> Origin:
    return (options.name_flag,) if options.name_flag else ("name",)


def endpoint_config_request(manifest: Manifest, options: EndpointOptions) -> Request:
    """``CreateEndpointConfig``: one variant serving the model of the same name."""
    chosen = check_instance_type(
        options.instance_type or manifest.inference.realtime_instance_types[0], "--instance-type"
    )
    kwargs: dict[str, Any] = {
        "EndpointConfigName": options.name,
        "ProductionVariants": [
            {
                "VariantName": VARIANT_NAME,
                "ModelName": options.name,
                "InstanceType": chosen,
                "InitialInstanceCount": options.instance_count,
                "InitialVariantWeight": 1.0,
            }
        ],
    }
    kwargs["Tags"] = tags(manifest)
    variant: RequestPath = ("ProductionVariants", 0)
    origins: dict[RequestPath, Origin] = {
        ("EndpointConfigName",): _name_origin(options),
        (*variant, "ModelName"): _name_origin(options),
        (*variant, "InstanceType"): ("--instance-type",)
        if options.instance_type
        else ("inference", "realtime_instance_types", 0),
        (*variant, "InitialInstanceCount"): ("--instance-count",),
        ("Tags",): ("tags",),
    }
    return Request("CreateEndpointConfig", kwargs, origins)


def endpoint_request(manifest: Manifest, options: EndpointOptions) -> Request:
    """``CreateEndpoint`` on the endpoint config of the same name."""
    kwargs: dict[str, Any] = {"EndpointName": options.name, "EndpointConfigName": options.name}
    kwargs["Tags"] = tags(manifest)
    origins: dict[RequestPath, Origin] = {
        ("EndpointName",): _name_origin(options),
        ("EndpointConfigName",): _name_origin(options),
        ("Tags",): ("tags",),
    }
    return Request("CreateEndpoint", kwargs, origins)


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
