"""The cloud workflow end to end, every step through the CLI in a subprocess with --json.

AWS is moto's server extended by tests/aws/moto_ext.py (jobs and endpoints run real containers) and
ECR is Debian's docker-registry with htpasswd auth; see tests/aws/__init__.py.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest

from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)
from tests.aws.fixtures import CLOUD_REPOSITORY as REPOSITORY
from tests.aws.harness import ACCOUNT_ID, REGION, MotoHarness
from tests.aws.registry import Registry
from tests.conftest import probe_report, run_cli
from tests.integration.local_helpers import trained_example

pytestmark = [pytest.mark.docker, pytest.mark.registry]

BUCKET = f"sagemaker-{REGION}-{ACCOUNT_ID}"


def smbyo(*args: str, cwd: Path, env: dict[str, str], ok: bool = True) -> dict:  # type: ignore[type-arg]
    result = run_cli(*args, "--json", cwd=cwd, env=env, timeout=600)
    if ok:
        assert result.returncode == 0, f"smbyo {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}"
    return {"code": result.returncode, "data": json.loads(result.stdout or "{}"), "stderr": result.stderr}


def test_build_push_train_transform_deploy_invoke_delete(
    cloud_project: Path,
    moto: MotoHarness,
    aws_env: dict[str, str],
    registry: Registry,
    example_image: str,
    pushed_tags: list[str],
    tmp_path: Path,
) -> None:
    env = {**aws_env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}

    pushed = smbyo("push", "--tag", example_image, cwd=cloud_project, env=env)["data"]
    pushed_tags.append(pushed["image_uri"])
    assert pushed["image_uri"] == f"{registry.host}/{REPOSITORY}:latest"
    assert pushed["digest"].startswith("sha256:")
    assert not (tmp_path / "docker-config" / "config.json").exists(), "credentials must never be written to disk"
    repository = moto.client("ecr").describe_repositories(repositoryNames=[REPOSITORY])["repositories"][0]
    assert repository["imageTagMutability"] == "MUTABLE" and repository["imageScanningConfiguration"]["scanOnPush"]

    trained = smbyo("train", "--data", "training=data/training", cwd=cloud_project, env=env)["data"]
    assert trained["status"] == "Completed"
    assert (
        trained["model_artifacts"]
        == f"s3://{BUCKET}/smbyo/decision-trees-sample/training-output/{trained['job_name']}/output/model.tar.gz"
    )
    assert 0.8 < trained["metrics"]["validation:accuracy"] <= 1.0

    again = run_cli(
        "train", "--data", "training=data/training", "--no-wait", "-v", "--json", cwd=cloud_project, env=env
    )
    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stderr, "a second upload of the same data must be skipped"
    submitted = json.loads(again.stdout)
    assert submitted["status"] == "InProgress" and submitted["model_artifacts"] is None
    resumed = smbyo("wait", "training-job", submitted["job_name"], cwd=cloud_project, env=env)["data"]
    assert resumed["status"] == "Completed" and resumed["model_artifacts"].endswith("/output/model.tar.gz")

    output = f"s3://{BUCKET}/smbyo-test/transform-output"
    transformed = smbyo(
        "transform",
        "--model",
        trained["model_artifacts"],
        "--input",
        "data/transform",
        "--output",
        output,
        "--download",
        str(tmp_path / "cloud-out"),
        cwd=cloud_project,
        env=env,
    )["data"]
    assert transformed["status"] == "Completed"
    assert transformed["outputs"] == [f"{output}/iris.csv.out"]
    cloud_predictions = (tmp_path / "cloud-out" / "iris.csv.out").read_text()

    local_model = tmp_path / "local-model"
    smbyo(
        "train",
        "--local",
        "--image",
        example_image,
        "--data",
        "training=data/training",
        "--out",
        str(local_model),
        cwd=cloud_project,
        env=env,
    )
    smbyo(
        "transform",
        "--local",
        "--image",
        example_image,
        "--model",
        str(local_model / "model.tar.gz"),
        "--input",
        "data/transform",
        "--output",
        str(tmp_path / "local-out"),
        cwd=cloud_project,
        env=env,
    )
    local_predictions = (tmp_path / "local-out" / "iris.csv.out").read_text()
    assert cloud_predictions.split() == local_predictions.split()
    assert len(cloud_predictions.split()) == 150

    endpoint = "smbyo-cloud-e2e"
    deployed = smbyo("deploy", "--model", trained["model_artifacts"], "--name", endpoint, cwd=cloud_project, env=env)
    assert deployed["data"]["status"] == "InService"

    rows = "".join((cloud_project / "data" / "transform" / "iris.csv").read_text().splitlines(keepends=True)[:5])
    (tmp_path / "rows.csv").write_text(rows)
    invoked = run_cli("invoke", endpoint, "--body", str(tmp_path / "rows.csv"), cwd=cloud_project, env=env)
    assert invoked.returncode == 0, invoked.stderr
    assert invoked.stdout.split() == local_predictions.split()[:5]

    deleted = smbyo("delete", endpoint, cwd=cloud_project, env=env)["data"]
    assert sorted(deleted["deleted"]) == sorted(
        [f"endpoint/{endpoint}", f"endpoint-config/{endpoint}", f"model/{endpoint}"]
    )
    gone = smbyo("wait", "endpoint", endpoint, cwd=cloud_project, env=env, ok=False)
    assert gone["code"] == 2


def _push_probe(cloud_project: Path, env: dict[str, str], probe_image: str, pushed_tags: list[str]) -> None:
    """The probe image in ECR, under a repository of its own (the manifest's ecr.repository, changed)."""
    manifest = cloud_project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace(f"repository: {REPOSITORY}", f"repository: {REPOSITORY}-probe"))
    pushed_tags.append(smbyo("push", "--tag", probe_image, cwd=cloud_project, env=env)["data"]["image_uri"])


