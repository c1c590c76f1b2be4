"""CreateModelPackage from the manifest: a serving image plus a trained model artifact.

Pure: no I/O. A Marketplace model package is unversioned (ModelPackageName, no group); its
validation profile is a batch transform only, since there is nothing to train.
"""

from __future__ import annotations

from typing import Any

from sm_byo.manifest import Manifest
from sm_byo.specs.algorithm import inference_specification, tags
from sm_byo.specs.request import Origin, Request, RequestPath
from sm_byo.specs.validation import ValidationLocations, validation_specification


def create_model_package_request(
    manifest: Manifest, *, image: str, model_data: str, name: str, locations: ValidationLocations
) -> Request:
    """The CreateModelPackage kwargs serving ``model_data`` with ``image``, registered as ``name``."""
    origins: dict[RequestPath, Origin] = {
        ("ModelPackageName",): ("name",),
        ("ModelPackageDescription",): ("description",),
        ("ValidationSpecification",): ("validation",),
        ("CertifyForMarketplace",): ("marketplace", "certify"),
    }
    kwargs: dict[str, Any] = {"ModelPackageName": name}
    if manifest.description:
        kwargs["ModelPackageDescription"] = manifest.description
    kwargs["InferenceSpecification"] = inference_specification(manifest, image, origins, model_data=model_data)
    if manifest.validation is not None:
        kwargs["ValidationSpecification"] = validation_specification(
            manifest, locations, with_training=False, base=("ValidationSpecification",), origins=origins
        )
    kwargs["CertifyForMarketplace"] = manifest.marketplace.certify
    if manifest.tags:
        kwargs["Tags"] = tags(manifest, origins)
    return Request("CreateModelPackage", kwargs, origins)
