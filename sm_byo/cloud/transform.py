"""``smbyo transform`` on SageMaker: the plan (upload, CreateModel, CreateTransformJob), checked, then run.

The requests are the ones ``transform --local`` runs too (``sm_byo.specs.transform``); here the model
is an ``s3://`` artifact (a model is created for it) or the name of an existing model, the input an
S3 prefix (a local file or directory is uploaded first) and the output an S3 prefix. Every request
is checked before anything is uploaded or created; ``--dry-run`` prints the plan and sends nothing.
When CreateTransformJob fails, the model this run created is deleted again. After the job, the
``.out`` files are listed (and downloaded with ``--download DIR``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.cloud.executor import Created
from sm_byo.cloud.published import create_product_model, product_model_requests, serving_product
from sm_byo.cloud.s3 import PlannedUpload, download_outputs, list_outputs, plan_upload, send_uploads
from sm_byo.cloud.session import (
    account_registries,
    bucket_name,
    default_role,
    open_aws,
    plan_account,
    plan_image,
    plan_ownership,
)
from sm_byo.cloud.waiting import PollSettings, follow
from sm_byo.errors import UsageError
from sm_byo.manifest import LoadedManifest
from sm_byo.options import TransformCommand
from sm_byo.plan import Plan, upload_step
from sm_byo.reporting import Reporter
from sm_byo.results import TransformResult
from sm_byo.specs.names import data_prefix, unique_name
from sm_byo.specs.published import inference_manifest, inference_origins
from sm_byo.specs.request import Request
from sm_byo.specs.transform import ModelOptions, model_request, transform_job_request, transform_options


@dataclass(frozen=True)
class CloudTransformPlan:
    """The plan, plus what executing it needs and the printed plan does not show (the files to send)."""

    plan: Plan
    bucket: str | None
    uploads: tuple[PlannedUpload, ...]


def _is_artifact(model: str) -> bool:
    return model.startswith("s3://")


def _check_model(model: str) -> None:
    """A local path where SageMaker needs S3 is a common slip: say so instead of 'not a model name'."""
    if not _is_artifact(model) and ("/" in model or Path(model).expanduser().exists()):
        raise UsageError(
            f"--model {model}: a SageMaker transform needs the model artifact on S3 (s3://.../model.tar.gz) "
            "or the name of an existing SageMaker model",
            hint="Pass the model_artifacts URI `smbyo train` printed, upload the archive (`aws s3 cp`), or add "
            "--local to transform with local Docker.",
        )


def _account_role(loaded: LoadedManifest, options: TransformCommand) -> str | None:
    """The role whose account a dry run without credentials assumes (not required for a model name)."""
    validation = loaded.manifest.validation
    return options.role or (validation.role if validation else None)


def cloud_transform_plan(
    loaded: LoadedManifest, options: TransformCommand, aws: AwsAdapter, reporter: Reporter
) -> CloudTransformPlan:
    """Upload, CreateModel (for an artifact or a published product), CreateTransformJob; pre-flighted.

    With ``--model-package`` (or ``--algorithm`` and its trained ``--model``) the model runs the published
    product, and the job's content types and instance type are the product's (``sm_byo.cloud.published``)."""
    manifest = loaded.manifest
    product = serving_product(
        aws, model_package=options.model_package, algorithm=options.algorithm, model=options.model,
        image=options.image, what="a transform job",
    )  # fmt: skip
    if product is None:
        _check_model(options.model)
    artifact = product is None and _is_artifact(options.model)
    local_input = not options.input.startswith("s3://")
    role = default_role(loaded, options.role) if artifact or product else None
    needs_account = local_input or (artifact and not options.image)
    account = (
        plan_account(aws, reporter, dry_run=options.dry_run, role=role or _account_role(loaded, options))
        if needs_account
        else None
    )
    name = unique_name(manifest.name)
    steps: list[Request] = []
    uploads: list[PlannedUpload] = []
    bucket = bucket_name(aws.region, account) if account else None
    input_uri = options.input
    if local_input:
        assert bucket is not None
        source = Path(options.input).expanduser().absolute()
        base = f"{data_prefix(manifest)}transform-input"
        planned = plan_upload(source, bucket, base, "--input", project=manifest.name)
        uploads.append(planned)
        steps.append(upload_step(str(planned.source), planned.uri, "--input"))
        input_uri = planned.uri
    model_name = options.model
    if product is not None:
        assert role is not None
        model_name = name
        choices = {"content_type": options.content_type, "accept": options.accept,
                   "instance_type": options.instance_type}  # fmt: skip
        steps += product_model_requests(manifest, product, "transform", name=name, role=role,
                                        role_flag="--role" if options.role else None, choices=choices)  # fmt: skip
    elif artifact:
        assert role is not None
        model_name = name
        image = options.image or plan_image(aws, loaded, str(account), dry_run=options.dry_run, role="inference")
        steps.append(
            model_request(
                manifest,
                ModelOptions(
                    model_name=name,
                    image=image,
                    model_data=options.model,
                    role=role,
                    flags={"image": "--image", "model_data": "--model", **({"role": "--role"} if options.role else {})},
                ),
            )
        )
    options_for_request = transform_options(
        options,
        job_name=name,
        model_name=model_name,
        input_uri=input_uri,
        output_uri=options.output,
        flags={} if artifact or product else {"model_name": "--model"},
    )
    if product is None:
        steps.append(transform_job_request(manifest, options_for_request))
    else:
        served = inference_manifest(manifest, product.inference)
        steps.append(inference_origins(transform_job_request(served, options_for_request), product.flag))
    registries = account_registries(aws, dry_run=options.dry_run) if artifact else frozenset()
    ownership = plan_ownership(aws, dry_run=options.dry_run)
    plan = Plan("sagemaker", tuple(steps)).check(loaded, registries=registries, ownership=ownership)
    return CloudTransformPlan(plan, bucket, tuple(uploads))


def transform_cloud(
    loaded: LoadedManifest,
    reporter: Reporter,
    options: TransformCommand,
    *,
    aws: AwsAdapter | None = None,
    settings: PollSettings | None = None,
) -> TransformResult | Plan:
    """Run a batch transform job; with ``wait``, Failed/Stopped raise JobFailed (exit 1)."""
    options.refuse_other_mode()
    adapter = open_aws(options.cloud.profile, options.cloud.region, aws)
    planned = cloud_transform_plan(loaded, options, adapter, reporter)
    if options.dry_run:
        return planned.plan
    return run_cloud_transform(adapter, planned, reporter, options, settings)


def run_cloud_transform(
    aws: AwsAdapter,
    planned: CloudTransformPlan,
    reporter: Reporter,
    options: TransformCommand,
    settings: PollSettings | None = None,
) -> TransformResult:
    """The SageMaker executor of a transform plan: upload, create (undone if a later step fails), follow."""
    send_uploads(aws, planned.uploads, reporter)
    job = planned.plan.request("CreateTransformJob").kwargs
    model = next((r.kwargs for r in planned.plan.requests if r.operation == "CreateModel"), None)
    with Created(aws).undone_on_failure(reporter) as created:
        if model is not None:
            create_product_model(created, planned.plan, reporter, timeout=options.cloud.timeout, settings=settings)
        reporter.step(f"Creating transform job {job['TransformJobName']} (model {job['ModelName']})")
        response = created.send(planned.plan.request("CreateTransformJob"))
    result = TransformResult(
        job_name=str(job["TransformJobName"]),
        where="sagemaker",
        status="InProgress",
        model_name=str(job["ModelName"]),
        input=str(job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]),
        output=str(job["TransformOutput"]["S3OutputPath"]),
        image=model["PrimaryContainer"].get("Image") if model else None,
        job_arn=str(response.get("TransformJobArn", "")),
        settings=_settings(job, {}),
        model_package=model["PrimaryContainer"].get("ModelPackageName") if model else None,
    )
    cloud = options.cloud
    if not cloud.wait:
        reporter.detail(f"not waiting; resume with `smbyo wait transform-job {result.job_name}{cloud.resume_flags}`")
        return result
    followed = follow(
        aws,
        "transform-job",
        result.job_name,
        reporter,
        logs=cloud.logs,
        timeout=cloud.timeout,
        flags=cloud.resume_flags,
        settings=settings,
    )
    followed.outcome.raise_if_failed()
    result.status = followed.outcome.status
    result.elapsed_seconds = followed.outcome.elapsed_seconds
    result.settings = _settings(job, followed.outcome.description)
    result.outputs = list_outputs(aws, result.output, ".out", "--output")
    if options.download is not None:
        result.downloaded = download_outputs(aws, result.outputs, result.output, options.download, "--download")
    return result


def _settings(request: Mapping[str, Any], description: Mapping[str, Any]) -> dict[str, Any]:
    """What the job ran with: DescribeTransformJob's values, else the request's (None: the container's)."""

    def value(*path: str) -> Any:
        for source in (description, request):
            node: Any = source
            for key in path:
                node = node.get(key) if isinstance(node, Mapping) else None
            if node is not None:
                return node
        return None

    return {
        "content_type": value("TransformInput", "ContentType"),
        "accept": value("TransformOutput", "Accept"),
        "split_type": value("TransformInput", "SplitType"),
        "strategy": value("BatchStrategy"),
        "max_payload_mb": value("MaxPayloadInMB"),
        "concurrency": value("MaxConcurrentTransforms"),
        "assemble_with": value("TransformOutput", "AssembleWith"),
        "instance_type": value("TransformResources", "InstanceType"),
        "instance_count": value("TransformResources", "InstanceCount"),
    }
