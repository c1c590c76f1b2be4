"""Real-time endpoints: ``deploy`` (model + config + endpoint, wait for InService) and ``invoke``.

``deploy`` is a plan of three requests (``sm_byo.specs``), checked before any is sent (``--dry-run``
prints it); a step that fails deletes what the earlier steps of this run created
(``sm_byo.cloud.executor.Created``). The model and endpoint config take the endpoint's name, so
``smbyo delete endpoint`` (sm_byo.cloud.delete) finds all three from the endpoint alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.cloud.executor import Created
from sm_byo.cloud.published import Product, create_product_model, product_model_requests, serving_product
from sm_byo.cloud.session import (
    account_registries,
    default_role,
    open_aws,
    plan_account,
    plan_image,
    plan_ownership,
)
from sm_byo.cloud.waiting import PollSettings, follow
from sm_byo.manifest import LoadedManifest
from sm_byo.options import DeployCommand
from sm_byo.plan import Plan
from sm_byo.preflight import Ownership
from sm_byo.reporting import Reporter
from sm_byo.specs.hosting import (
    EndpointOptions,
    check_realtime_body,
    endpoint_config_request,
    endpoint_request,
    invoke_request,
)
from sm_byo.specs.names import unique_name
from sm_byo.specs.published import inference_manifest, inference_origins
from sm_byo.specs.transform import ModelOptions, model_request


@dataclass
class EndpointResult:
    endpoint_name: str
    endpoint_arn: str
    status: str
    model_name: str
    config_name: str
    image: str | None  # None when the model runs a model package (``model_package``): it brings its image
    elapsed_seconds: float | None = None
    model_package: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint_name": self.endpoint_name,
            "endpoint_arn": self.endpoint_arn,
            "status": self.status,
            "model_name": self.model_name,
            "endpoint_config_name": self.config_name,
            "image": self.image,
            "model_package": self.model_package,
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


def deploy_plan(loaded: LoadedManifest, options: DeployCommand, aws: AwsAdapter, reporter: Reporter) -> Plan:
    """CreateModel, CreateEndpointConfig and CreateEndpoint, all named like the endpoint; checked.

    With ``--model-package`` (or ``--algorithm`` and its trained ``--model``: CreateModelPackage first) the model
    runs the published product, and the endpoint's instance type is one the product supports."""
    manifest = loaded.manifest
    name = options.name or unique_name(manifest.name)
    role = default_role(loaded, options.role)
    product = serving_product(
        aws, model_package=options.model_package, algorithm=options.algorithm, model=options.model_data,
        image=options.image, what="an endpoint",
    )  # fmt: skip
    if product is not None:
        ownership = plan_ownership(aws, dry_run=options.dry_run)
        return _product_deploy_plan(loaded, options, product, name, role, ownership)
    image = options.image
    if image is None:
        account = plan_account(aws, reporter, dry_run=options.dry_run, role=role)
        image = plan_image(aws, loaded, account, dry_run=options.dry_run, role="inference")
    flags = {"image": "--image", "model_data": "--model"}
    if options.name:
        flags["name"] = "--name"
    if options.role:
        flags["role"] = "--role"
    endpoint = EndpointOptions(
        name=name,
        instance_type=options.instance_type,
        instance_count=options.instance_count,
        name_flag="--name" if options.name else None,
    )
    requests = (
        model_request(
            manifest,
            ModelOptions(model_name=name, image=image, model_data=options.model_data, role=role, flags=flags),
        ),
        endpoint_config_request(manifest, endpoint),
        endpoint_request(manifest, endpoint),
    )
    registries = account_registries(aws, dry_run=options.dry_run)
    ownership = plan_ownership(aws, dry_run=options.dry_run)
    return Plan("sagemaker", requests).check(loaded, registries=registries, ownership=ownership)


def _product_deploy_plan(
    loaded: LoadedManifest, options: DeployCommand, product: Product, name: str, role: str, ownership: Ownership | None
) -> Plan:
    """The deploy plan of a published product: its model requests, then the endpoint config and endpoint, whose
    default instance type is the product's first SupportedRealtimeInferenceInstanceTypes."""
    manifest = loaded.manifest
    models = product_model_requests(
        manifest, product, "realtime", name=name, role=role, role_flag="--role" if options.role else None,
        choices={"instance_type": options.instance_type},
    )  # fmt: skip
    if options.name:
        models[-1].origins[("ModelName",)] = ("--name",)
    endpoint = EndpointOptions(
        name=name,
        instance_type=options.instance_type,
        instance_count=options.instance_count,
        name_flag="--name" if options.name else None,
    )
    served = inference_manifest(manifest, product.inference)
    config = inference_origins(endpoint_config_request(served, endpoint), product.flag)
    requests = (*models, config, endpoint_request(manifest, endpoint))
    return Plan("sagemaker", requests).check(loaded, ownership=ownership)


def deploy_endpoint(
    loaded: LoadedManifest,
    reporter: Reporter,
    options: DeployCommand,
    *,
    aws: AwsAdapter | None = None,
    settings: PollSettings | None = None,
) -> EndpointResult | Plan:
    """``smbyo deploy``: the plan (``--dry-run``), or the endpoint once it is InService (with ``wait``)."""
    adapter = open_aws(options.cloud.profile, options.cloud.region, aws)
    plan = deploy_plan(loaded, options, adapter, reporter)
    if options.dry_run:
        return plan
    return run_deploy(adapter, plan, reporter, options, settings)


def run_deploy(
    aws: AwsAdapter,
    plan: Plan,
    reporter: Reporter,
    options: DeployCommand,
    settings: PollSettings | None = None,
) -> EndpointResult:
    """The SageMaker executor of a deploy plan; a failed step deletes what the earlier ones created.

    With ``wait``, an endpoint that ends Failed raises JobFailed (exit 1) and is kept for inspection
    (`smbyo delete` removes it and its config and model).
    """
    model = plan.request("CreateModel").kwargs
    config = plan.request("CreateEndpointConfig").kwargs
    endpoint = plan.request("CreateEndpoint").kwargs
    name = str(endpoint["EndpointName"])
    container = model["PrimaryContainer"]
    with Created(aws).undone_on_failure(reporter) as created:
        create_product_model(created, plan, reporter, timeout=options.cloud.timeout, settings=settings)
        variant = config["ProductionVariants"][0]
        reporter.step(
            f"Creating endpoint config {config['EndpointConfigName']} "
            f"({variant['InitialInstanceCount']} x {variant['InstanceType']})"
        )
        created.send(plan.request("CreateEndpointConfig"))
        reporter.step(f"Creating endpoint {name}")
        arn = str(created.send(plan.request("CreateEndpoint"))["EndpointArn"])
    result = EndpointResult(
        name, arn, "Creating", str(model["ModelName"]), str(config["EndpointConfigName"]), container.get("Image"),
        model_package=container.get("ModelPackageName"),
    )  # fmt: skip
    cloud = options.cloud
    if not cloud.wait:
        reporter.detail(f"not waiting; resume with `smbyo wait endpoint {name}{cloud.resume_flags}`")
        return result
    followed = follow(
        aws,
        "endpoint",
        name,
        reporter,
        logs=cloud.logs,
        timeout=cloud.timeout,
        flags=cloud.resume_flags,
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
