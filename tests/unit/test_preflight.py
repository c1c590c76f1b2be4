"""Pre-flight: each reason AWS would reject a request is caught, all at once, with the manifest field named."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from sm_byo.errors import ManifestProblem
from sm_byo.manifest import LoadedManifest, Manifest, load_manifest
from sm_byo.preflight import (
    Ownership,
    RequestRejected,
    ensure_acceptable,
    ensure_plan_acceptable,
    preflight_problems,
    request_violations,
)
from sm_byo.specs.algorithm import create_algorithm_request
from sm_byo.specs.model_package import create_model_package_request
from sm_byo.specs.request import Request
from sm_byo.specs.validation import validation_locations
from tests.conftest import EXAMPLE_DIR, run_cli

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/decision-trees-sample:latest"
NAME = "decision-trees-sample-2026-01-01-00-00-00-000"
EXAMPLE: dict[str, Any] = yaml.safe_load((EXAMPLE_DIR / "smbyo.yaml").read_text())


def unchecked(data: dict[str, Any], tmp_path: Path) -> LoadedManifest:
    """A manifest that skips the loader's own rules, to prove pre-flight catches them by itself."""
    return LoadedManifest(manifest=Manifest.model_validate(data), path=tmp_path / "smbyo.yaml", lines={})


def problems(loaded: LoadedManifest, image: str = IMAGE) -> list[ManifestProblem]:
    manifest = loaded.manifest
    where = validation_locations(manifest.validation, NAME) if manifest.validation else None
    request = create_algorithm_request(manifest, image=image, name=NAME, locations=where)  # type: ignore[arg-type]
    return preflight_problems(loaded, request)


def fields(found: list[ManifestProblem]) -> set[str]:
    return {problem.field for problem in found}


