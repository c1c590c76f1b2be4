"""A buyer's runs of published products, through the CLI in a subprocess with --json, against moto's server.

The seller's example is published first (``smbyo publish``, as tests/integration/test_publish.py does); the
buyer then names the algorithm or the model package instead of an image. moto is extended by
tests/aws/moto_algorithms.py (algorithms and model packages, and their validation life cycle) and
tests/aws/moto_ext.py (a training job naming an algorithm runs the algorithm's image; a model whose container is a
model package runs the package's image and model data).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)
from tests.aws.harness import ACCOUNT_ID, REGION, MotoHarness
from tests.aws.registry import Registry
from tests.conftest import run_cli
from tests.unit.plans import assert_plan_accepted

ECR = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/decision-trees-sample:v1"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT_ID}"
MODEL = f"s3://{BUCKET}/trained/model.tar.gz"


def smbyo(project: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_cli(*args, "--json", cwd=project, env=env, timeout=600)
    return result.returncode, json.loads(result.stdout or "{}"), result.stderr


def published(project: Path, env: dict[str, str], kind: str, *args: str) -> str:
    """Publish the example (seller side) and wait until AWS has validated it: its ARN."""
    code, result, stderr = smbyo(project, env, "publish", kind, *args)
    assert code == 0 and result["status"] == "Completed", stderr
    return str(result["arn"])


def published_with_image(project: Path, env: dict[str, str], moto: MotoHarness, image: str) -> str:
    """The CreateAlgorithm request ``smbyo publish algorithm`` plans, sent with ``image`` (the test registry's URI,
    which publish's ECR rule refuses: it is not of ECR's form), then followed to Completed with ``smbyo wait``."""
    request = dry_run_plan(project, env, "publish", "algorithm", "--image", ECR)["CreateAlgorithm"]
    request["TrainingSpecification"]["TrainingImage"] = image
    for container in request["InferenceSpecification"]["Containers"]:
        container["Image"] = image
    arn = str(moto.client("sagemaker").create_algorithm(**request)["AlgorithmArn"])
    code, waited, stderr = smbyo(project, env, "wait", "algorithm", request["AlgorithmName"])
    assert code == 0 and waited["status"] == "Completed", stderr
    return arn


def dry_run_plan(project: Path, env: dict[str, str], *args: str) -> dict[str, dict[str, Any]]:
    """The printed plan of ``smbyo ARGS --dry-run``, its requests by operation, each accepted by botocore."""
    code, plan, stderr = smbyo(project, env, *args, "--dry-run")
    assert code == 0, stderr
    assert_plan_accepted(plan)
    return {step["operation"]: step["kwargs"] for step in plan["plan"]}


def test_train_dry_run_names_the_algorithm_and_no_image(
    project: Path, moto: MotoHarness, aws_env: dict[str, str]
) -> None:
    algorithm = published(project, aws_env, "algorithm", "--image", ECR)

    plan = dry_run_plan(
        project, aws_env, "train", "--algorithm", algorithm, "--data", f"training=s3://{BUCKET}/data", "-H",
        "max_leaf_nodes=20",
    )  # fmt: skip

    request = plan["CreateTrainingJob"]
    assert request["AlgorithmSpecification"] == {"AlgorithmName": algorithm, "TrainingInputMode": "File"}
    assert request["EnableNetworkIsolation"] is True
    assert request["HyperParameters"]["max_leaf_nodes"] == "20"
    assert moto.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["-H", "depth=3"], "-H depth: unknown hyperparameter"),
        (["-H", "max_leaf_nodes=1"], "-H max_leaf_nodes"),
        (["--instance-type", "ml.p3.2xlarge"], "SupportedTrainingInstanceTypes"),
        (["--data", "validation=s3://b/v"], "--data names channel(s) validation"),
        (["--no-network-isolation"], "--no-network-isolation with --algorithm"),
        (["--image", ECR], "--algorithm"),
    ],
)
def test_what_the_algorithm_does_not_declare_exits_2_before_anything_is_sent(
    project: Path, moto: MotoHarness, aws_env: dict[str, str], flags: list[str], says: str
) -> None:
    algorithm = published(project, aws_env, "algorithm", "--image", ECR)
    code, error, stderr = smbyo(
        project, aws_env, "train", "--algorithm", algorithm, "--data", f"training=s3://{BUCKET}/data", *flags
    )
    assert code == 2, stderr
    assert says in error["message"]
    assert moto.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_an_unknown_or_unvalidated_product_exits_2(project: Path, aws_env: dict[str, str]) -> None:
    code, error, _ = smbyo(project, aws_env, "deploy", "--model-package", "no-such-package")
    assert code == 2 and "--model-package no-such-package: there is no model package" in error["message"]
    code, submitted, stderr = smbyo(project, aws_env, "publish", "algorithm", "--image", ECR, "--no-wait")
    assert code == 0, stderr
    code, error, _ = smbyo(project, aws_env, "train", "--algorithm", submitted["name"], "--data", "training=s3://b/t")
    assert code == 2 and "not Completed" in error["message"]


def test_deploy_dry_run_creates_a_model_of_the_package_with_network_isolation(
    project: Path, aws_env: dict[str, str]
) -> None:
    package = published(project, aws_env, "model-package", "--model-data", MODEL, "--image", ECR)

    plan = dry_run_plan(project, aws_env, "deploy", "--model-package", package)

    assert plan["CreateModel"]["PrimaryContainer"] == {"ModelPackageName": package}
    assert plan["CreateModel"]["EnableNetworkIsolation"] is True
    variant = plan["CreateEndpointConfig"]["ProductionVariants"][0]
    assert variant["ModelName"] == plan["CreateModel"]["ModelName"] == plan["CreateEndpoint"]["EndpointName"]
    code, error, _ = smbyo(project, aws_env, "deploy", "--model-package", package, "--instance-type", "ml.p3.2xlarge")
    assert code == 2 and "SupportedRealtimeInferenceInstanceTypes" in error["message"]


def test_transform_dry_run_of_an_algorithm_s_model_makes_a_model_package_first(
    project: Path, aws_env: dict[str, str]
) -> None:
    algorithm = published(project, aws_env, "algorithm", "--image", ECR)

    plan = dry_run_plan(
        project, aws_env, "transform", "--algorithm", algorithm, "--model", MODEL, "--input", f"s3://{BUCKET}/in",
        "--output", f"s3://{BUCKET}/out",
    )  # fmt: skip

    assert list(plan) == ["CreateModelPackage", "CreateModel", "CreateTransformJob"]
    package = plan["CreateModelPackage"]
    assert package["SourceAlgorithmSpecification"] == {
        "SourceAlgorithms": [{"AlgorithmName": algorithm, "ModelDataUrl": MODEL}]
    }
    assert plan["CreateModel"]["PrimaryContainer"] == {"ModelPackageName": package["ModelPackageName"]}
    assert plan["CreateModel"]["EnableNetworkIsolation"] is True
    assert plan["CreateTransformJob"]["ModelName"] == plan["CreateModel"]["ModelName"]


def test_a_failed_deploy_of_an_algorithm_s_model_deletes_the_model_package_it_made(
    project: Path, moto: MotoHarness, aws_env: dict[str, str]
) -> None:
    """The endpoint config's name is taken, so the third step fails: the model and the package are swept."""
    algorithm = published(project, aws_env, "algorithm", "--image", ECR)
    sagemaker = moto.client("sagemaker")
    sagemaker.create_model(ModelName="other", ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/R",
                           PrimaryContainer={"Image": ECR})  # fmt: skip
    sagemaker.create_endpoint_config(
        EndpointConfigName="taken",
        ProductionVariants=[{"VariantName": "v", "ModelName": "other", "InstanceType": "ml.m5.large",
                             "InitialInstanceCount": 1}],
    )  # fmt: skip

    flags = ("--algorithm", algorithm, "--model", MODEL, "--name", "taken")
    code, error, stderr = smbyo(project, aws_env, "deploy", *flags)

    assert code != 0, stderr
    assert error["details"]["cleanup"]["deleted"] == ["model/taken", "model-package/taken"]
    assert [model["ModelName"] for model in sagemaker.list_models()["Models"]] == ["other"]
    with pytest.raises(sagemaker.exceptions.ClientError):
        sagemaker.describe_model_package(ModelPackageName="taken")


