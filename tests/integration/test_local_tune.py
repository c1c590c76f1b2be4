"""`smbyo tune --local` on real Docker: trials as local training jobs, at most MaxParallelTrainingJobs at once, the
objective read from each log, the best model in --out (and it serves), a failing trial reported while the job
completes, resuming a study in the same --out, and Ctrl-C leaving it resumable."""

from __future__ import annotations

import csv
import json
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from sm_byo.build import build_image
from sm_byo.manifest import load_manifest
from sm_byo.reporting import RecordingReporter
from tests.conftest import EXAMPLE_DIR, EXAMPLE_TAG, ca_bundle, run_cli
from tests.integration.local_helpers import local_containers, stop_with_signal

pytestmark = pytest.mark.docker
PICKY_IMAGE = EXAMPLE_TAG.rsplit(":", 1)[0] + "-picky:" + EXAMPLE_TAG.rsplit(":", 1)[1]


def tune(image: str, out: Path, *flags: str, manifest: Path | None = None) -> tuple[int, dict[str, Any], str]:
    where = ["-f", str(manifest)] if manifest else []
    data = (manifest.parent if manifest else EXAMPLE_DIR) / "data" / "training"
    result = run_cli(
        "--json", "tune", "--local", *where, "--image", image, "--data", f"training={data}", "--out", str(out), *flags,
        cwd=EXAMPLE_DIR,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout), result.stderr


def most_at_once(trials: list[dict[str, Any]]) -> int:
    """The most trials that were running at the same moment, from each trial's start and end."""
    events = sorted([(t["started_at"], 1) for t in trials] + [(t["ended_at"], -1) for t in trials],
                    key=lambda event: (event[0], event[1]))  # fmt: skip
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def test_six_trials_two_at_a_time_and_the_best_model_serves(example_image: str, tmp_path: Path) -> None:
    out = tmp_path / "tuning"
    code, result, stderr = tune(
        example_image, out, "--range", "max_leaf_nodes=2:40", "--max-jobs", "6", "--max-parallel-jobs", "2"
    )
    assert code == 0, stderr
    trials = result["trials"]
    assert len(trials) == 6 and result["trial_counts"] == {"Completed": 6}
    assert all(isinstance(t["objective_value"], float) and 0 < t["objective_value"] <= 1 for t in trials)
    assert all(2 <= int(t["hyperparameters"]["max_leaf_nodes"]) <= 40 for t in trials)
    assert most_at_once(trials) <= 2
    assert len({t["name"] for t in trials}) == 6
    assert all(t["name"].startswith(result["job_name"] + "-") for t in trials)
    best = result["best"]
    assert best["objective_value"] == max(t["objective_value"] for t in trials)
    model = out / "model.tar.gz"
    assert result["model_artifacts"] == str(model)
    assert model.read_bytes() == Path(best["model_artifacts"]).read_bytes()
    assert Path(best["model_artifacts"]).parent == out / "trials" / best["name"]
    assert len(json.loads((out / "trials.json").read_text())["trials"]) == 6
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [row["name"] for row in rows] == [t["name"] for t in trials]
    for trial in trials:
        assert local_containers(**{"dev.smbyo.job": trial["name"]}) == []

    predictions = tmp_path / "predictions"
    served = run_cli(
        "transform", "--local", "--image", example_image, "--model", str(model), "--input", "data/transform",
        "--output", str(predictions), cwd=EXAMPLE_DIR,
    )  # fmt: skip
    assert served.returncode == 0, served.stderr
    labels = [line for path in predictions.glob("*.out") for line in path.read_text().splitlines()]
    assert labels and set(labels) <= {"setosa", "versicolor", "virginica"}


