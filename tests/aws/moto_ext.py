"""moto extension: SageMaker jobs and endpoints that really run, and ECR backed by a real registry.

Out of the box moto marks training/transform jobs Completed and endpoints InService the moment they
are created, writes no model artifacts and no logs, and answers InvokeEndpoint with canned data. This
module patches moto's classes (in the test process, which also serves moto's HTTP server) so that:

- CreateTrainingJob reports InProgress, then runs the training image with smbyo's local runner
  (``sm_byo.local.training.train_local``) on the channel data read back from moto's S3, writes the
  container log to CloudWatch Logs (``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-1-<ts>``)
  while it runs, puts ``model.tar.gz`` at ``ModelArtifacts.S3ModelArtifacts`` and ends Completed,
  or Failed with the failure file's reason.
- A training job naming a published algorithm (``AlgorithmName``) runs the algorithm's training image with its
  metric definitions, and a model whose container is a model package (``ModelPackageName``) runs the package's
  image and model data (:mod:`tests.aws.moto_algorithms` keeps both).
- CreateTransformJob runs the job's own CreateTransformJob request, with the CreateModel request of
  its model (both as sent over HTTP: moto drops fields), through smbyo's local executor
  (``sm_byo.local.transform.run_transform_job``) on the model and input read back from moto's S3,
  and writes the ``.out`` files to the job's S3 output path.
- Names are unique as on SageMaker: creating a model, endpoint config, endpoint or transform job whose
  name exists is refused (moto would silently replace it).
- CreateEndpoint starts the serving container; the endpoint is InService only once ``/ping``
  answers 200 (Failed, with the reason, otherwise); InvokeEndpoint is forwarded to the container and
  DeleteEndpoint removes it.
- A training or transform job tagged ``smbyo-test=hold`` stays InProgress (tests of waiting and Ctrl-C); an
  endpoint so tagged stays Creating, and DeleteEndpoint refuses it as AWS refuses an endpoint still Creating.
- With a registry in ``harness.state["registry"]`` (see :mod:`tests.aws.registry`), ECR's
  GetAuthorizationToken returns that registry as ``proxyEndpoint`` with its credentials (or
  ``harness.state["ecr_password"]`` to test a wrong token), and repositories live on it.

No runner reads a manifest: each runs the requests it was sent, as SageMaker does.
Work happens in background threads, exactly like AWS: the client sees it only by polling.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from tests.aws.harness import MotoHarness
from tests.aws.moto_algorithms import algorithm_of, container_of

TRAINING_GROUP = "/aws/sagemaker/TrainingJobs"
TRANSFORM_GROUP = "/aws/sagemaker/TransformJobs"
ENDPOINT_GROUP = "/aws/sagemaker/Endpoints/"
CONTAINER_PREFIX = "smbyo-cloud-endpoint-"
# A job tagged smbyo-test=hold never starts (it stays InProgress until the test ends).
HOLD_TAG = "smbyo-test"


# --- CloudWatch Logs: where container lines go ------------------------------------------------------


class CloudWatchSink:
    """A Reporter that writes every log line to CloudWatch, one stream per instance as SageMaker does
    (``<job>/algo-2-<time>`` for the lines of host algo-2; smbyo's own lines go to algo-1's)."""

    def __init__(self, harness: MotoHarness, group: str, stream: str):
        self.client = harness.client("logs")
        self.group, self.stream = group, stream
        self.lines: list[str] = []
        self.streams: dict[str, str] = {}
        self.lock = threading.Lock()  # hosts' log pumps write from their own threads
        with contextlib.suppress(self.client.exceptions.ResourceAlreadyExistsException):
            self.client.create_log_group(logGroupName=group)
        self._stream_of("algo-1")

    def _stream_of(self, source: str) -> str:
        host = source if re.fullmatch(r"algo-\d+", source) else "algo-1"
        with self.lock:
            return self._create_stream(host)

    def _create_stream(self, host: str) -> str:
        if host not in self.streams:
            name = self.stream.replace("algo-1-", f"{host}-", 1)
            self.client.create_log_stream(logGroupName=self.group, logStreamName=name)
            self.streams[host] = name
        return self.streams[host]

    def log(self, source: str, line: str) -> None:
        self.lines.append(line)
        event = {"timestamp": int(time.time() * 1000), "message": line}
        self.client.put_log_events(logGroupName=self.group, logStreamName=self._stream_of(source), logEvents=[event])

    def step(self, message: str) -> None:
        self.log("smbyo", message)

    def detail(self, message: str) -> None:
        del message

    def status(self, subject: str, status: str, elapsed_seconds: float | None = None) -> None:
        del subject, status, elapsed_seconds

    def progress(self, task: str, completed: int, total: int | None) -> None:
        del task, completed, total

    def warn(self, message: str) -> None:
        self.log("smbyo", f"warning: {message}")


# --- S3 helpers (through the server's HTTP API, like a SageMaker instance would) -------------------


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def download_prefix(harness: MotoHarness, uri: str, target: Path) -> Path:
    """Every object under ``uri`` into ``target``, keeping the paths below the prefix."""
    s3 = harness.client("s3")
    bucket, prefix = _split(uri)
    target.mkdir(parents=True, exist_ok=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :].lstrip("/") or Path(item["Key"]).name
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(path))
    return target


def upload_tree(harness: MotoHarness, source: Path, uri: str) -> list[str]:
    s3 = harness.client("s3")
    bucket, prefix = _split(uri)
    keys = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        key = f"{prefix.rstrip('/')}/{path.relative_to(source).as_posix()}".lstrip("/")
        s3.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


def _model_of(harness: MotoHarness, model_name: str) -> tuple[str, str]:
    described = harness.client("sagemaker").describe_model(ModelName=model_name)["PrimaryContainer"]
    container = container_of(harness, described)
    return str(container["Image"]), str(container["ModelDataUrl"])


def _docker(harness: MotoHarness) -> Any:
    if "docker" not in harness.state:
        from sm_byo.docker import connect

        harness.state["docker"] = connect()
    return harness.state["docker"]


def _reason(exc: BaseException) -> str:
    details = getattr(exc, "details", None) or {}
    reason = details.get("failure_reason") or getattr(exc, "message", None) or repr(exc)
    return str(reason).strip().splitlines()[0][:1024] if str(reason).strip() else repr(exc)


# --- training jobs ----------------------------------------------------------------------------------


def _as_local_request(harness: MotoHarness, request: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """The job's own request, its S3 data downloaded and named as file:// URIs (as an instance sees it)."""
    local = copy.deepcopy(request)
    for channel in local["InputDataConfig"]:
        source = channel["DataSource"]["S3DataSource"]
        source["S3Uri"] = download_prefix(harness, source["S3Uri"], scratch / "input" / channel["ChannelName"]).as_uri()
    local["OutputDataConfig"] = {"S3OutputPath": (scratch / "out").as_uri()}
    checkpoint = local.get("CheckpointConfig")
    if checkpoint:  # what the last job left under S3Uri is in LocalPath when the job starts (model-checkpoints.html)
        checkpoint["S3Uri"] = download_prefix(harness, checkpoint["S3Uri"], scratch / "checkpoints").as_uri()
    return local