def test_one_training_request_gives_the_container_the_same_inputs_locally_and_on_sagemaker(
    cloud_project: Path,
    moto: MotoHarness,
    aws_env: dict[str, str],
    registry: Registry,
    probe_image: str,
    pushed_tags: list[str],
    tmp_path: Path,
) -> None:
    """The same plan run by both executors: config files, channel bytes (a .gz in File mode handed
    over as stored, a hidden file included) and hyperparameters reach the container identically."""
    env = {**aws_env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    _push_probe(cloud_project, env, probe_image, pushed_tags)
    data = tmp_path / "data"
    (data / "part").mkdir(parents=True)
    (data / "a.csv.gz").write_bytes(gzip.compress(b"1,2\n3,4\n"))
    (data / "part" / "b.csv").write_text("5,6\n")
    (data / ".hidden").write_text("7,8\n")
    common = ("--data", f"training={data}", "-H", "max_leaf_nodes=11")
    cloud = smbyo("train", *common, cwd=cloud_project, env=env)["data"]
    local = smbyo("train", "--local", "--image", probe_image, *common, "--out", str(tmp_path / "out"),
                  cwd=cloud_project, env=env)["data"]  # fmt: skip
    assert set(cloud) == set(local)  # one result shape
    assert (cloud["where"], local["where"]) == ("sagemaker", "local")
    s3 = moto.client("s3")
    bucket, _, key = cloud["model_artifacts"].removeprefix("s3://").partition("/")
    s3.download_file(bucket, key, str(tmp_path / "cloud-model.tar.gz"))
    in_cloud = probe_report(tmp_path / "cloud-model.tar.gz")
    on_host = probe_report(Path(local["model_artifacts"]))
    assert in_cloud == on_host
    assert on_host["config"]["hyperparameters.json"] == {"max_leaf_nodes": "11"}
    assert set(on_host["files"]["training"]) == {"a.csv.gz", "part/b.csv", ".hidden"}
    assert on_host["config"]["inputdataconfig.json"]["training"]["CompressionType"] == "None"


def test_a_two_host_request_runs_the_same_hosts_locally_and_on_sagemaker(
    cloud_project: Path,
    moto: MotoHarness,
    aws_env: dict[str, str],
    registry: Registry,
    probe_image: str,
    pushed_tags: list[str],
    tmp_path: Path,
) -> None:
    """InstanceCount 2 with a ShardedByS3Key channel: both executors give each host the same config and
    the same share of the data, and SageMaker's logs have one stream per host."""
    env = {**aws_env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    _push_probe(cloud_project, env, probe_image, pushed_tags)
    manifest = cloud_project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace("supports_distributed: false", "supports_distributed: true"))
    data = tmp_path / "data"
    data.mkdir()
    for index in range(3):
        (data / f"part-{index}.csv").write_text(f"{index},1\n")
    common = ("--data", f"training={data}", "--instance-count", "2", "--distribution", "training=ShardedByS3Key")
    cloud = smbyo("train", *common, cwd=cloud_project, env=env)
    local = smbyo("train", "--local", "--image", probe_image, *common, "--out", str(tmp_path / "out"),
                  cwd=cloud_project, env=env)["data"]  # fmt: skip
    assert cloud["data"]["instance_count"] == local["instance_count"] == 2
    s3 = moto.client("s3")
    bucket, _, key = cloud["data"]["model_artifacts"].removeprefix("s3://").partition("/")
    s3.download_file(bucket, key, str(tmp_path / "cloud-model.tar.gz"))
    for host in ("algo-1", "algo-2"):
        in_cloud = probe_report(tmp_path / "cloud-model.tar.gz", host)
        on_host = probe_report(Path(local["model_artifacts"]), host)
        for report in (in_cloud, on_host):
            assert report["cluster"]["peers"][{"algo-1": "algo-2", "algo-2": "algo-1"}[host]]["connected"]
            del report["cluster"]  # addresses differ from run to run
        assert in_cloud == on_host
    assert set(probe_report(Path(local["model_artifacts"]), "algo-2")["files"]["training"]) == {"part-1.csv"}
    streams = moto.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=cloud["data"]["job_name"] + "/"
    )["logStreams"]
    hosts = sorted(stream["logStreamName"].split("/", 1)[1].rsplit("-", 1)[0] for stream in streams)
    assert hosts == ["algo-1", "algo-2"]
    assert "[algo-2" in cloud["stderr"] or "algo-2-" in cloud["stderr"]  # the follower showed algo-2's stream