@pytest.mark.docker
@pytest.mark.registry
def test_train_transform_and_deploy_a_published_algorithm_end_to_end(
    cloud_project: Path, moto: MotoHarness, aws_env: dict[str, str], registry: Registry, pushed_tags: list[str],
    example_image: str, tmp_path: Path,
) -> None:  # fmt: skip
    """Seller: push and publish the example. Buyer: train it by name, transform with what it trained (a model
    package made of the two), and deploy that package behind an endpoint."""
    env = {**aws_env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    code, pushed, stderr = smbyo(cloud_project, env, "push", "--tag", example_image)
    assert code == 0, stderr
    pushed_tags.append(pushed["image_uri"])
    algorithm = published_with_image(cloud_project, env, moto, pushed["image_uri"])

    code, trained, stderr = smbyo(cloud_project, env, "train", "--algorithm", algorithm, "--data",
                                  "training=data/training")  # fmt: skip
    assert code == 0, stderr
    assert (trained["status"], trained["algorithm"], trained["image"]) == ("Completed", algorithm, None)
    assert 0.8 < trained["metrics"]["validation:accuracy"] <= 1.0  # the algorithm's own metric definitions
    code, waited, stderr = smbyo(cloud_project, env, "wait", "training-job", trained["job_name"])
    assert code == 0 and waited["model_artifacts"] == trained["model_artifacts"], stderr

    output = f"s3://{BUCKET}/buyer/transform-output"
    code, transformed, stderr = smbyo(
        cloud_project, env, "transform", "--algorithm", algorithm, "--model", trained["model_artifacts"],
        "--input", "data/transform", "--output", output, "--download", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0, stderr
    assert transformed["status"] == "Completed" and transformed["outputs"] == [f"{output}/iris.csv.out"]
    package = transformed["model_package"]
    assert package == transformed["model_name"]

    code, endpoint, stderr = smbyo(cloud_project, env, "deploy", "--model-package", package, "--name", "buyer-ep")
    assert code == 0, stderr
    assert (endpoint["status"], endpoint["model_package"]) == ("InService", package)
    row = tmp_path / "row.csv"
    row.write_text((cloud_project / "data" / "transform" / "iris.csv").read_text().splitlines()[0] + "\n")
    invoked = run_cli("invoke", "buyer-ep", "--body", str(row), cwd=cloud_project, env=env)
    assert invoked.returncode == 0, invoked.stderr
    assert invoked.stdout.split() == (tmp_path / "out" / "iris.csv.out").read_text().split()[:1]
    code, deleted, stderr = smbyo(cloud_project, env, "delete", "buyer-ep")
    assert code == 0 and "model/buyer-ep" in deleted["deleted"], stderr