def _upload_checkpoints(harness: MotoHarness, request: dict[str, Any], scratch: Path) -> None:
    """SageMaker copies LocalPath to CheckpointConfig.S3Uri while the job runs, stopped or not."""
    checkpoint = request.get("CheckpointConfig")
    if checkpoint and (scratch / "checkpoints").is_dir():
        upload_tree(harness, scratch / "checkpoints", checkpoint["S3Uri"])


def _run_training(harness: MotoHarness, job: Any) -> None:
    """Run the job's CreateTrainingJob request with smbyo's local executor, as SageMaker would run it."""
    from sm_byo.local.training import run_training_job

    sink = CloudWatchSink(harness, TRAINING_GROUP, f"{job.training_job_name}/algo-1-{int(time.time())}")
    try:
        with tempfile.TemporaryDirectory(prefix="smbyo-cloud-job-") as scratch:
            job.secondary_status = "Downloading"
            sent = harness.state["requests"][job.training_job_name]
            runs = {**sent, "AlgorithmSpecification": algorithm_of(harness, sent["AlgorithmSpecification"])}
            request = _as_local_request(harness, runs, Path(scratch))
            job.secondary_status = "Training"
            try:
                result = run_training_job(request, sink, docker=_docker(harness))
            finally:
                _upload_checkpoints(harness, sent, Path(scratch))
            job.secondary_status = "Uploading"
            bucket, key = _split(job.model_artifacts["S3ModelArtifacts"])
            harness.client("s3").upload_file(str(result.model_artifacts), bucket, key)
            if result.output_artifacts:
                output_key = key.rsplit("/", 1)[0] + "/output.tar.gz"
                harness.client("s3").upload_file(str(result.output_artifacts), bucket, output_key)
            now = datetime.now(UTC)
            job.final_metric_data_list = [
                {"MetricName": name, "Value": value, "Timestamp": now} for name, value in result.metrics.items()
            ]
        job.secondary_status = "Completed"
        job.training_job_status = "Completed"
    except Exception as exc:
        job.failure_reason = _reason(exc)
        job.secondary_status = "Failed"
        job.training_job_status = "Failed"


