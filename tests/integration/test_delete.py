"""`smbyo delete` through the CLI in a subprocess with --json, against moto's server (tests/aws/).

Resources are made with boto3 from the requests smbyo's own builders (sm_byo.specs) produce, so they carry the
tags smbyo gives what it creates; a resource "smbyo did not create" is the same request without them, and one
of another project is built from the manifest under another name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sm_byo.aws import connect
from sm_byo.cloud.s3 import plan_upload, run_upload
from sm_byo.manifest import Manifest, load_manifest
from sm_byo.reporting import RecordingReporter
from sm_byo.specs.algorithm import create_algorithm_request
from sm_byo.specs.hosting import EndpointOptions, endpoint_config_request, endpoint_request
from sm_byo.specs.model_package import create_model_package_request
from sm_byo.specs.names import data_prefix
from sm_byo.specs.transform import ModelOptions, model_request
from sm_byo.specs.validation import ValidationLocations
from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)
from tests.aws.harness import ACCOUNT_ID, REGION, MotoHarness
from tests.aws.moto_ext import HOLD_TAG
from tests.conftest import run_cli

REGISTRY = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/SmbyoTestRole"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT_ID}"
LOCATIONS = ValidationLocations("s3://b/validation/training/", "s3://b/validation/transform/", "s3://b/out/")


def smbyo(project: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_cli(*args, "--json", cwd=project, env=env, timeout=300)
    return result.returncode, json.loads(result.stdout or "{}"), result.stderr


def entries(items: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(item["kind"], item["name"]) for item in items]


@pytest.fixture
def manifest(project: Path) -> Manifest:
    return load_manifest(project / "smbyo.yaml").manifest


def untagged(request: dict[str, Any]) -> dict[str, Any]:
    """The request without its Tags: a resource smbyo did not create."""
    return {key: value for key, value in request.items() if key != "Tags"}


def make_model(moto: MotoHarness, manifest: Manifest, name: str, *, tagged: bool = True) -> None:
    options = ModelOptions(model_name=name, image=f"{REGISTRY}/x:v1", model_data="s3://b/model.tar.gz", role=ROLE)
    request = model_request(manifest, options).kwargs
    moto.client("sagemaker").create_model(**(request if tagged else untagged(request)))


def make_endpoint(moto: MotoHarness, manifest: Manifest, name: str, *, hold: bool = False) -> None:
    """An endpoint, its config and its model, named alike, as `smbyo deploy` makes them (``hold``: it stays
    Creating, and the stand-in refuses to delete it, as AWS does)."""
    make_model(moto, manifest, name)
    sagemaker = moto.client("sagemaker")
    sagemaker.create_endpoint_config(**endpoint_config_request(manifest, EndpointOptions(name=name)).kwargs)
    request = endpoint_request(manifest, EndpointOptions(name=name)).kwargs
    if hold:
        request["Tags"] = [*request["Tags"], {"Key": HOLD_TAG, "Value": "hold"}]
    sagemaker.create_endpoint(**request)


def make_algorithm(moto: MotoHarness, manifest: Manifest, name: str, *, image: str = f"{REGISTRY}/x:v1") -> str:
    request = create_algorithm_request(
        manifest, image=image, name=name, locations=LOCATIONS, inference_image=image + "-inference"
    ).kwargs
    return str(moto.client("sagemaker").create_algorithm(**request)["AlgorithmArn"])


def make_package(moto: MotoHarness, manifest: Manifest, name: str, *, tagged: bool = True) -> str:
    request = create_model_package_request(
        manifest, image=f"{REGISTRY}/x:v1", model_data="s3://b/model.tar.gz", name=name, locations=LOCATIONS
    ).kwargs
    response = moto.client("sagemaker").create_model_package(**(request if tagged else untagged(request)))
    return str(response["ModelPackageArn"])


def names(moto: MotoHarness) -> dict[str, list[str]]:
    """What exists, by kind."""
    sagemaker = moto.client("sagemaker")
    return {
        "endpoint": sorted(e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]),
        "endpoint-config": sorted(
            c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
        ),
        "model": sorted(m["ModelName"] for m in sagemaker.list_models()["Models"]),
        "algorithm": sorted(a["AlgorithmName"] for a in sagemaker.list_algorithms()["AlgorithmSummaryList"]),
        "model-package": sorted(
            p["ModelPackageName"] for p in sagemaker.list_model_packages()["ModelPackageSummaryList"]
        ),
    }


def test_dry_run_lists_each_kind_and_deletes_nothing(
    project: Path, moto: MotoHarness, aws_env: dict[str, str], manifest: Manifest
) -> None:
    make_endpoint(moto, manifest, "ep")
    make_model(moto, manifest, "lone-model")
    algorithm_arn = make_algorithm(moto, manifest, "algo")
    make_package(moto, manifest, "pkg")
    before = names(moto)

    expected = {
        ("endpoint", "ep"): [("endpoint", "ep"), ("endpoint-config", "ep"), ("model", "ep")],
        ("model", f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:model/lone-model"): [("model", "lone-model")],
        ("algorithm", algorithm_arn): [("algorithm", "algo")],  # an ARN names it too
        ("model-package", "pkg"): [("model-package", "pkg")],
    }
    for (kind, name), listed in expected.items():
        code, result, stderr = smbyo(project, aws_env, "delete", kind, name, "--dry-run")
        assert code == 0, stderr
        assert result["dry_run"] is True and entries(result["would_delete"]) == listed
    assert names(moto) == before


def test_each_kind_is_deleted(project: Path, moto: MotoHarness, aws_env: dict[str, str], manifest: Manifest) -> None:
    make_endpoint(moto, manifest, "ep")
    make_model(moto, manifest, "m1")
    make_model(moto, manifest, "m2")
    make_model(moto, manifest, "kept")
    make_algorithm(moto, manifest, "algo")
    make_package(moto, manifest, "pkg")

    code, result, stderr = smbyo(project, aws_env, "delete", "model", "m1", "m2")
    assert code == 0 and entries(result["deleted"]) == [("model", "m1"), ("model", "m2")], stderr
    code, result, stderr = smbyo(project, aws_env, "delete", "endpoint", "ep")
    assert code == 0, stderr
    assert entries(result["deleted"]) == [("endpoint", "ep"), ("endpoint-config", "ep"), ("model", "ep")]
    assert result["failed"] == [] and result["missing"] == []
    for kind, name in (("algorithm", "algo"), ("model-package", "pkg")):
        code, result, stderr = smbyo(project, aws_env, "delete", kind, name)
        assert code == 0 and entries(result["deleted"]) == [(kind, name)], stderr

    assert names(moto) == {"endpoint": [], "endpoint-config": [], "model": ["kept"], "algorithm": [],
                           "model-package": []}  # fmt: skip


def test_the_one_argument_form_deletes_an_endpoint_as_before(
    project: Path, moto: MotoHarness, aws_env: dict[str, str], manifest: Manifest
) -> None:
    make_endpoint(moto, manifest, "old-style")
    code, result, stderr = smbyo(project, aws_env, "delete", "old-style")
    assert code == 0, stderr
    assert result == {
        "endpoint": "old-style",
        "deleted": ["endpoint/old-style", "endpoint-config/old-style", "model/old-style"],
        "missing": [],
    }
    assert names(moto)["endpoint"] == [] and names(moto)["model"] == []


def test_a_missing_name_exits_2_naming_it_and_deletes_nothing(
    project: Path, moto: MotoHarness, aws_env: dict[str, str], manifest: Manifest
) -> None:
    make_model(moto, manifest, "here")
    code, error, _ = smbyo(project, aws_env, "delete", "model", "here", "not-here")
    assert code == 2 and "not-here" in error["message"]
    assert names(moto)["model"] == ["here"], "nothing is deleted when one name is missing"
    for kind in ("endpoint", "algorithm", "model-package"):
        code, error, _ = smbyo(project, aws_env, "delete", kind, "no-such-thing")
        assert code == 2 and "no-such-thing" in error["message"], (kind, error)
    code, error, _ = smbyo(project, aws_env, "delete", "no-such-endpoint")
    assert code == 2 and "no-such-endpoint" in error["message"]
    code, error, _ = smbyo(project, aws_env, "delete", "model")
    assert code == 2 and "`smbyo delete endpoint model`" in error["hint"]


def test_delete_project_deletes_only_what_smbyo_created_for_this_project(
    project: Path, moto: MotoHarness, aws_env: dict[str, str], manifest: Manifest
) -> None:
    other = manifest.model_copy(update={"name": "another-project"})
    make_endpoint(moto, manifest, "mine-ep")
    make_algorithm(moto, manifest, "mine-algo")
    make_package(moto, manifest, "mine-pkg")
    make_model(moto, other, "theirs-model")
    make_algorithm(moto, other, "theirs-algo")
    make_model(moto, manifest, "by-hand-model", tagged=False)
    make_package(moto, manifest, "by-hand-pkg", tagged=False)

    code, listed, stderr = smbyo(project, aws_env, "delete", "project", "--dry-run")
    assert code == 0, stderr
    mine = [("endpoint", "mine-ep"), ("endpoint-config", "mine-ep"), ("model", "mine-ep"),
            ("model-package", "mine-pkg"), ("algorithm", "mine-algo")]  # fmt: skip
    assert entries(listed["would_delete"]) == mine
    code, result, stderr = smbyo(project, aws_env, "delete", "project")
    assert code == 0 and entries(result["deleted"]) == mine, stderr

    assert names(moto) == {"endpoint": [], "endpoint-config": [], "model": ["by-hand-model", "theirs-model"],
                           "algorithm": ["theirs-algo"], "model-package": ["by-hand-pkg"]}  # fmt: skip
    code, again, stderr = smbyo(project, aws_env, "delete", "project")
    assert code == 0 and again["deleted"] == [], "nothing left is not an error"


def test_data_deletes_only_the_objects_smbyo_uploaded_for_the_project(
    project: Path, moto: MotoHarness, aws_env: dict[str, str], manifest: Manifest, tmp_path: Path
) -> None:
    aws = connect()
    aws.create_bucket(BUCKET)
    base = f"{data_prefix(manifest)}input/training"
    mine = run_upload(aws, plan_upload(project / "data" / "training", BUCKET, base, "--data", project=manifest.name),
                      RecordingReporter())  # fmt: skip
    theirs = run_upload(aws, plan_upload(project / "data" / "transform", BUCKET, base, "--data", project="other"),
                        RecordingReporter())  # fmt: skip
    s3 = moto.client("s3")
    foreign = f"{data_prefix(manifest)}input/notes.txt"  # in the same prefix, written by someone else
    s3.put_object(Bucket=BUCKET, Key=foreign, Body=b"not smbyo's")
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    prefix_of = {mine.uri: [], theirs.uri: []}
    for key in keys:
        for uri in prefix_of:
            if f"s3://{BUCKET}/{key}".startswith(uri):
                prefix_of[uri].append(key)
    assert prefix_of[mine.uri] and prefix_of[theirs.uri]

    code, listed, stderr = smbyo(project, aws_env, "delete", "project", "--data", "--dry-run")
    assert code == 0, stderr
    assert entries(listed["would_delete"]) == [("s3-object", f"s3://{BUCKET}/{key}") for key in prefix_of[mine.uri]]
    code, result, stderr = smbyo(project, aws_env, "delete", "project", "--data")
    assert code == 0 and len(result["deleted"]) == len(prefix_of[mine.uri]), stderr

    left = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert left == sorted([foreign, *prefix_of[theirs.uri]])


def test_images_deletes_the_tags_the_projects_resources_run_and_no_other(
    project: Path, moto: MotoHarness, aws_env: dict[str, str], manifest: Manifest
) -> None:
    ecr = moto.client("ecr")
    uri = ecr.create_repository(repositoryName=manifest.name)["repository"]["repositoryUri"]
    for index, tag in enumerate(["v1", "v1-inference", "v2", "hand-pushed"]):
        body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": f"sha256:{index:064d}"}, "layers": []})  # fmt: skip
        ecr.put_image(repositoryName=manifest.name, imageManifest=body, imageTag=tag)
    make_algorithm(moto, manifest, "mine-algo", image=f"{uri}:v1")  # runs v1 (training) and v1-inference
    make_algorithm(moto, manifest.model_copy(update={"name": "another-project"}), "theirs", image=f"{uri}:v2")

    code, listed, stderr = smbyo(project, aws_env, "delete", "project", "--images", "--dry-run")
    assert code == 0, stderr
    assert entries(listed["would_delete"]) == [
        ("algorithm", "mine-algo"),
        ("ecr-image", f"{manifest.name}:v1"),
        ("ecr-image", f"{manifest.name}:v1-inference"),
    ]
    code, result, stderr = smbyo(project, aws_env, "delete", "project", "--images")
    assert code == 0 and len(result["deleted"]) == 3, stderr

    tags = sorted(image["imageTag"] for image in ecr.list_images(repositoryName=manifest.name)["imageIds"])
    assert tags == ["hand-pushed", "v2"], "the repository and the other tags stay"


def test_a_refused_deletion_is_reported_and_the_rest_still_go(
    project: Path, moto: MotoHarness, aws_env: dict[str, str], manifest: Manifest
) -> None:
    make_endpoint(moto, manifest, "stuck", hold=True)
    make_model(moto, manifest, "free")

    code, error, stderr = smbyo(project, aws_env, "delete", "project")

    assert code == 1, stderr
    assert error["error"] == "DeleteIncomplete" and "endpoint/stuck" in error["message"]
    assert "Creating" in error["details"]["failed"][0]["error"]
    assert entries(error["details"]["deleted"]) == [("endpoint-config", "stuck"), ("model", "stuck"),
                                                    ("model", "free")]  # fmt: skip
    assert names(moto)["endpoint"] == ["stuck"] and names(moto)["model"] == []
