"""CreateEndpointConfig / CreateEndpoint / InvokeEndpoint builders: one name for model, config and endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_byo.errors import UsageError
from sm_byo.manifest import Manifest, load_manifest
from sm_byo.specs.hosting import EndpointOptions, endpoint_config_request, endpoint_request, invoke_request

EXAMPLE = Path(__file__).resolve().parents[3] / "algorithms" / "decision_trees" / "smbyo.yaml"


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest(EXAMPLE).manifest


def test_the_config_serves_the_model_of_the_same_name(manifest: Manifest) -> None:
    config = endpoint_config_request(manifest, EndpointOptions(name="e", instance_count=2))
    assert config.operation == "CreateEndpointConfig"
    assert config.kwargs == {
        "EndpointConfigName": "e",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": "e",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 2,
                "InitialVariantWeight": 1.0,
            }
        ],
        "Tags": [{"Key": "smbyo:project", "Value": manifest.name}],  # how `smbyo delete project` finds it
    }
    assert config.origin_of(("EndpointConfigName",)) == ("name",)
    assert config.origin_of(("ProductionVariants", 0, "InstanceType")) == ("inference", "realtime_instance_types", 0)
    assert config.origin_of(("ProductionVariants", 0, "InitialInstanceCount")) == ("--instance-count",)
    endpoint = endpoint_request(manifest, EndpointOptions(name="e"))
    assert (endpoint.operation, endpoint.kwargs) == ("CreateEndpoint", {
        "EndpointName": "e", "EndpointConfigName": "e", "Tags": [{"Key": "smbyo:project", "Value": manifest.name}],
    })  # fmt: skip


def test_chosen_values_name_their_flags(manifest: Manifest) -> None:
    options = EndpointOptions(name="mine", instance_type="ml.c5.xlarge", name_flag="--name")
    config = endpoint_config_request(manifest, options)
    assert config.origin_of(("ProductionVariants", 0, "InstanceType")) == ("--instance-type",)
    assert config.origin_of(("ProductionVariants", 0, "ModelName")) == ("--name",)
    assert endpoint_request(manifest, options).origin_of(("EndpointName",)) == ("--name",)
    with pytest.raises(UsageError, match="--instance-type"):
        endpoint_config_request(manifest, EndpointOptions(name="e", instance_type="c5.xlarge"))


def test_invoke_request_sends_only_what_was_given() -> None:
    assert invoke_request("e", b"1,2", content_type="text/csv", accept=None, custom_attributes=None) == {
        "EndpointName": "e",
        "Body": b"1,2",
        "ContentType": "text/csv",
    }
    assert invoke_request("e", b"", content_type="text/csv", accept="application/json", custom_attributes="x") == {
        "EndpointName": "e",
        "Body": b"",
        "ContentType": "text/csv",
        "Accept": "application/json",
        "CustomAttributes": "x",
    }