def _patch_training(harness: MotoHarness) -> None:
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    requests = harness.state.setdefault("requests", {})
    original_response = SageMakerResponse.create_training_job

    def keep_request(self: Any) -> Any:
        """moto keeps only some fields (no Environment): the executor gets the request as sent."""
        body = json.loads(self.body)
        requests[body["TrainingJobName"]] = body
        return original_response(self)

    harness.patch(SageMakerResponse, "create_training_job", keep_request)

    original = SageMakerModelBackend.create_training_job

    def create_training_job(self: Any, **kwargs: Any) -> Any:
        requested = copy.deepcopy(kwargs["algorithm_specification"])
        if "AlgorithmName" in requested:  # described with the metric definitions the algorithm brings
            definitions = algorithm_of(harness, requested).get("MetricDefinitions")
            requested = {**requested, **({"MetricDefinitions": definitions} if definitions else {})}
        job = original(self, **kwargs)
        job.algorithm_specification = requested  # moto overwrites MetricDefinitions with its own sample
        job.training_job_status, job.secondary_status = "InProgress", "Starting"
        job.final_metric_data_list = []
        if {"Key": HOLD_TAG, "Value": "hold"} in (job.tags or []):
            return job  # stays InProgress: for tests of waiting and Ctrl-C
        harness.background(lambda: _run_training(harness, job), f"training-{job.training_job_name}")
        return job

    harness.patch(SageMakerModelBackend, "create_training_job", create_training_job)


# --- names are unique ---------------------------------------------------------------------------


def _patch_unique_names(harness: MotoHarness) -> None:
    """SageMaker refuses to create a model, endpoint config, endpoint or job under a name in use."""
    from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.utils import arn_formatter

    def unique(method: str, store: str, name_arg: str, kind: str, refuse: Callable[[str], Exception]) -> None:
        original = getattr(SageMakerModelBackend, method)

        def create(self: Any, **kwargs: Any) -> Any:
            name = kwargs[name_arg]
            if name in getattr(self, store):
                raise refuse(arn_formatter(kind, name, self.account_id, self.region_name))
            return original(self, **kwargs)

        harness.patch(SageMakerModelBackend, method, create)

    def exists(what: str) -> Callable[[str], Exception]:
        return lambda arn: ValidationError(message=f'Cannot create already existing {what} "{arn}".')

    def job_in_use(arn: str) -> Exception:
        return ResourceInUseException(message=f"Job name must be unique within an AWS account and region, and a "
                                      f"job with this name already exists ({arn})")  # fmt: skip

    unique("create_model", "_models", "model_name", "model", exists("model"))
    unique("create_endpoint_config", "endpoint_configs", "endpoint_config_name", "endpoint-config",
           exists("endpoint configuration"))  # fmt: skip
    unique("create_endpoint", "endpoints", "endpoint_name", "endpoint", exists("endpoint"))
    unique("create_transform_job", "transform_jobs", "transform_job_name", "transform-job", job_in_use)


