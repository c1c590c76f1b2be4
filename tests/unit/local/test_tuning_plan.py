"""`smbyo tune --local --dry-run`: the CreateHyperParameterTuningJob request local Docker would run, printed and
checked without Docker or AWS; a --range AWS or the manifest would refuse, and a flag that only means something on
SageMaker, exit 2 naming the flag and the manifest field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sm_byo.local.tuning import Parameter, Search, parallel_trials, trial_request
from tests.unit.plans import assert_plan_accepted, example_copy, local_dry_run, offline

CONFIG = "HyperParameterTuningJobConfig"


@pytest.fixture
def manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    offline(monkeypatch)
    return example_copy(tmp_path)


def tune(capsys: pytest.CaptureFixture[str], manifest: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    return local_dry_run(capsys, "tune", manifest, *flags)


def request_of(plan: dict[str, Any]) -> dict[str, Any]:
    (step,) = plan["plan"]
    assert step["operation"] == "CreateHyperParameterTuningJob"
    return dict(step["kwargs"])


def test_the_dry_run_prints_a_request_aws_accepts(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, plan = tune(capsys, manifest, "--max-jobs", "6", "--max-parallel-jobs", "2")
    assert code == 0, plan
    assert plan["target"] == "local"
    assert_plan_accepted(plan, local=True)
    request = request_of(plan)
    config = request[CONFIG]
    assert config["ParameterRanges"]["IntegerParameterRanges"] == [
        {"Name": "max_leaf_nodes", "MinValue": "2", "MaxValue": "100000"}
    ]
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:accuracy"}
    assert config["ResourceLimits"] == {"MaxParallelTrainingJobs": 2, "MaxNumberOfTrainingJobs": 6}
    definition = request["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == "decision-trees-sample:latest"
    assert definition["RoleArn"] == "arn:aws:iam::000000000000:role/smbyo-local"
    assert definition["OutputDataConfig"]["S3OutputPath"] == (manifest.parent / "out" / "trials").as_uri()
    assert definition["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"].startswith("file:///")
    assert any("TPE" in note for note in plan["notes"])


def test_range_narrowing_and_static_hyperparameters(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    code, plan = tune(capsys, manifest, "--range", "max_leaf_nodes=4:64:Logarithmic", "--env", "A=1")
    assert code == 0, plan
    (item,) = request_of(plan)[CONFIG]["ParameterRanges"]["IntegerParameterRanges"]
    assert item == {"Name": "max_leaf_nodes", "MinValue": "4", "MaxValue": "64", "ScalingType": "Logarithmic"}
    assert request_of(plan)["TrainingJobDefinition"]["Environment"] == {"A": "1"}


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (("--range", "max_leaf_nodes=1:64"), "training.hyperparameters[0] (max_leaf_nodes) allows 2 to 100000"),
        (("--range", "depth=1:3"), "'depth' is not a declared hyperparameter"),
        (("--range", "max_leaf_nodes=2:9", "-H", "max_leaf_nodes=5"), "also given with -H"),
        (("--range", "max_leaf_nodes=2:9", "--range", "max_leaf_nodes=3:9"), "max_leaf_nodes is given twice"),
    ],
)
def test_a_refused_range_exits_2_naming_the_flag(
    capsys: pytest.CaptureFixture[str], manifest: Path, flags: tuple[str, ...], says: str
) -> None:
    code, error = tune(capsys, manifest, *flags)
    assert code == 2, error
    assert "--range" in error["message"] and says in error["message"]


def test_request_rules_exit_2_naming_the_flag_or_manifest_field(
    capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    code, error = tune(capsys, manifest, "--strategy", "Hyperband", "--early-stopping", "Auto")
    assert code == 2, error
    fields = {problem["field"]: problem["message"] for problem in error["details"]["problems"]}
    assert "early stopping must be Off" in fields["--early-stopping"]
    assert "MaxResource" in fields["--hyperband-max-resource"]
    code, error = tune(capsys, manifest, "--strategy", "Grid")
    assert code == 2, error
    (problem,) = error["details"]["problems"]
    assert problem["field"] == "training.hyperparameters" and "Categorical ranges only" in problem["message"]
    assert problem["line"] is not None


@pytest.mark.parametrize("flag", [("--role", "arn:aws:iam::123456789012:role/R"), ("--algorithm", "algo"),
                                  ("--warm-start-from", "parent"), ("--no-wait",)])  # fmt: skip
def test_cloud_flags_are_refused_with_local(
    capsys: pytest.CaptureFixture[str], manifest: Path, flag: tuple[str, ...]
) -> None:
    code, error = tune(capsys, manifest, *flag)
    assert code == 2, error
    assert flag[0] in error["message"] and "only applies on SageMaker" in error["message"]


def test_no_objective_exits_2_naming_the_manifest_field(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    text = manifest.read_text()
    manifest.write_text(text.replace('  tuning_objective: {metric: "validation:accuracy", type: Maximize}\n', ""))
    code, error = tune(capsys, manifest)
    assert code == 2, error
    (problem,) = error["details"]["problems"]
    assert problem["field"] == "training.tuning_objective" and "needs an objective" in problem["message"]


# --- how the local executor reads the request ------------------------------------------------------


def test_each_trial_is_a_training_request_of_its_own(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    _, plan = tune(capsys, manifest, "--checkpoint-uri", str(manifest.parent / "ckpt"))
    search = Search.of(request_of(plan))
    out = manifest.parent / "out"
    request = trial_request(search, "job-001-abcdef12", {"max_leaf_nodes": "7"}, out)
    assert request["TrainingJobName"] == "job-001-abcdef12"
    assert request["HyperParameters"] == {"max_leaf_nodes": "7"}
    assert request["OutputDataConfig"]["S3OutputPath"] == (out / "trials" / "job-001-abcdef12").as_uri()
    assert request["CheckpointConfig"]["S3Uri"].endswith("/ckpt/job-001-abcdef12")
    assert "StaticHyperParameters" not in request
    assert search.max_jobs == 10 and search.metric == "validation:accuracy" and search.direction == "maximize"


def test_parallel_trials_never_exceed_the_cores(capsys: pytest.CaptureFixture[str], manifest: Path) -> None:
    _, plan = tune(capsys, manifest, "--max-parallel-jobs", "8")
    search = Search.of(request_of(plan))
    assert parallel_trials(search, 2) == 2
    assert parallel_trials(search, 16) == 8
    assert parallel_trials(search, None) == 1


def test_scalings_become_optuna_distributions() -> None:
    logarithmic = Parameter("n", "Integer", 2, 64, scaling="Logarithmic").distribution()
    assert logarithmic.log and (logarithmic.low, logarithmic.high) == (2, 64)  # type: ignore[attr-defined]
    reverse = Parameter("beta", "Continuous", 0.9, 0.999, scaling="ReverseLogarithmic")
    distribution = reverse.distribution()
    assert distribution.log  # type: ignore[attr-defined]
    assert distribution.low == pytest.approx(0.001) and distribution.high == pytest.approx(0.1)  # type: ignore[attr-defined]
    assert float(reverse.value(0.001)) == pytest.approx(0.999) and float(reverse.value(0.1)) == pytest.approx(0.9)
    assert Parameter("c", "Categorical", values=("a", "b")).value("b") == "b"


def test_each_value_of_the_objective_in_a_trial_log_is_an_intermediate_value() -> None:
    """What early stopping and Hyperband judge a running trial by: each match of the objective's regex in the
    first host's log, in order (an epoch each), as the lines arrive."""
    from sm_byo.local.tuning import TrialReporter
    from sm_byo.manifest import MetricSpec
    from sm_byo.reporting import RecordingReporter

    outer = RecordingReporter()
    seen: list[tuple[int, float]] = []
    metric = MetricSpec(name="validation:accuracy", regex="validation-accuracy: (\\S+)")
    reporter = TrialReporter(outer, "job-001-abcdef12", metric, lambda step, value: seen.append((step, value)))
    for source, line in [("train", "epoch 1 validation-accuracy: 0.5"), ("train", "loss 3"),
                         ("algo-2", "validation-accuracy: 0.1"), ("train", "validation-accuracy: 0.75")]:  # fmt: skip
        reporter.log(source, line)
    assert seen == [(0, 0.5), (1, 0.75)]  # another host's lines are shown, not read
    assert ("job-001-abcdef12/algo-2", "validation-accuracy: 0.1") in outer.of_kind("log")
    reporter.status("job-001-abcdef12", "Completed", 1.0)
    assert outer.of_kind("status") == []  # the tuning job reports the trial's line itself


