"""The AWS adapter: the only place smbyo imports boto3 or botocore.

:func:`connect` opens one session from ``--profile``/``--region`` (else the usual ``AWS_*``
variables and ``~/.aws``); ``AWS_ENDPOINT_URL`` is honoured by boto3 itself, which is how the tests
point every client at a local moto server. Clients share one retry policy (botocore's ``standard``
mode by default, ``adaptive`` with ``SMBYO_AWS_RETRY_MODE=adaptive``) and a user agent naming smbyo.
Methods are typed and small; every call runs inside :func:`sm_byo.aws.errors.translated`, so callers
only ever see smbyo errors.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sm_byo import __version__
from sm_byo.aws.errors import AwsNotFound, error_code, translated
from sm_byo.errors import AwsAccessError

DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class RegistryAuth:
    """Docker credentials for ECR (from GetAuthorizationToken). Kept in memory only; never printed."""

    username: str
    password: str
    registry: str

    def auth_config(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password, "serveraddress": self.registry}

    def __repr__(self) -> str:
        return f"RegistryAuth(username={self.username!r}, password='***', registry={self.registry!r})"


def connect(profile: str | None = None, region: str | None = None, *, max_attempts: int | None = None) -> AwsAdapter:
    """A session for ``profile``/``region`` (None: the environment's defaults)."""
    import boto3

    with translated("opening an AWS session"):
        # The contract (and AWS CLI v2) honour AWS_REGION; botocore itself reads only AWS_DEFAULT_REGION.
        session = boto3.session.Session(profile_name=profile, region_name=region or os.environ.get("AWS_REGION"))
    return AwsAdapter(session, max_attempts=max_attempts or DEFAULT_MAX_ATTEMPTS)


class AwsAdapter:
    """Typed calls to ECR, S3, SageMaker, SageMaker Runtime, CloudWatch Logs and STS."""

    def __init__(self, session: Any, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS):
        self.session = session
        self.max_attempts = max_attempts
        self._clients: dict[str, Any] = {}

    # --- session ----------------------------------------------------------------------------------
    @property
    def region(self) -> str:
        from botocore.exceptions import NoRegionError

        name = self.session.region_name
        if not name:
            with translated("choosing a region"):
                raise NoRegionError()
        return str(name)

    def client(self, service: str, *, region: str | None = None) -> Any:
        """One cached client per service (and region: None is the session's), with smbyo's retry policy and user
        agent. A region is given for services with one endpoint, e.g. the Marketplace Catalog API's us-east-1."""
        key = service if region is None else f"{service}@{region}"
        if key not in self._clients:
            from botocore.config import Config

            config = Config(
                retries={"mode": os.environ.get("SMBYO_AWS_RETRY_MODE", "standard"), "max_attempts": self.max_attempts},
                user_agent_extra=f"smbyo/{__version__}",
                s3={"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else None,
            )
            with translated(f"creating the {service} client"):
                self._clients[key] = self.session.client(service, region_name=region or self.region, config=config)
        return self._clients[key]

    @cached_property
    def account_id(self) -> str:
        with translated("sts:GetCallerIdentity"):
            return str(self.client("sts").get_caller_identity()["Account"])

    # --- ECR --------------------------------------------------------------------------------------
    def describe_repository(self, name: str) -> dict[str, Any] | None:
        ecr = self.client("ecr")
        try:
            with translated("ecr:DescribeRepositories"):
                return dict(ecr.describe_repositories(repositoryNames=[name])["repositories"][0])
        except AwsNotFound:
            return None

    def create_repository(self, name: str, *, tag_mutability: str, scan_on_push: bool) -> dict[str, Any]:
        with translated("ecr:CreateRepository"):
            response = self.client("ecr").create_repository(
                repositoryName=name,
                imageTagMutability=tag_mutability,
                imageScanningConfiguration={"scanOnPush": scan_on_push},
            )
        return dict(response["repository"])

    def image_scan_findings(self, repository: str, image_id: dict[str, str]) -> dict[str, Any] | None:
        """ECR's basic scan findings of one image (None when the image or its scan is not found); every page.
        https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImageScanFindings.html"""
        paginator = self.client("ecr").get_paginator("describe_image_scan_findings")
        merged: dict[str, Any] = {}
        try:
            with translated("ecr:DescribeImageScanFindings"):
                for page in paginator.paginate(repositoryName=repository, imageId=image_id):
                    findings = dict(page.get("imageScanFindings") or {})
                    merged.setdefault("status", page.get("imageScanStatus") or {})
                    merged.setdefault("severity_counts", findings.get("findingSeverityCounts") or {})
                    merged.setdefault("findings", []).extend(findings.get("findings") or [])
        except AwsNotFound:
            return None
        return merged

    def image_tags(self, repository: str) -> set[str]:
        """Every tag in ``repository`` (all pages of ListImages, tagged images only).
        https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ListImages.html"""
        paginator = self.client("ecr").get_paginator("list_images")
        with translated("ecr:ListImages"):
            pages = paginator.paginate(repositoryName=repository, filter={"tagStatus": "TAGGED"})
            return {str(image["imageTag"]) for page in pages for image in page.get("imageIds", [])}

    def delete_image_tags(self, repository: str, tags: list[str]) -> dict[str, str]:
        """Untag ``tags`` in ``repository`` (an image goes once its last tag does); the tags ECR refused, with why.
        At most 100 image ids a call: https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_BatchDeleteImage.html"""
        refused: dict[str, str] = {}
        for start in range(0, len(tags), 100):
            ids = [{"imageTag": tag} for tag in tags[start : start + 100]]
            with translated("ecr:BatchDeleteImage"):
                response = self.client("ecr").batch_delete_image(repositoryName=repository, imageIds=ids)
            for failure in response.get("failures", []):
                tag = str(failure.get("imageId", {}).get("imageTag", ""))
                refused[tag] = f"{failure.get('failureCode', '')}: {failure.get('failureReason', '')}".strip(": ")
        return refused

    def registry_auth(self) -> RegistryAuth:
        """Decode GetAuthorizationToken's ``AWS:<password>`` for docker-py's ``auth_config``."""
        with translated("ecr:GetAuthorizationToken"):
            data = self.client("ecr").get_authorization_token()["authorizationData"][0]
        username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        registry = str(data["proxyEndpoint"]).removeprefix("https://").removeprefix("http://").rstrip("/")
        return RegistryAuth(username=username, password=password, registry=registry)

    # --- S3 ---------------------------------------------------------------------------------------
    def bucket_exists(self, bucket: str) -> bool:
        try:
            with translated("s3:HeadBucket"):
                self.client("s3").head_bucket(Bucket=bucket)
        except AwsNotFound:
            return False
        return True

    def bucket_owned_by(self, bucket: str, account: str) -> bool | None:
        """Whether ``bucket`` belongs to ``account`` (None: it does not exist). HeadBucket with ExpectedBucketOwner
        fails 403 when "the bucket is owned by a different account"
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html); a 403 also means these
        credentials may not list the bucket, which rules it out just the same."""
        try:
            with translated("s3:HeadBucket"):
                self.client("s3").head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        except AwsNotFound:
            return None
        except AwsAccessError:
            return False
        return True

    def create_bucket(self, bucket: str) -> None:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        with translated("s3:CreateBucket"):
            self.client("s3").create_bucket(**kwargs)

    def head_object(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            with translated("s3:HeadObject"):
                return dict(self.client("s3").head_object(Bucket=bucket, Key=key))
        except AwsNotFound:
            return None

    def upload_file(
        self, path: Path, bucket: str, key: str, *, metadata: dict[str, str], on_bytes: Callable[[int], None]
    ) -> None:
        with translated("s3:PutObject"):
            self.client("s3").upload_file(str(path), bucket, key, ExtraArgs={"Metadata": metadata}, Callback=on_bytes)

    def list_objects(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client("s3").get_paginator("list_objects_v2")
        with translated("s3:ListObjectsV2"):
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                yield from page.get("Contents", [])

    def delete_object(self, bucket: str, key: str) -> None:
        with translated("s3:DeleteObject"):
            self.client("s3").delete_object(Bucket=bucket, Key=key)

    def download_file(self, bucket: str, key: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with translated("s3:GetObject"):
            self.client("s3").download_file(bucket, key, str(target))

    # --- SageMaker --------------------------------------------------------------------------------
    def _sagemaker(self, operation: str, method: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
        with translated(f"sagemaker:{operation}"):
            response = method(**kwargs)
        response.pop("ResponseMetadata", None)
        return dict(response)

    def create_training_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._sagemaker("CreateTrainingJob", self.client("sagemaker").create_training_job, **request)

    def describe_training_job(self, name: str) -> dict[str, Any]:
        sm = self.client("sagemaker")
        return self._sagemaker("DescribeTrainingJob", sm.describe_training_job, TrainingJobName=name)

    # Hyperparameter tuning jobs: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html
    def create_hyper_parameter_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        sm = self.client("sagemaker")
        return self._sagemaker("CreateHyperParameterTuningJob", sm.create_hyper_parameter_tuning_job, **request)

    def describe_hyper_parameter_tuning_job(self, name: str) -> dict[str, Any]:
        sm = self.client("sagemaker")
        return self._sagemaker(
            "DescribeHyperParameterTuningJob", sm.describe_hyper_parameter_tuning_job, HyperParameterTuningJobName=name
        )

    def list_training_jobs_for_tuning_job(self, name: str) -> list[dict[str, Any]]:
        """Every trial of the tuning job (all pages), oldest first: the order the trials were created.
        https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTrainingJobsForHyperParameterTuningJob.html"""
        paginator = self.client("sagemaker").get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
        summaries: list[dict[str, Any]] = []
        with translated("sagemaker:ListTrainingJobsForHyperParameterTuningJob"):
            pages = paginator.paginate(HyperParameterTuningJobName=name, SortBy="CreationTime", SortOrder="Ascending")
            for page in pages:
                summaries += page.get("TrainingJobSummaries", [])
        return summaries

    def stop_hyper_parameter_tuning_job(self, name: str) -> None:
        stop = self.client("sagemaker").stop_hyper_parameter_tuning_job
        self._sagemaker("StopHyperParameterTuningJob", stop, HyperParameterTuningJobName=name)

    def list_endpoints(self) -> list[dict[str, Any]]:
        return self._list_sagemaker("ListEndpoints", "Endpoints")

    def list_endpoint_configs(self) -> list[dict[str, Any]]:
        return self._list_sagemaker("ListEndpointConfigs", "EndpointConfigs")

    def list_models(self) -> list[dict[str, Any]]:
        return self._list_sagemaker("ListModels", "Models")

    def list_model_packages(self) -> list[dict[str, Any]]:
        return self._list_sagemaker("ListModelPackages", "ModelPackageSummaryList")

    def list_algorithms(self) -> list[dict[str, Any]]:
        return self._list_sagemaker("ListAlgorithms", "AlgorithmSummaryList")

    def _list_sagemaker(self, operation: str, key: str) -> list[dict[str, Any]]:
        """Every summary of a SageMaker List* call (all pages): ``operation`` e.g. ``ListModels``, ``key`` the
        response's list, e.g. ``Models``. One method per call above, so the permission table sees each."""
        method = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
        paginator = self.client("sagemaker").get_paginator(method)
        with translated(f"sagemaker:{operation}"):
            return [dict(item) for page in paginator.paginate() for item in page.get(key, [])]

    def resource_tags(self, arn: str) -> dict[str, str]:
        """A SageMaker resource's tags (all pages). https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTags.html"""
        paginator = self.client("sagemaker").get_paginator("list_tags")
        with translated("sagemaker:ListTags"):
            pages = paginator.paginate(ResourceArn=arn)
            return {str(tag["Key"]): str(tag["Value"]) for page in pages for tag in page.get("Tags", [])}

    def describe_model(self, name: str) -> dict[str, Any]:
        return self._sagemaker("DescribeModel", self.client("sagemaker").describe_model, ModelName=name)

    def create_model(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._sagemaker("CreateModel", self.client("sagemaker").create_model, **request)

    def delete_model(self, name: str) -> None:
        self._sagemaker("DeleteModel", self.client("sagemaker").delete_model, ModelName=name)

    def create_transform_job(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._sagemaker("CreateTransformJob", self.client("sagemaker").create_transform_job, **request)

    def describe_transform_job(self, name: str) -> dict[str, Any]:
        sm = self.client("sagemaker")
        return self._sagemaker("DescribeTransformJob", sm.describe_transform_job, TransformJobName=name)

    def create_endpoint_config(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._sagemaker("CreateEndpointConfig", self.client("sagemaker").create_endpoint_config, **request)

    def describe_endpoint_config(self, name: str) -> dict[str, Any]:
        sm = self.client("sagemaker")
        return self._sagemaker("DescribeEndpointConfig", sm.describe_endpoint_config, EndpointConfigName=name)

    def delete_endpoint_config(self, name: str) -> None:
        sm = self.client("sagemaker")
        self._sagemaker("DeleteEndpointConfig", sm.delete_endpoint_config, EndpointConfigName=name)

    def create_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._sagemaker("CreateEndpoint", self.client("sagemaker").create_endpoint, **request)

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        return self._sagemaker("DescribeEndpoint", self.client("sagemaker").describe_endpoint, EndpointName=name)

    def delete_endpoint(self, name: str) -> None:
        self._sagemaker("DeleteEndpoint", self.client("sagemaker").delete_endpoint, EndpointName=name)

    def describe_algorithm(self, name: str) -> dict[str, Any]:
        return self._sagemaker("DescribeAlgorithm", self.client("sagemaker").describe_algorithm, AlgorithmName=name)

    def describe_model_package(self, name: str) -> dict[str, Any]:
        sm = self.client("sagemaker")
        return self._sagemaker("DescribeModelPackage", sm.describe_model_package, ModelPackageName=name)

    # --- SageMaker Runtime ------------------------------------------------------------------------
    def invoke_endpoint(self, request: dict[str, Any]) -> dict[str, Any]:
        with translated("sagemaker-runtime:InvokeEndpoint"):
            response = self.client("sagemaker-runtime").invoke_endpoint(**request)
        return {
            "Body": response["Body"].read(),
            "ContentType": response.get("ContentType", ""),
            "InvokedProductionVariant": response.get("InvokedProductionVariant"),
            "CustomAttributes": response.get("CustomAttributes"),
        }

    # --- CloudWatch Logs --------------------------------------------------------------------------
    def log_streams(self, group: str, prefix: str) -> list[str]:
        """Stream names under ``prefix`` (empty when the group does not exist yet)."""
        logs = self.client("logs")
        names: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": group}
        if prefix:
            kwargs["logStreamNamePrefix"] = prefix
        try:
            with translated("logs:DescribeLogStreams"):
                while True:
                    page = logs.describe_log_streams(**kwargs)
                    names += [stream["logStreamName"] for stream in page.get("logStreams", [])]
                    if not page.get("nextToken"):
                        break
                    kwargs["nextToken"] = page["nextToken"]
        except AwsNotFound:
            return []
        return names

    def log_events(self, group: str, stream: str, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of events after ``token`` (None: from the start) and the token for the next page."""
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        with translated("logs:GetLogEvents"):
            page = self.client("logs").get_log_events(**kwargs)
        return list(page.get("events", [])), page.get("nextForwardToken")


__all__ = ["AwsAdapter", "RegistryAuth", "connect", "error_code"]
