"""CreateEndpointConfig, CreateEndpoint and InvokeEndpoint requests (pure: no I/O)."""

from __future__ import annotations

from typing import Any

from sm_byo.manifest import Manifest
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