@pytest.fixture
def ecr_tagged(docker_adapter: object, example_image: str) -> Iterator[str]:
    """The example image under an ECR-style tag (what a cloud plan must name), local to the Docker Engine."""
    tag = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}:transform-e2e"
    client = docker_adapter.client  # type: ignore[attr-defined]
    client.images.get(example_image).tag(tag)
    yield tag
    with contextlib.suppress(Exception):
        client.images.remove(tag, noprune=True)


def test_one_transform_plan_writes_the_same_out_files_locally_and_on_sagemaker(
    cloud_project: Path, moto: MotoHarness, aws_env: dict[str, str], example_image: str, ecr_tagged: str, tmp_path: Path
) -> None:
    """`transform --local` and a SageMaker transform (moto running the job's own requests with the local
    executor) of the same model and input: byte-identical .out files, and results with the same keys."""
    model = Path(trained_example(example_image)["model_artifacts"])
    moto.client("s3").create_bucket(Bucket="smbyo-cloud-models")
    moto.client("s3").upload_file(str(model), "smbyo-cloud-models", "e2e/model.tar.gz")
    data = tmp_path / "input"
    (data / "nested").mkdir(parents=True)
    rows = (cloud_project / "data" / "transform" / "iris.csv").read_text().splitlines()
    (data / "iris.csv").write_text("\n".join(rows) + "\n")
    (data / "nested" / "b.csv").write_text("\n".join(reversed(rows[:40])) + "\n")
    (data / ".hidden.csv").write_text("\n".join(rows[:2]) + "\n")
    flags = ["--input", str(data), "--strategy", "MultiRecord", "--max-payload-mb", "1", "--concurrency", "2"]

    local = smbyo(
        "transform", "--local", "--image", example_image, "--model", str(model), "--output", str(tmp_path / "local"),
        *flags, cwd=cloud_project, env=aws_env,
    )["data"]  # fmt: skip
    output = f"s3://{BUCKET}/smbyo-test/e2e-transform"
    cloud = smbyo(
        "transform", "--image", ecr_tagged, "--model", "s3://smbyo-cloud-models/e2e/model.tar.gz",
        "--output", output, "--download", str(tmp_path / "cloud"), *flags, cwd=cloud_project, env=aws_env,
    )["data"]  # fmt: skip

    names = [".hidden.csv.out", "iris.csv.out", "nested/b.csv.out"]
    assert local["outputs"] == [str(tmp_path / "local" / name) for name in names]
    assert cloud["outputs"] == [f"{output}/{name}" for name in names]
    assert cloud["downloaded"] == [str(tmp_path / "cloud" / name) for name in names]
    for name in names:
        assert (tmp_path / "cloud" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    assert len((tmp_path / "local" / "iris.csv.out").read_text().splitlines()) == len(rows)
    assert set(local) == set(cloud)
    assert (local["where"], cloud["where"], local["status"], cloud["status"]) == (
        "local",
        "sagemaker",
        "Completed",
        "Completed",
    )
    for key in ("strategy", "max_payload_mb", "concurrency", "split_type", "content_type", "accept"):
        assert local["settings"][key] == cloud["settings"][key], key


def test_a_transform_on_two_instances_with_a_join_runs_through_sagemaker_to_completion(
    cloud_project: Path, moto: MotoHarness, aws_env: dict[str, str], example_image: str, ecr_tagged: str, tmp_path: Path
) -> None:
    """--instance-count 2 and DataProcessing reach CreateTransformJob, and the job (moto handing the request to
    the local executor, which starts one container per instance) completes with the local run's .out files."""
    model = Path(trained_example(example_image)["model_artifacts"])
    moto.client("s3").create_bucket(Bucket="smbyo-cloud-models")
    moto.client("s3").upload_file(str(model), "smbyo-cloud-models", "two/model.tar.gz")
    rows = (cloud_project / "data" / "transform" / "iris.csv").read_text().splitlines()
    data = tmp_path / "input"
    data.mkdir()
    for number in range(3):
        (data / f"part-{number}.csv").write_text("".join(f"id-{n},{row}\n" for n, row in enumerate(rows[number:])))
    flags = ["--input", str(data), "--instance-count", "2", "--input-filter", "$[1:]", "--join-source", "Input",
             "--output-filter", "$[0,-1]"]  # fmt: skip
    local = smbyo(
        "transform", "--local", "--image", example_image, "--model", str(model), "--output", str(tmp_path / "local"),
        *flags, cwd=cloud_project, env=aws_env,
    )  # fmt: skip
    output = f"s3://{BUCKET}/smbyo-test/two-instances"
    cloud = smbyo(
        "transform", "--image", ecr_tagged, "--model", "s3://smbyo-cloud-models/two/model.tar.gz",
        "--output", output, "--download", str(tmp_path / "cloud"), *flags, cwd=cloud_project, env=aws_env,
    )  # fmt: skip
    assert cloud["data"]["status"] == "Completed"
    assert cloud["data"]["settings"]["instance_count"] == 2
    assert "as 2 x ml.m5.large" in cloud["stderr"]  # the job's log: the executor ran two instances
    assert [instance["name"] for instance in local["data"]["instances"]] == ["algo-1", "algo-2"]
    for number in range(3):
        name = f"part-{number}.csv.out"
        written = (tmp_path / "cloud" / name).read_bytes()
        assert written == (tmp_path / "local" / name).read_bytes(), name
        first = written.decode().splitlines()[0].split(",")
        assert first[0] == "id-0" and first[1] in {"setosa", "versicolor", "virginica"}, name


def test_push_with_a_wrong_token_is_refused_exit_3(
    cloud_project: Path,
    aws_env: dict[str, str],
    registry: Registry,
    moto: MotoHarness,
    example_image: str,
    pushed_tags: list[str],
    tmp_path: Path,
) -> None:
    moto.state["ecr_password"] = "not-the-password"
    pushed_tags.append(f"{registry.host}/{REPOSITORY}:latest")
    result = smbyo(
        "push", "--tag", example_image, cwd=cloud_project, env={**aws_env, "DOCKER_CONFIG": str(tmp_path)}, ok=False
    )
    assert result["code"] == 3, result["stderr"]
    assert "no basic auth credentials" in result["stderr"] or "unauthorized" in result["stderr"].lower()
    assert "not-the-password" not in result["stderr"]


def test_training_that_fails_exits_1_with_the_reason(
    cloud_project: Path,
    aws_env: dict[str, str],
    registry: Registry,
    example_image: str,
    pushed_tags: list[str],
    tmp_path: Path,
) -> None:
    env = {**aws_env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    pushed_tags.append(smbyo("push", "--tag", example_image, cwd=cloud_project, env=env)["data"]["image_uri"])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "rows.csv").write_text("label,a,b\nnot,a,number\n")
    result = smbyo("train", "--data", f"training={bad}", cwd=cloud_project, env=env, ok=False)
    assert result["code"] == 1, result["stderr"]
    failure = result["data"]
    assert failure["error"] == "JobFailed", failure
    reason = failure["details"]["failure_reason"]
    assert reason and reason != "AWS gave no reason"
    assert reason in failure["message"] and reason in result["stderr"]
    assert "algo-1-" in result["stderr"], "the job's CloudWatch log is streamed while it runs"


def _bogus_model(moto: MotoHarness) -> str:
    payload = BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as archive:
        data = b"this is not a model"
        info = tarfile.TarInfo("model.npz")
        info.size = len(data)
        archive.addfile(info, BytesIO(data))
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="smbyo-cloud-models")
    s3.put_object(Bucket="smbyo-cloud-models", Key="bogus/model.tar.gz", Body=payload.getvalue())
    return "s3://smbyo-cloud-models/bogus/model.tar.gz"