@pytest.mark.parametrize(
    ("flags", "sampler", "pruner"),
    [
        ((), "TPESampler", "NopPruner"),
        (("--strategy", "Random", "--early-stopping", "Auto"), "RandomSampler", "MedianPruner"),
        (("--strategy", "Hyperband", "--hyperband-max-resource", "9"), "RandomSampler", "HyperbandPruner"),
    ],
)
def test_strategies_map_to_optuna_samplers_and_pruners(
    capsys: pytest.CaptureFixture[str], manifest: Path, flags: tuple[str, ...], sampler: str, pruner: str
) -> None:
    code, plan = tune(capsys, manifest, *flags)
    assert code == 0, plan
    search = Search.of(request_of(plan))
    assert type(search.sampler(1)).__name__ == sampler and type(search.pruner()).__name__ == pruner


def test_a_random_seed_reaches_the_request_and_makes_the_local_search_repeatable(
    capsys: pytest.CaptureFixture[str], manifest: Path
) -> None:
    import optuna

    code, plan = tune(capsys, manifest, "--random-seed", "7", "--strategy", "Random", "--range", "max_leaf_nodes=2:999")
    assert code == 0, plan
    assert_plan_accepted(plan, local=True)
    request = request_of(plan)
    assert request[CONFIG]["RandomSeed"] == 7
    search = Search.of(request)

    def sampled() -> list[str]:
        study = optuna.create_study(sampler=search.sampler(1), direction=search.direction)
        values = []
        for _ in range(3):
            trial = study.ask({p.name: p.distribution() for p in search.parameters})
            values.append(search.parameters[0].value(trial.params["max_leaf_nodes"]))
            study.tell(trial, 0.5)
        return values

    assert sampled() == sampled()