def variant(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    for dotted, value in changes.items():
        target = data
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[last] = value
    return data


def written(tmp_path: Path, data: dict[str, Any]) -> LoadedManifest:
    """A real manifest file (so lines are known) next to the example's data."""
    if not (tmp_path / "data").exists():
        (tmp_path / "data").symlink_to((EXAMPLE_DIR / "data").resolve())
    # copies: code must not link out of the project
    for item in ("train.py", "predictor.py", "requirements.txt", "requirements-inference.txt"):
        if not (tmp_path / item).exists():
            shutil.copyfile(EXAMPLE_DIR / item, tmp_path / item)
    path = tmp_path / "smbyo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_manifest(path)


def test_role_name_instead_of_arn_is_named_with_its_line(tmp_path: Path) -> None:
    loaded = written(tmp_path, variant(validation__role="SageMakerRole"))
    [problem] = problems(loaded)
    assert problem.field == "validation.role"
    assert "role name" in problem.message and "arn:aws:iam::<account-id>:role/SageMakerRole" in problem.message
    assert problem.line == loaded.line_of(("validation", "role"))
    assert problem.line is not None


def test_instance_type_not_offered_by_sagemaker(tmp_path: Path) -> None:
    types = ["ml.m5.large", "ml.zz9.large", "ml.c5.xlarge"]
    found = problems(written(tmp_path, variant(training__instance_types=types)))
    assert fields(found) == {"training.instance_types[1]"}
    assert "'ml.zz9.large' is not one of the values AWS accepts" in found[0].message


def test_image_not_on_ecr_names_the_flag(tmp_path: Path) -> None:
    found = problems(written(tmp_path, EXAMPLE), image="decision-trees-sample:latest")
    assert {p.field for p in found} == {"--image"}
    assert all(p.path == "command line" for p in found)
    assert "smbyo push" in found[0].message


def test_malformed_and_missing_s3_locations(tmp_path: Path) -> None:
    found = problems(written(tmp_path, variant(validation__output="s3://My_Bucket/out")))
    assert "validation.output" in fields(found)
    [bucket] = [p for p in found if "'My_Bucket' is not a valid S3 bucket name" in p.message]
    assert bucket.field == "validation.output"  # reported once for the 4 request fields it reaches
    assert bucket.message.count("ValidationSpecification.") == 4
    data = variant()
    del data["validation"]["output"]
    found = problems(written(tmp_path, data))
    assert "validation.output" in fields(found)
    assert any("set validation.output" in p.message for p in found)


def test_validation_instance_must_be_a_supported_training_instance(tmp_path: Path) -> None:
    found = problems(written(tmp_path, variant(validation__instance_type="ml.p3.2xlarge")))
    assert "validation.instance_type" in fields(found)


def test_counts_over_aws_maximums(tmp_path: Path) -> None:
    data = variant()
    training = data["training"]
    training["hyperparameters"] += [{"name": f"h{i}", "type": "FreeText"} for i in range(100)]
    training["metrics"] += [{"name": f"m{i}", "regex": f"m{i}=(\\S+)"} for i in range(40)]
    training["channels"] += [{"name": f"c{i}", "required": False} for i in range(8)]
    training["hyperparameters"].append({"name": "kind", "type": "Categorical", "values": [str(i) for i in range(31)]})
    found = problems(unchecked(data, tmp_path))
    by_field = {p.field: p.message for p in found}
    assert "AWS accepts at most 100" in by_field["training.hyperparameters"]
    assert "AWS accepts at most 40" in by_field["training.metrics"]
    assert "AWS accepts at most 8" in by_field["training.channels"]
    assert "AWS accepts at most 30" in by_field["training.hyperparameters[101].values"]


def test_defaults_outside_range_or_on_required_hyperparameters(tmp_path: Path) -> None:
    data = variant()
    data["training"]["hyperparameters"][0]["default"] = "1"
    data["training"]["hyperparameters"].append({"name": "seed", "type": "Integer", "required": True, "default": "1"})
    data["validation"]["hyperparameters"]["seed"] = 3
    found = problems(unchecked(data, tmp_path))
    messages = {p.field: p.message for p in found}
    assert "outside the range [2, 100000]" in messages["training.hyperparameters[0].default"]
    assert "required hyperparameter cannot have a default" in messages["training.hyperparameters[1].default"]


def test_tuning_objective_metric_must_be_defined(tmp_path: Path) -> None:
    data = variant(training__tuning_objective={"metric": "validation:f1", "type": "Maximize"})
    found = problems(unchecked(data, tmp_path))
    assert fields(found) == {"training.tuning_objective.metric"}
    assert "'validation:f1' is not one of the metrics defined (validation:accuracy)" in found[0].message


def test_validation_hyperparameter_outside_its_range(tmp_path: Path) -> None:
    found = problems(unchecked(variant(validation__hyperparameters={"max_leaf_nodes": 1}), tmp_path))
    assert fields(found) == {"validation.hyperparameters"}
    assert "max_leaf_nodes: 1 is outside the range" in found[0].message


def test_marketplace_listing_needs_a_validation_profile(tmp_path: Path) -> None:
    data = variant()
    del data["validation"]
    found = problems(unchecked(data, tmp_path))
    assert "validation" in fields(found)


def test_every_violation_at_once_exit_code_2(tmp_path: Path) -> None:
    data = variant(validation__role="SageMakerRole", name="x" * 70, training__instance_types=["ml.nope.large"])
    loaded = unchecked(data, tmp_path)
    where = validation_locations(loaded.manifest.validation, "n")  # type: ignore[arg-type]
    request = create_algorithm_request(loaded.manifest, image="nginx", name="x" * 70, locations=where)
    with pytest.raises(RequestRejected) as caught:
        ensure_acceptable(loaded, request)
    found = {p.field for p in caught.value.problems}
    assert {"validation.role", "name", "training.instance_types[0]", "--image"} <= found
    assert caught.value.exit_code == 2


def test_model_package_data_url_must_be_s3(tmp_path: Path) -> None:
    loaded = written(tmp_path, EXAMPLE)
    manifest = loaded.manifest
    where = validation_locations(manifest.validation, NAME)  # type: ignore[arg-type]
    request = create_model_package_request(manifest, image=IMAGE, model_data="model.tar.gz", name=NAME, locations=where)
    assert fields(preflight_problems(loaded, request)) == {"--model-data"}


# --- through the CLI ------------------------------------------------------------------------------

AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


def test_dry_run_prints_the_exact_request_and_exits_0() -> None:
    result = run_cli("publish", "algorithm", "--dry-run", "--json", "--image", IMAGE, cwd=EXAMPLE_DIR, env=AWS_ENV)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["dry_run"] is True and plan["target"] == "sagemaker"
    uploads = [step for step in plan["plan"] if step["operation"] == "Upload"]
    (request,) = [step["kwargs"] for step in plan["plan"] if step["operation"] == "CreateAlgorithm"]
    assert plan["plan"][-1]["operation"] == "CreateAlgorithm"  # the uploads of validation data come first
    assert {step["kwargs"]["Destination"] for step in uploads} == {
        request["ValidationSpecification"]["ValidationProfiles"][0]["TrainingJobDefinition"]["InputDataConfig"][0][
            "DataSource"
        ]["S3DataSource"]["S3Uri"],
        request["ValidationSpecification"]["ValidationProfiles"][0]["TransformJobDefinition"]["TransformInput"][
            "DataSource"
        ]["S3DataSource"]["S3Uri"],
    }
    assert request["TrainingSpecification"]["TrainingImage"] == IMAGE
    assert request["AlgorithmName"].startswith("decision-trees-sample-")


def test_dry_run_exits_2_naming_the_field(tmp_path: Path) -> None:
    written(
        tmp_path, variant(validation__role="SageMakerRole", training__instance_types=["ml.zz9.large", "ml.c5.xlarge"])
    )
    result = run_cli("publish", "algorithm", "--dry-run", "--json", "--image", IMAGE, cwd=tmp_path, env=AWS_ENV)
    assert result.returncode == 2, result.stderr
    error = json.loads(result.stdout)
    named = {problem["field"] for problem in error["details"]["problems"]}
    assert named == {"validation.role", "training.instance_types[0]"}
    assert "validation.role" in result.stderr


def test_model_package_dry_run_with_a_local_model_path_exits_2(tmp_path: Path) -> None:
    args = ("publish", "model-package", "--model-data", "model.tar.gz", "--dry-run", "--image", IMAGE)
    result = run_cli(*args, cwd=EXAMPLE_DIR, env=AWS_ENV)
    assert result.returncode == 2
    assert "--model-data" in result.stderr


# One rule for a hyperparameter value: the container's cast, `-H` on the host, the manifest's default
# and pre-flight of the request (defaults and the validation profile) must give the same verdict.
INTEGER_VALUES = ["7", "+7", "2.0", "7.5", "1_000", " 7", "7\n", "", "nan", "inf", "1e3", "0x10", "7; rm -rf /"]
CONTINUOUS_VALUES = ["0.5", ".5", "5e-1", "1", "nan", "inf", "-inf", "0_5", " 0.5", "1.5", "abc"]
RULE_SPECS = {
    "Integer": {"name": "max_leaf_nodes", "type": "Integer", "min": 2, "max": 100000},
    "Continuous": {"name": "rate", "type": "Continuous", "min": 0.0, "max": 1.0},
}


@pytest.mark.parametrize(
    ("kind", "value"), [("Integer", v) for v in INTEGER_VALUES] + [("Continuous", v) for v in CONTINUOUS_VALUES]
)
def test_every_layer_gives_a_hyperparameter_value_the_same_verdict(tmp_path: Path, kind: str, value: str) -> None:
    from sm_byo.errors import UsageError
    from sm_byo.hyperparameters import validate_hyperparameters
    from sm_byo.manifest import HyperparameterSpec, TrainingSpec, hyperparameter_problems
    from sm_byo.runtime.hyperparameters import HyperparameterError, resolve

    spec = RULE_SPECS[kind]
    try:
        resolve([spec], {spec["name"]: value})
        in_container = True
    except HyperparameterError:
        in_container = False

    try:
        manifest = Manifest(name="algo", training=TrainingSpec(hyperparameters=[HyperparameterSpec(**spec)]))
        validate_hyperparameters(manifest, {spec["name"]: value})
        on_the_host = True
    except UsageError:
        on_the_host = False

    as_default = HyperparameterSpec(**spec, default=value)
    in_the_manifest = not list(hyperparameter_problems(as_default, ("training", "hyperparameters", 0)))

    data = variant()
    data["training"]["hyperparameters"] = [{**spec, "tunable": False}]
    data["training"].pop("tuning_objective", None)
    data["validation"]["hyperparameters"] = {spec["name"]: value}
    in_preflight = "validation.hyperparameters" not in fields(problems(unchecked(data, tmp_path)))

    verdicts = {"container": in_container, "-H": on_the_host, "manifest": in_the_manifest, "pre-flight": in_preflight}
    assert len(set(verdicts.values())) == 1, verdicts
    assert in_container == (value in {"7", "+7", "0.5", ".5", "5e-1", "1"})  # AWS's reading of numbers


@pytest.mark.parametrize(("payload", "concurrency", "refused"), [(20, 5, False), (20, 6, True), (100, 1, False)])
def test_payloads_in_flight_are_at_most_100_mb(payload: int, concurrency: int, refused: bool) -> None:
    request = Request(
        "CreateTransformJob",
        {
            "TransformJobName": "t",
            "ModelName": "m",
            "MaxPayloadInMB": payload,
            "MaxConcurrentTransforms": concurrency,
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/in"}}},
            "TransformOutput": {"S3OutputPath": "s3://bucket/out"},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        },
    )
    found = [v for v in request_violations(request) if v.path == ("MaxPayloadInMB",)]
    assert bool(found) is refused
    if refused:
        assert "120 MB in flight" in found[0].message


def _training_job(**changes: Any) -> Request:
    kwargs: dict[str, Any] = {
        "TrainingJobName": "t",
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/R",
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    kwargs.update(changes)
    return Request("CreateTrainingJob", kwargs)


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"EnableManagedSpotTraining": True}, ("EnableManagedSpotTraining",), "needs StoppingCondition.MaxWait"),
        (
            {"StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}},
            ("StoppingCondition", "MaxWaitTimeInSeconds"),
            "only valid with managed spot training",
        ),
        (
            {
                "EnableManagedSpotTraining": True,
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 3599},
            },
            ("StoppingCondition", "MaxWaitTimeInSeconds"),
            "3599 s is shorter than StoppingCondition.MaxRuntimeInSeconds (3600 s)",
        ),
        (
            {
                "EnableManagedSpotTraining": True,
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 3600},
            },
            None,
            "",
        ),
        (
            {"ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 0}},
            ("ResourceConfig", "InstanceCount"),
            "at least 1",
        ),
    ],
)
def test_managed_spot_and_instance_count_rules_apply_to_any_training_request(
    changes: dict[str, Any], path: tuple[str, ...] | None, words: str
) -> None:
    found = request_violations(_training_job(**changes))
    if path is None:
        assert found == []
    else:
        assert [(v.path, words in v.message) for v in found] == [(path, True)], found