def test_endpoint_that_never_becomes_healthy_fails_exit_1(
    cloud_project: Path,
    aws_env: dict[str, str],
    moto: MotoHarness,
    ecr_tagged: str,
) -> None:
    moto.state["endpoint_ready_timeout"] = 60
    result = smbyo(
        "deploy",
        "--image",
        ecr_tagged,
        "--model",
        _bogus_model(moto),
        "--name",
        "smbyo-cloud-sick",
        cwd=cloud_project,
        env=aws_env,
        ok=False,
    )
    assert result["code"] == 1, result["stderr"]
    assert "Failed" in result["stderr"]


def _held_training_job(moto: MotoHarness, name: str) -> None:
    """A job that stays InProgress (tests/aws/moto_ext.py holds jobs tagged smbyo-test=hold)."""
    moto.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "smbyo-cloud/none:latest", "TrainingInputMode": "File"},
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/R",
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        Tags=[{"Key": "smbyo-test", "Value": "hold"}],
    )


def test_wait_timeout_exits_1_and_says_how_to_resume(
    cloud_project: Path, aws_env: dict[str, str], moto: MotoHarness
) -> None:
    _held_training_job(moto, "smbyo-cloud-slow-job")
    result = smbyo(
        "wait", "training-job", "smbyo-cloud-slow-job", "--timeout", "3", cwd=cloud_project, env=aws_env, ok=False
    )
    assert result["code"] == 1, result["stderr"]
    assert "smbyo wait training-job smbyo-cloud-slow-job" in result["data"]["hint"]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_while_waiting_exits_with_the_resume_command(
    cloud_project: Path,
    aws_env: dict[str, str],
    moto: MotoHarness,
    signum: int,
    code: int,
) -> None:
    """Ctrl-C, or a CI cancel (SIGTERM): smbyo stops waiting, the job keeps running, the message says how to resume."""
    name = f"smbyo-cloud-held-job-{code}"
    _held_training_job(moto, name)
    process = subprocess.Popen(
        [sys.executable, "-m", "sm_byo", "wait", "training-job", name],
        cwd=cloud_project,
        env={**os.environ, **aws_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "InProgress" not in seen and time.monotonic() < deadline:
        seen += process.stderr.readline()
    assert "InProgress" in seen
    process.send_signal(signum)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == code, seen + rest
    assert f"smbyo wait training-job {name}" in seen + rest
    assert moto.client("sagemaker").describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress"


def test_missing_credentials_is_exit_3(cloud_project: Path, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        {
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "sm_byo", "wait", "training-job", "x"],
        cwd=cloud_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3, result.stderr
    assert "credentials" in result.stderr.lower()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_spot_job_stopped_part_way_resumes_from_its_s3_checkpoints(
    cloud_project: Path,
    moto: MotoHarness,
    aws_env: dict[str, str],
    registry: Registry,
    checkpointing_image: str,
    pushed_tags: list[str],
    tmp_path: Path,
) -> None:
    """The training job options as a SageMaker request: managed spot with MaxWait, MaxRuntimeInSeconds
    stopping the first job part-way, and a second job with the same CheckpointConfig.S3Uri starting
    from the checkpoints the first left there."""
    env = {**aws_env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    manifest = cloud_project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace(f"repository: {REPOSITORY}", f"repository: {REPOSITORY}-ckpt"))
    pushed_tags.append(smbyo("push", "--tag", checkpointing_image, cwd=cloud_project, env=env)["data"]["image_uri"])
    moto.client("s3").create_bucket(Bucket="smbyo-cloud-checkpoints")
    job = (
        "train", "--data", "training=data/training", "--spot", "--max-wait", "7200",
        "--checkpoint-uri", "s3://smbyo-cloud-checkpoints/run", "--env", "STEP_SECONDS=0.2",
    )  # fmt: skip
    first = smbyo(*job, "--env", "STEPS=100000", "--max-runtime", "6", cwd=cloud_project, env=env, ok=False)
    assert first["code"] == 1, first["stderr"]
    assert "MaxRuntimeInSeconds" in first["data"]["details"]["failure_reason"]
    listed = moto.client("s3").list_objects_v2(Bucket="smbyo-cloud-checkpoints", Prefix="run/")
    steps = sorted(int(item["Key"].removeprefix("run/step-").removesuffix(".json"))
                   for item in listed.get("Contents", []) if item["Key"].endswith(".json"))  # fmt: skip
    assert steps and steps == list(range(1, len(steps) + 1)), steps
    second = smbyo(*job, "--env", f"STEPS={steps[-1] + 2}", "--max-runtime", "600", cwd=cloud_project, env=env)["data"]
    bucket, _, key = second["model_artifacts"].removeprefix("s3://").partition("/")
    moto.client("s3").download_file(bucket, key, str(tmp_path / "model.tar.gz"))
    with tarfile.open(tmp_path / "model.tar.gz") as archive:
        member = archive.extractfile("resume.json")
        assert member is not None
        assert json.loads(member.read())["resumed_from"] == steps[-1]


def test_tune_uploads_the_data_sends_the_tuning_job_and_reports_its_best_trial(
    cloud_project: Path,
    moto: MotoHarness,
    aws_env: dict[str, str],
    registry: Registry,
    example_image: str,
    pushed_tags: list[str],
    tmp_path: Path,
) -> None:
    """`smbyo tune` as a user runs it: the plan built from the manifest (the same training request as
    `train`), the local data uploaded, the job sent and followed to its best trial (moto's stand-in runs
    every trial as a real training job)."""
    env = {**aws_env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    pushed_tags.append(smbyo("push", "--tag", example_image, cwd=cloud_project, env=env)["data"]["image_uri"])
    flags = ("--data", "training=data/training", "--strategy", "Random", "--max-jobs", "3",
             "--max-parallel-jobs", "2", "--range", "max_leaf_nodes=2:20")  # fmt: skip
    plan = smbyo("tune", "--dry-run", *flags, cwd=cloud_project, env=env)["data"]["plan"]
    request = plan[-1]["kwargs"]
    assert plan[-1]["operation"] == "CreateHyperParameterTuningJob"
    assert request["HyperParameterTuningJobConfig"]["ParameterRanges"] == {
        "IntegerParameterRanges": [{"Name": "max_leaf_nodes", "MinValue": "2", "MaxValue": "20"}]
    }
    assert request["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"].startswith(
        "s3://"
    )  # the local data, named where the upload puts it
    done = smbyo("tune", *flags, cwd=cloud_project, env=env)["data"]
    assert (done["where"], done["status"]) == ("sagemaker", "Completed")
    assert len(done["trials"]) == 3 and done["trial_counts"] == {"Completed": 3}
    objectives = [trial["objective_value"] for trial in done["trials"]]
    best = done["best"]
    assert best["objective_value"] == max(objectives)
    assert 2 <= int(best["hyperparameters"]["max_leaf_nodes"]) <= 20
    bucket, _, key = best["model_artifacts"].removeprefix("s3://").partition("/")
    assert moto.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
