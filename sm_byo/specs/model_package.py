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
    """The CreateModelPackage kwargs serving ``model_data`` with ``image``, registered as ``name``.

    A model package has an InferenceSpecification only (no training image:
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html), so ``image``
    is the serving image: image.inference's when the manifest builds one."""
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
    kwargs["Tags"] = tags(manifest, origins)
    return Request("CreateModelPackage", kwargs, origins)


def algorithm_package_request(manifest: Manifest, *, name: str, algorithm: str, model_data: str) -> Request:
    """The CreateModelPackage kwargs of a buyer's model package: ``algorithm``'s inference image serving
    ``model_data``, a model it trained (SourceAlgorithmSpecification; the package takes the algorithm's
    InferenceSpecification). The SageMaker Python SDK makes the same request for ``AlgorithmEstimator.create_model``;
    a subscribed algorithm serves only through such a package ("you must create a model package before you can use
    it to get inferences": https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-mkt-buy.html).
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_SourceAlgorithm.html"""
    source = {"AlgorithmName": algorithm, "ModelDataUrl": model_data}
    kwargs: dict[str, Any] = {
        "ModelPackageName": name,
        "SourceAlgorithmSpecification": {"SourceAlgorithms": [source]},
        "CertifyForMarketplace": False,  # the buyer's own package: nothing to list
    }
    origins: dict[RequestPath, Origin] = {
        ("ModelPackageName",): ("name",),
        ("SourceAlgorithmSpecification", "SourceAlgorithms", 0, "AlgorithmName"): ("--algorithm",),
        ("SourceAlgorithmSpecification", "SourceAlgorithms", 0, "ModelDataUrl"): ("--model",),
    }
    kwargs["Tags"] = tags(manifest, origins)
    return Request("CreateModelPackage", kwargs, origins)