@pytest.fixture(scope="module")
def picky_project(docker_adapter: Any, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example with two tunable Categorical hyperparameters: `criterion`, passed to scikit-learn, whose values
    include one scikit-learn rejects ("broken"), and `curve`, three epochs of the objective printed before the
    example trains, poor (0.1) for "poor" and good (0.9) for the others. The example image's layers, its own code
    and manifest."""
    project = tmp_path_factory.mktemp("picky") / "project"
    shutil.copytree(EXAMPLE_DIR, project, symlinks=False)
    manifest = project / "smbyo.yaml"
    manifest.write_text(manifest.read_text().replace(
        "  metrics:\n",
        "    - {name: criterion, type: Categorical, values: [gini, entropy, broken], default: gini, tunable: true}\n"
        "    - {name: curve, type: Categorical, values: [c1, c2, c3, c4, c5, poor], default: c1, tunable: true}\n"
        "  metrics:\n",
    ))  # fmt: skip
    code = project / "train.py"
    with_criterion = 'max_leaf_nodes=max_leaf_nodes, criterion=env.hyperparameters["criterion"], random_state=0'
    epochs = (
        "def train(env) -> None:\n    import time\n\n    for _ in range(3):\n"
        "        poor = env.hyperparameters['curve'] == 'poor'\n"
        '        print(f"validation-accuracy: {0.1 if poor else 0.9}", flush=True)\n'
        "        time.sleep(2 if poor else 0.2)\n"
    )
    text = code.read_text().replace("max_leaf_nodes=max_leaf_nodes, random_state=0", with_criterion)
    code.write_text(text.replace("def train(env) -> None:\n", epochs))
    build_image(load_manifest(manifest), RecordingReporter(), tag=PICKY_IMAGE, base_image=base_image, network="host",
                ca_bundle=ca_bundle(), docker=docker_adapter)  # fmt: skip
    return manifest


def test_a_failing_trial_is_reported_and_the_job_completes_with_the_others(picky_project: Path, tmp_path: Path) -> None:
    code, result, stderr = tune(
        PICKY_IMAGE, tmp_path / "out", "--strategy", "Grid", "-H", "max_leaf_nodes=10", "-H", "curve=c1",
        "--max-parallel-jobs", "2", manifest=picky_project,
    )  # fmt: skip
    assert code == 0, stderr
    by_value = {t["hyperparameters"]["criterion"]: t for t in result["trials"]}
    assert set(by_value) == {"gini", "entropy", "broken"}  # Grid: every value once
    assert all(set(t["hyperparameters"]) == {"criterion"} for t in result["trials"])  # the tuned ones, as SageMaker
    failed = by_value["broken"]
    assert failed["status"] == "Failed" and "criterion" in failed["failure_reason"]
    assert failed["model_artifacts"] is None
    assert failed["objective_value"] == 0.9  # the last value its log printed before it failed (never the best)
    assert by_value["gini"]["status"] == by_value["entropy"]["status"] == "Completed"
    assert result["status"] == "Completed" and result["best"]["hyperparameters"]["criterion"] in ("gini", "entropy")
    assert result["trial_counts"] == {"Completed": 2, "Failed": 1}
    assert f"{failed['name']} Failed" in stderr

    # When no trial completes, the tuning job fails (exit 1), every trial listed with its reason.
    code, error, _ = tune(PICKY_IMAGE, tmp_path / "none", "--strategy", "Grid", "-H", "max_leaf_nodes=10",
                          "-H", "curve=c1", "--range", "criterion=broken", manifest=picky_project)  # fmt: skip
    assert code == 1, error
    assert "none of its 1 trial(s) completed" in error["message"]
    assert error["details"]["trial_counts"] == {"Failed": 1} and error["details"]["best"] is None
    assert not (tmp_path / "none" / "model.tar.gz").exists()


def test_early_stopping_stops_a_trial_whose_objective_falls_behind(picky_project: Path, tmp_path: Path) -> None:
    """Early stopping Auto (Optuna's MedianPruner, after 5 completed trials): the objective's first epoch of the
    "poor" trial is below the median of the others' first epochs, so its container is stopped and it is Stopped.
    --random-seed 1 makes Optuna's grid order put "poor" last (if a new Optuna orders otherwise, pick the seed
    again: the first assertion says so)."""
    code, result, stderr = tune(
        PICKY_IMAGE, tmp_path / "out", "--strategy", "Grid", "--early-stopping", "Auto", "--random-seed", "1",
        "-H", "max_leaf_nodes=10", "-H", "criterion=gini", manifest=picky_project,
    )  # fmt: skip
    assert code == 0, stderr
    order = [t["hyperparameters"]["curve"] for t in result["trials"]]
    assert order[-1] == "poor", order
    poor = result["trials"][-1]
    assert poor["status"] == "Stopped" and "stopped early" in poor["failure_reason"]
    assert poor["objective_value"] == 0.1
    assert result["trial_counts"] == {"Completed": 5, "Stopped": 1}
    assert "early stopping" in stderr
    assert local_containers(**{"dev.smbyo.job": poor["name"]}) == []


def test_the_same_command_resumes_the_study_and_another_search_is_refused(example_image: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, first, stderr = tune(example_image, out, "--range", "max_leaf_nodes=2:20", "--max-jobs", "2")
    assert code == 0, stderr
    code, second, stderr = tune(example_image, out, "--range", "max_leaf_nodes=2:20", "--max-jobs", "4")
    assert code == 0, stderr
    assert "Continuing the study" in stderr and "2 trial(s) finished earlier are kept" in stderr
    assert second["job_name"] == first["job_name"]
    assert [t["name"] for t in second["trials"][:2]] == [t["name"] for t in first["trials"]]
    assert len(second["trials"]) == 4 and second["trial_counts"] == {"Completed": 4}
    assert len(json.loads((out / "trials.json").read_text())["trials"]) == 4

    code, error, _ = tune(example_image, out, "--range", "max_leaf_nodes=2:30", "--max-jobs", "4")
    assert code == 2
    assert "--out" in error["message"] and "HyperParameterTuningJobConfig.ParameterRanges" in error["message"]
    assert len(json.loads((out / "trials.json").read_text())["trials"]) == 4  # untouched


def test_ctrl_c_stops_the_running_trial_and_leaves_the_study_resumable(example_image: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["tune", "--local", "--image", example_image, "--data", "training=data/training", "--out", str(out),
            "--range", "max_leaf_nodes=2:20", "--max-jobs", "2"]  # fmt: skip

    def container_up(match: Any) -> bool:
        return bool(local_containers(**{"dev.smbyo.job": match.group(1)}))

    ended = stop_with_signal(
        args, cwd=EXAMPLE_DIR, tmpdir=tmp_path, ready=r"(\S+-001-[0-9a-f]{8}): started", when=container_up,
        signals=[signal.SIGINT], timeout=90,
    )  # fmt: skip
    assert ended.returncode == 130, ended.stderr
    trial = ended.match.group(1)
    assert local_containers(**{"dev.smbyo.job": trial}) == []
    assert "run the same command with the same --out" in ended.stderr.lower()

    resumed = run_cli("--json", *args, cwd=EXAMPLE_DIR)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["trial_counts"] == {"Stopped": 1, "Completed": 2}
    (cut,) = [t for t in result["trials"] if t["status"] == "Stopped"]
    assert cut["name"] == trial and "interrupted" in cut["failure_reason"]
    rerun = next(t for t in result["trials"] if t["status"] == "Completed")
    assert rerun["hyperparameters"] == cut["hyperparameters"]  # run again with the same hyperparameters
