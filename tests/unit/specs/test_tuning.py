"""The CreateHyperParameterTuningJob builder: the request SageMaker's service model accepts, its TrainingJobDefinition
made by the training builder, --range narrowing and its refusals, the request rules pre-flight applies (Grid,
Hyperband, scaling, counts), and a published algorithm's TrainingSpecification in place of the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sm_byo.errors import UsageError
from sm_byo.manifest import LoadedManifest, load_manifest
from sm_byo.preflight import request_violations
from sm_byo.specs.request import Request
from sm_byo.specs.training import TrainingOptions, training_job_request
from sm_byo.specs.tuning import TuningOptions, tuning_job_request
from tests.conftest import EXAMPLE_DIR
from tests.unit.plans import botocore_errors

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/decision-trees:1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
CONFIG = "HyperParameterTuningJobConfig"


@pytest.fixture(scope="module")
def example() -> LoadedManifest:
    return load_manifest(EXAMPLE_DIR / "smbyo.yaml")


def training(**changes: Any) -> TrainingOptions:
    values: dict[str, Any] = {
        "job_name": "unused", "image": IMAGE, "role": ROLE, "output_path": "s3://my-bucket/tuning",
        "channels": {"training": "s3://my-bucket/data/training"}, **changes,
    }  # fmt: skip
    return TrainingOptions(**values)


def build(loaded: LoadedManifest, *, train: TrainingOptions | None = None, **changes: Any) -> Request:
    options = TuningOptions(job_name="decision-trees-261124-010203-456", training=train or training(), **changes)
    return tuning_job_request(loaded.manifest, options)


def violations(loaded: LoadedManifest, request: Request) -> dict[str, str]:
    """request field -> message, and the origin pre-flight names, for every rule the request breaks."""
    found = {}
    for violation in request_violations(request, loaded=loaded):
        path = ".".join(str(part) for part in violation.path)
        found[path] = f"{violation.message} <- {request.origin_of(violation.path)}"
    return found


def with_hyperparameters(tmp_path: Path, *extra: dict[str, Any]) -> LoadedManifest:
    data = yaml.safe_load((EXAMPLE_DIR / "smbyo.yaml").read_text())
    data["training"]["hyperparameters"].extend(extra)
    path = tmp_path / "smbyo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_manifest(path, check_files=False)


def test_the_example_makes_a_request_botocore_and_the_service_model_accept(example: LoadedManifest) -> None:
    request = build(example, train=training(hyperparameters={}), max_jobs=6, max_parallel_jobs=2)
    assert botocore_errors(request.operation, request.kwargs) == ""
    assert request_violations(request, loaded=example) == []
    config = request.kwargs[CONFIG]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:accuracy"}
    assert config["ParameterRanges"] == {
        "IntegerParameterRanges": [{"Name": "max_leaf_nodes", "MinValue": "2", "MaxValue": "100000"}]
    }
    assert config["ResourceLimits"] == {"MaxParallelTrainingJobs": 2, "MaxNumberOfTrainingJobs": 6}
    assert len(request.kwargs["HyperParameterTuningJobName"]) <= 32


def test_the_training_job_definition_is_the_training_request_reshaped(example: LoadedManifest) -> None:
    from sm_byo.options import TrainingJobSettings

    job = TrainingJobSettings(
        spot=True, max_wait_seconds=7200, max_runtime_seconds=3600, environment={"OMP_NUM_THREADS": "2"},
        vpc_subnets=("subnet-0abc1234",), vpc_security_group_ids=("sg-0abc1234",), network_isolation=True,
        checkpoint_uri="s3://my-bucket/checkpoints", tags={"team": "ml"},
    )  # fmt: skip
    options = training(job=job)
    request = build(example, train=options)
    trained = training_job_request(example.manifest, options).kwargs
    definition = request.kwargs["TrainingJobDefinition"]
    for key in ("AlgorithmSpecification", "RoleArn", "InputDataConfig", "OutputDataConfig", "ResourceConfig",
                "StoppingCondition", "VpcConfig", "EnableManagedSpotTraining", "EnableNetworkIsolation",
                "CheckpointConfig", "Environment"):  # fmt: skip
        assert definition[key] == trained[key], key
    assert "TrainingJobName" not in definition and "HyperParameters" not in definition
    assert definition["StaticHyperParameters"] == {}  # max_leaf_nodes is tuned: its default is not static
    assert request.kwargs["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert botocore_errors(request.operation, request.kwargs) == ""
    assert request_violations(request, loaded=example) == []


def test_a_range_narrows_the_manifest_and_carries_its_scaling(example: LoadedManifest) -> None:
    request = build(example, ranges={"max_leaf_nodes": "4:64:Logarithmic"})
    (item,) = request.kwargs[CONFIG]["ParameterRanges"]["IntegerParameterRanges"]
    assert item == {"Name": "max_leaf_nodes", "MinValue": "4", "MaxValue": "64", "ScalingType": "Logarithmic"}
    assert request.origin_of((CONFIG, "ParameterRanges", "IntegerParameterRanges", 0)) == ("--range",)


@pytest.mark.parametrize(
    ("ranges", "static", "says"),
    [
        ({"max_leaf_nodes": "1:50"}, {}, "outside the range"),  # below the manifest's min 2
        ({"max_leaf_nodes": "2:200000"}, {}, "outside the range"),
        ({"max_leaf_nodes": "50:10"}, {}, "greater than MAX"),
        ({"max_leaf_nodes": "2.5:10"}, {}, "not an integer"),
        ({"max_leaf_nodes": "2:10:Cubic"}, {}, "not a scaling type"),
        ({"max_leaf_nodes": "10"}, {}, "MIN:MAX"),
        ({"max_depth": "2:10"}, {}, "not a declared hyperparameter"),
        ({"max_leaf_nodes": "2:10"}, {"max_leaf_nodes": "10"}, "also given with -H"),
    ],
)
def test_a_range_outside_the_declaration_exits_2_naming_the_flag_and_field(
    example: LoadedManifest, ranges: dict[str, str], static: dict[str, str], says: str
) -> None:
    with pytest.raises(UsageError) as refused:
        build(example, train=training(hyperparameters=static), ranges=ranges)
    assert refused.value.exit_code == 2
    assert refused.value.message.startswith("--range ") and says in refused.value.message
    if "outside" in says:
        assert "training.hyperparameters[0] (max_leaf_nodes)" in refused.value.message


def test_a_range_for_a_hyperparameter_that_is_not_tunable_names_its_field(tmp_path: Path) -> None:
    loaded = with_hyperparameters(tmp_path, {"name": "seed", "type": "Integer", "min": 0, "max": 9, "default": "1"})
    with pytest.raises(UsageError, match=r"--range seed=1:3: .*training.hyperparameters\[1\] \(seed\) is not tunable"):
        build(loaded, ranges={"seed": "1:3"})
    static = build(loaded).kwargs["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {"seed": "1"}  # not tuned: its default is static


def test_categorical_ranges_narrow_to_a_subset(tmp_path: Path) -> None:
    criterion = {"name": "criterion", "type": "Categorical", "values": ["gini", "entropy", "log_loss"],
                 "default": "gini", "tunable": True}  # fmt: skip
    loaded = with_hyperparameters(tmp_path, criterion)
    request = build(loaded, ranges={"criterion": "gini,entropy"})
    assert request.kwargs[CONFIG]["ParameterRanges"]["CategoricalParameterRanges"] == [
        {"Name": "criterion", "Values": ["gini", "entropy"]}
    ]
    with pytest.raises(UsageError, match="'hinge' is not one of the declared values"):
        build(loaded, ranges={"criterion": "gini,hinge"})


def test_grid_searches_categorical_ranges_only_and_runs_every_combination(tmp_path: Path) -> None:
    criterion = {"name": "criterion", "type": "Categorical", "values": ["gini", "entropy"], "tunable": True}
    loaded = with_hyperparameters(tmp_path, criterion)
    integer = violations(loaded, build(loaded, strategy="Grid"))
    assert "Categorical ranges only" in integer[f"{CONFIG}.ParameterRanges.IntegerParameterRanges"]
    pinned = build(loaded, train=training(hyperparameters={"max_leaf_nodes": "10"}), strategy="Grid")
    assert "MaxNumberOfTrainingJobs" not in pinned.kwargs[CONFIG]["ResourceLimits"]
    assert violations(loaded, pinned) == {}
    counted = build(loaded, train=training(hyperparameters={"max_leaf_nodes": "10"}), strategy="Grid", max_jobs=5)
    message = violations(loaded, counted)[f"{CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs"]
    assert "every combination of the categorical values (2)" in message and "('--max-jobs',)" in message


def test_hyperband_needs_its_max_resource_and_no_auto_early_stopping(example: LoadedManifest, tmp_path: Path) -> None:
    found = violations(example, build(example, strategy="Hyperband", early_stopping="Auto"))
    assert "early stopping must be Off" in found[f"{CONFIG}.TrainingJobEarlyStoppingType"]
    assert "('--early-stopping',)" in found[f"{CONFIG}.TrainingJobEarlyStoppingType"]
    hyperband = f"{CONFIG}.StrategyConfig.HyperbandStrategyConfig.MaxResource"
    assert "needs HyperbandStrategyConfig.MaxResource" in found[hyperband]
    assert "--hyperband-max-resource" in found[hyperband]
    with_epochs = with_hyperparameters(
        tmp_path, {"name": "epochs", "type": "Integer", "min": 1, "max": 99, "default": 30}
    )
    inferred = build(with_epochs, strategy="Hyperband")  # SageMaker reads MaxResource from the epochs
    assert inferred.kwargs["TrainingJobDefinition"]["StaticHyperParameters"] == {"epochs": "30"}
    assert violations(with_epochs, inferred) == {}
    fine = build(example, strategy="Hyperband", hyperband_max_resource=50)
    assert fine.kwargs[CONFIG]["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 50}}
    assert violations(example, fine) == {}
    assert "StrategyConfig" not in build(example).kwargs[CONFIG]
    too_many = violations(example, build(example, strategy="Hyperband", hyperband_max_resource=20001))
    assert "at most 20000" in too_many[f"{CONFIG}.StrategyConfig.HyperbandStrategyConfig.MaxResource"]


def test_scaling_rules_name_the_range(tmp_path: Path) -> None:
    rate = {"name": "rate", "type": "Continuous", "min": 0.0, "max": 0.5, "tunable": True, "scaling": "Logarithmic"}
    loaded = with_hyperparameters(tmp_path, rate)
    found = violations(loaded, build(loaded))
    message = found[f"{CONFIG}.ParameterRanges.ContinuousParameterRanges.0.ScalingType"]
    assert "greater than 0" in message and "training', 'hyperparameters', 1, 'scaling'" in message
    assert violations(loaded, build(loaded, ranges={"rate": "0.01:0.5"})) == {}
    reverse = violations(loaded, build(loaded, ranges={"rate": "0:0.5:ReverseLogarithmic"}))
    assert reverse == {}
    integer = violations(loaded, build(loaded, ranges={"max_leaf_nodes": "2:50:ReverseLogarithmic", "rate": "0.1:0.5"}))
    assert "only for Continuous" in integer[f"{CONFIG}.ParameterRanges.IntegerParameterRanges.0.ScalingType"]


def test_at_most_30_ranges_an_objective_and_a_range(tmp_path: Path) -> None:
    many = [{"name": f"h{index}", "type": "Integer", "min": 1, "max": 9, "tunable": True} for index in range(30)]
    found = violations(with_hyperparameters(tmp_path, *many), build(with_hyperparameters(tmp_path, *many)))
    assert "31 hyperparameter ranges" in found[f"{CONFIG}.ParameterRanges"]
    data = yaml.safe_load((EXAMPLE_DIR / "smbyo.yaml").read_text())
    del data["training"]["tuning_objective"]
    data["training"]["hyperparameters"][0]["tunable"] = False
    path = tmp_path / "bare.yaml"
    path.write_text(yaml.safe_dump(data))
    bare = load_manifest(path, check_files=False)
    found = violations(bare, build(bare))
    assert "needs an objective" in found[f"{CONFIG}.HyperParameterTuningJobObjective"]
    assert "('training', 'tuning_objective')" in found[f"{CONFIG}.HyperParameterTuningJobObjective"]
    assert "at least one hyperparameter range" in found[f"{CONFIG}.ParameterRanges"]


def test_warm_start_and_its_parents(example: LoadedManifest) -> None:
    request = build(example, warm_start_from=("parent-one", "parent-two"), warm_start_type="TransferLearning")
    assert request.kwargs["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [
            {"HyperParameterTuningJobName": "parent-one"}, {"HyperParameterTuningJobName": "parent-two"}
        ],
        "WarmStartType": "TransferLearning",
    }  # fmt: skip
    assert botocore_errors(request.operation, request.kwargs) == ""
    six = build(example, warm_start_from=tuple(f"parent-{n}" for n in range(6)))
    assert "WarmStartConfig.ParentHyperParameterTuningJobs" in violations(example, six)


# --- a published algorithm ------------------------------------------------------------------------

PUBLISHED: dict[str, Any] = {
    "SupportedHyperParameters": [
        {"Name": "max_leaf_nodes", "Type": "Integer", "IsTunable": True, "IsRequired": False, "DefaultValue": "100",
         "Range": {"IntegerParameterRangeSpecification": {"MinValue": "2", "MaxValue": "500"}}},
        {"Name": "criterion", "Type": "Categorical", "IsTunable": False, "IsRequired": False, "DefaultValue": "gini",
         "Range": {"CategoricalParameterRangeSpecification": {"Values": ["gini", "entropy"]}}},
    ],
    "SupportedTrainingInstanceTypes": ["ml.c5.xlarge", "ml.m5.xlarge"],
    "SupportsDistributedTraining": False,
    "MetricDefinitions": [{"Name": "validation:accuracy", "Regex": "validation-accuracy: (\\S+)"}],
    "TrainingChannels": [
        {"Name": "train", "SupportedContentTypes": ["text/csv"], "SupportedInputModes": ["File"], "IsRequired": True}
    ],
    "SupportedTuningJobObjectiveMetrics": [{"Type": "Maximize", "MetricName": "validation:accuracy"}],
}  # fmt: skip
ALGORITHM = "arn:aws:sagemaker:us-east-1:123456789012:algorithm/decision-trees"


def published(example: LoadedManifest, *, spec: dict[str, Any] = PUBLISHED, **changes: Any) -> Request:
    train = training(channels={"train": "s3://my-bucket/data/train"}, **changes.pop("train", {}))
    return build(example, train=train, algorithm_name=ALGORITHM, published=spec, **changes)


def test_a_published_algorithm_is_tuned_against_its_training_specification(example: LoadedManifest) -> None:
    request = published(
        example, ranges={"max_leaf_nodes": "100:400"}, train={"hyperparameters": {"criterion": "entropy"}}
    )
    definition = request.kwargs["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"] == {"AlgorithmName": ALGORITHM, "TrainingInputMode": "File"}
    assert definition["StaticHyperParameters"] == {"criterion": "entropy"}
    assert definition["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"  # the algorithm's first
    assert request.kwargs[CONFIG]["ParameterRanges"]["IntegerParameterRanges"][0]["MaxValue"] == "400"
    assert botocore_errors(request.operation, request.kwargs) == ""
    assert request_violations(request, loaded=example) == []


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"ranges": {"max_leaf_nodes": "2:1000"}}, "SupportedHyperParameters[0] (max_leaf_nodes) allows 2 to 500"),
        ({"ranges": {"criterion": "gini"}}, "SupportedHyperParameters[1] (criterion) is not tunable"),
        ({"train": {"hyperparameters": {"criterion": "log_loss"}}}, "-H criterion: 'log_loss' is not one of"),
        ({"train": {"hyperparameters": {"depth": "3"}}}, "-H depth: unknown hyperparameter"),
        ({"train": {"instance_type": "ml.m5.large"}}, "SupportedTrainingInstanceTypes: ml.c5.xlarge, ml.m5.xlarge"),
    ],
)
def test_published_declarations_refuse_what_the_algorithm_does_not_support(
    example: LoadedManifest, changes: dict[str, Any], says: str
) -> None:
    with pytest.raises(UsageError) as refused:
        published(example, **changes)
    assert says in refused.value.message


def test_published_channels_and_objective_are_checked(example: LoadedManifest) -> None:
    with pytest.raises(UsageError, match=r"--data names channel\(s\) training that .* does not declare"):
        build(example, algorithm_name=ALGORITHM, published=PUBLISHED)
    other = {**PUBLISHED, "SupportedTuningJobObjectiveMetrics": [{"Type": "Minimize", "MetricName": "validation:loss"}]}
    with pytest.raises(UsageError, match=r"is not an objective .* supports .*validation:loss \(Minimize\)"):
        published(example, spec=other)