# --- requests as sent --------------------------------------------------------------------------------


def _keep_requests(harness: MotoHarness, method: str, name_key: str, state_key: str) -> None:
    """moto keeps only some fields of a request: the executors get the request as it was sent over HTTP.

    Kept before moto handles it (a job starts inside the handler), dropped again when moto refuses it.
    """
    from moto.sagemaker.responses import SageMakerResponse

    kept: dict[str, Any] = harness.state.setdefault(state_key, {})
    original = getattr(SageMakerResponse, method)

    def keep_request(self: Any) -> Any:
        body = json.loads(self.body)
        name = body[name_key]
        previous = kept.get(name)
        kept[name] = body
        try:
            return original(self)
        except Exception:
            if previous is None:
                kept.pop(name, None)
            else:
                kept[name] = previous
            raise

    harness.patch(SageMakerResponse, method, keep_request)


# --- transform jobs ---------------------------------------------------------------------------------


def _as_local_transform(
    harness: MotoHarness, transform: dict[str, Any], model: dict[str, Any], scratch: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job's own requests, the model and input downloaded and named as file:// URIs (as an instance
    sees them), the output going to a scratch directory."""
    transform, model = copy.deepcopy(transform), copy.deepcopy(model)
    container = model["PrimaryContainer"] = container_of(harness, model["PrimaryContainer"])
    archive = download_prefix(harness, container["ModelDataUrl"], scratch / "model")
    container["ModelDataUrl"] = next(archive.rglob("*.tar.gz")).as_uri()
    source = transform["TransformInput"]["DataSource"]["S3DataSource"]
    source["S3Uri"] = download_prefix(harness, source["S3Uri"], scratch / "input").as_uri()
    transform["TransformOutput"]["S3OutputPath"] = (scratch / "output").as_uri()
    return transform, model


def _run_transform(harness: MotoHarness, job: Any) -> None:
    """Run the job's CreateTransformJob request with smbyo's local executor, as SageMaker would run it."""
    from sm_byo.local.outputs import RECORD_NAME
    from sm_byo.local.transform import run_transform_job

    sink = CloudWatchSink(harness, TRANSFORM_GROUP, f"{job.transform_job_name}/i-{secrets.token_hex(4)}")
    try:
        sent = harness.state["transform_requests"][job.transform_job_name]
        model = harness.state["model_requests"][sent["ModelName"]]
        with tempfile.TemporaryDirectory(prefix="smbyo-cloud-transform-") as scratch:
            root = Path(scratch)
            transform, model = _as_local_transform(harness, sent, model, root)
            run_transform_job(transform, model, sink, docker=_docker(harness))
            (root / "output" / RECORD_NAME).unlink(missing_ok=True)  # the local run's bookkeeping, not an output
            upload_tree(harness, root / "output", sent["TransformOutput"]["S3OutputPath"])
        job.transform_job_status = "Completed"
    except Exception as exc:
        job.failure_reason = _reason(exc)
        job.transform_job_status = "Failed"


def _patch_transform(harness: MotoHarness) -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    _keep_requests(harness, "create_model", "ModelName", "model_requests")
    _keep_requests(harness, "create_transform_job", "TransformJobName", "transform_requests")
    original = SageMakerModelBackend.create_transform_job

    def create_transform_job(self: Any, **kwargs: Any) -> Any:
        job = original(self, **kwargs)
        job.transform_job_status = "InProgress"
        if {"Key": HOLD_TAG, "Value": "hold"} in (job.tags or []):
            return job  # stays InProgress
        harness.background(lambda: _run_transform(harness, job), f"transform-{job.transform_job_name}")
        return job

    harness.patch(SageMakerModelBackend, "create_transform_job", create_transform_job)


# --- endpoints --------------------------------------------------------------------------------------


@dataclass
class RunningEndpoint:
    name: str
    handle: Any
    scratch: tempfile.TemporaryDirectory[str]
    url: str | None = None
    removed: bool = False

    def remove(self) -> None:
        """Idempotent: DeleteEndpoint, a failed start and the harness reset may all get here."""
        if self.removed:
            return
        self.removed = True
        with contextlib.suppress(Exception):  # "removal already in progress" from a concurrent remove
            self.handle.remove()
        self.scratch.cleanup()


def _endpoints(harness: MotoHarness) -> dict[str, RunningEndpoint]:
    endpoints: dict[str, RunningEndpoint] = harness.state.setdefault("endpoints", {})
    return endpoints


def _start_endpoint(harness: MotoHarness, endpoint: Any) -> None:
    from sm_byo.local.archive import safe_extract
    from sm_byo.local.containers import LogPump
    from sm_byo.local.health import STARTUP_HEALTH_CHECK_DEFAULT_SECONDS
    from sm_byo.local.serving import ServingContainer, loopback_port, model_volume, wait_until_healthy

    name = endpoint.endpoint_name
    sink = CloudWatchSink(harness, ENDPOINT_GROUP + name, f"AllTraffic/i-{secrets.token_hex(4)}")
    running: RunningEndpoint | None = None
    try:
        config = harness.client("sagemaker").describe_endpoint_config(EndpointConfigName=endpoint.endpoint_config_name)
        variant = config["ProductionVariants"][0]
        image, model_data = _model_of(harness, variant["ModelName"])
        # SageMaker's start-up window: the variant's ContainerStartupHealthCheckTimeoutInSeconds, else 8 minutes
        # (a test may shorten it with endpoint_ready_timeout).
        startup_timeout = float(
            harness.state.get("endpoint_ready_timeout")
            or variant.get("ContainerStartupHealthCheckTimeoutInSeconds")
            or STARTUP_HEALTH_CHECK_DEFAULT_SECONDS
        )
        scratch = tempfile.TemporaryDirectory(prefix="smbyo-cloud-endpoint-")
        archive = download_prefix(harness, model_data, Path(scratch.name) / "archive")
        model_dir = safe_extract(next(archive.rglob("*.tar.gz")), Path(scratch.name) / "model")
        handle = _docker(harness).run(
            image,
            ["serve"],
            volumes=model_volume(model_dir),
            ports=loopback_port(None),
            name=f"{CONTAINER_PREFIX}{secrets.token_hex(4)}",
            labels={"dev.smbyo.endpoint": name},
        )
        running = RunningEndpoint(name, handle, scratch)
        _endpoints(harness)[name] = running
        pump = LogPump(handle, sink, "endpoint").start()
        running.url = wait_until_healthy(ServingContainer(handle, handle), pump, startup_timeout)  # its own port
        endpoint.endpoint_status = "InService"
    except Exception as exc:
        endpoint.failure_reason = _reason(exc)
        endpoint.endpoint_status = "Failed"
        if running is not None:
            running.remove()
            _endpoints(harness).pop(name, None)


def _patch_endpoints(harness: MotoHarness) -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    create, delete = SageMakerModelBackend.create_endpoint, SageMakerModelBackend.delete_endpoint

    def create_endpoint(self: Any, **kwargs: Any) -> Any:
        endpoint = create(self, **kwargs)
        endpoint.endpoint_status = "Creating"
        if {"Key": HOLD_TAG, "Value": "hold"} not in (kwargs.get("tags") or []):
            harness.background(lambda: _start_endpoint(harness, endpoint), f"endpoint-{endpoint.endpoint_name}")
        return endpoint

    def delete_endpoint(self: Any, endpoint_name: str) -> None:
        held = self.endpoints.get(endpoint_name)
        if held is not None and {"Key": HOLD_TAG, "Value": "hold"} in (held.tags or []):
            # AWS does not delete an endpoint while it is Creating (users report endpoints stuck Creating that
            # cannot be deleted until they turn Failed: github.com/aws/amazon-sagemaker-examples/issues/3432).
            from moto.sagemaker.exceptions import ValidationError

            raise ValidationError(message=f"Cannot delete endpoint {endpoint_name!r} while it is Creating.")
        delete(self, endpoint_name)
        running = _endpoints(harness).pop(endpoint_name, None)
        if running is not None:
            running.remove()

    harness.patch(SageMakerModelBackend, "create_endpoint", create_endpoint)
    harness.patch(SageMakerModelBackend, "delete_endpoint", delete_endpoint)
    _patch_invoke(harness)


def _patch_invoke(harness: MotoHarness) -> None:
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    original: Callable[..., Any] = SageMakerRuntimeResponse.invoke_endpoint

    def invoke_endpoint(self: Any) -> Any:
        name = self.path.split("/")[2] if self.path.startswith("/endpoints/") else None
        running = _endpoints(harness).get(str(name))
        if running is None or running.url is None:
            return original(self)
        headers = {"Content-Type": self.headers.get("Content-Type", "application/octet-stream")}
        for header in ("Accept", "X-Amzn-SageMaker-Custom-Attributes"):
            if self.headers.get(header):
                headers[header] = self.headers[header]
        body = self.body if isinstance(self.body, bytes) else str(self.body).encode()
        reply = requests.post(f"{running.url}/invocations", data=body, headers=headers, timeout=60)
        if reply.status_code >= 400:
            error = {
                "message": f'Received client error ({reply.status_code}) from primary with message "{reply.text}"',
                "OriginalStatusCode": reply.status_code,
                "OriginalMessage": reply.text,
            }
            return 424, {"x-amzn-ErrorType": "ModelError", "Content-Type": "application/json"}, json.dumps(error)
        out = {"Content-Type": reply.headers.get("Content-Type", ""), "x-Amzn-Invoked-Production-Variant": "AllTraffic"}
        return 200, out, reply.content

    harness.patch(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)


# --- ECR on a real registry -------------------------------------------------------------------------


def _patch_ecr(harness: MotoHarness) -> None:
    from moto.core.responses import ActionResult
    from moto.ecr.models import ECRBackend
    from moto.ecr.responses import ECRResponse

    token_original = ECRResponse.get_authorization_token
    create_original = ECRBackend.create_repository

    def get_authorization_token(self: Any) -> Any:
        registry = harness.state.get("registry")
        if registry is None:
            return token_original(self)
        password = harness.state.get("ecr_password", registry.password)
        token = base64.b64encode(f"{registry.username}:{password}".encode()).decode()
        data = {
            "authorizationToken": token,
            "expiresAt": time.time() + 43200,
            "proxyEndpoint": f"http://{registry.host}",
        }
        return ActionResult({"authorizationData": [data]})

    def create_repository(self: Any, *args: Any, **kwargs: Any) -> Any:
        repository = create_original(self, *args, **kwargs)
        registry = harness.state.get("registry")
        if registry is not None:
            repository.uri = f"{registry.host}/{repository.name}"
        return repository

    harness.patch(ECRResponse, "get_authorization_token", get_authorization_token)
    harness.patch(ECRBackend, "create_repository", create_repository)


# --- extension entry points -------------------------------------------------------------------------


def install(harness: MotoHarness) -> None:
    _patch_unique_names(harness)  # first: the patches below wrap it
    _patch_training(harness)
    _patch_transform(harness)
    _patch_endpoints(harness)
    _patch_ecr(harness)


def reset(harness: MotoHarness) -> None:
    """Between tests: stop every endpoint container, forget per-test settings."""
    for running in list(_endpoints(harness).values()):
        running.remove()
    _endpoints(harness).clear()
    for key in ("ecr_password", "endpoint_ready_timeout"):
        harness.state.pop(key, None)


def close(harness: MotoHarness) -> None:
    reset(harness)