def test_with_credentials_a_foreign_role_and_output_bucket_are_named_once_each(tmp_path: Path) -> None:
    """Ownership (what the credentials showed): the role's account and validation.output's bucket must be the
    caller's; every request field the output prefix lands in is reported under the one manifest field."""
    loaded = written(tmp_path, variant(validation__role="arn:aws:iam::444455556666:role/Theirs"))
    manifest = loaded.manifest
    assert manifest.validation is not None and manifest.validation.output is not None
    bucket = manifest.validation.output.removeprefix("s3://").split("/")[0]
    where = validation_locations(manifest.validation, NAME)
    request = create_algorithm_request(manifest, image=IMAGE, name=NAME, locations=where)
    ownership = Ownership("123456789012", {bucket: f"bucket {bucket!r} is not account 123456789012's"})
    with pytest.raises(RequestRejected) as rejected:
        ensure_plan_acceptable(loaded, [request], ownership=ownership)
    found = {problem.field: problem for problem in rejected.value.problems}
    assert set(found) == {"validation.role", "validation.output"}
    assert "the role is in account 444455556666; these credentials are account 123456789012" in (
        found["validation.role"].message
    )
    assert found["validation.output"].line == loaded.line_of(("validation", "output"))
    assert "S3OutputPath" in found["validation.output"].message  # one problem naming all its request fields
    ensure_plan_acceptable(loaded, [request], ownership=None)  # offline (no credentials): not checked
