"""A SageMaker tuning job's answers as smbyo's result and live table (no AWS: the responses are data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sm_byo.cloud.tuning import TRIAL_TITLE, best_name, trial_of, trial_rows, tuning_result
from sm_byo.reporting import RecordingReporter, show_table
from sm_byo.ui import ConsoleUI, rows_table

START = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
METRIC = "validation:accuracy"


def summary(
    name: str, status: str, leaves: str, value: float | None = None, reason: str | None = None
) -> dict[str, Any]:
    """A HyperParameterTrainingJobSummary as ListTrainingJobsForHyperParameterTuningJob returns it."""
    item: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "CreationTime": START,
        "TrainingStartTime": START,
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"max_leaf_nodes": leaves},
    }
    if status != "InProgress":
        item["TrainingEndTime"] = START + timedelta(seconds=42)
    if value is not None:
        item["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": METRIC, "Value": value}
    if reason:
        item["FailureReason"] = reason
    return item


TRIALS = [
    summary("tune-001-aaaa", "Completed", "2", 0.9),
    summary("tune-002-bbbb", "Failed", "1", reason="AlgorithmError: max_leaf_nodes: 1 is outside the range"),
    summary("tune-003-cccc", "Completed", "20", 0.97),
]


def description(status: str = "Completed", best: dict[str, Any] | None = TRIALS[2]) -> dict[str, Any]:
    described: dict[str, Any] = {
        "HyperParameterTuningJobName": "tune",
        "HyperParameterTuningJobArn": "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": METRIC},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
        },
        "HyperParameterTuningJobStatus": status,
        "CreationTime": START,
        "TrainingJobStatusCounters": {"Completed": 2, "NonRetryableError": 1},
        "ObjectiveStatusCounters": {"Succeeded": 2, "Failed": 1},
    }
    if status != "InProgress":
        described["HyperParameterTuningEndTime"] = START + timedelta(minutes=3)
    if best is not None:
        described["BestTrainingJob"] = best
    return described


def test_a_finished_tuning_job_becomes_one_result_with_its_best_trial_and_every_trial_in_order() -> None:
    artifacts = "s3://bucket/out/tune-003-cccc/output/model.tar.gz"
    result = tuning_result(description(), TRIALS, best_model_artifacts=artifacts, elapsed_seconds=5.0)
    data = result.to_dict()
    assert (data["job_name"], data["where"], data["status"], data["strategy"]) == (
        "tune",
        "sagemaker",
        "Completed",
        "Bayesian",
    )
    assert data["objective"] == {"metric": METRIC, "type": "Maximize"}
    assert data["elapsed_seconds"] == 180.0  # the job's own duration, not how long smbyo watched
    assert [trial["name"] for trial in data["trials"]] == ["tune-001-aaaa", "tune-002-bbbb", "tune-003-cccc"]
    assert data["trial_counts"] == {"Completed": 2, "Failed": 1}
    failed = data["trials"][1]
    assert failed["failure_reason"].startswith("AlgorithmError") and failed["objective_value"] is None
    assert data["trials"][0]["elapsed_seconds"] == 42.0
    assert data["best"] == {
        "name": "tune-003-cccc",
        "status": "Completed",
        "hyperparameters": {"max_leaf_nodes": "20"},
        "objective_value": 0.97,
        "failure_reason": None,
        "model_artifacts": artifacts,
        "elapsed_seconds": 42.0,
        "started_at": START.isoformat(timespec="milliseconds"),  # as the local executor writes them
        "ended_at": (START + timedelta(seconds=42)).isoformat(timespec="milliseconds"),
    }


def test_a_job_without_a_completed_trial_has_no_best_and_keeps_sagemakers_status() -> None:
    result = tuning_result(description("Failed", best=None), [TRIALS[1]], elapsed_seconds=7.5)
    assert (result.status, result.best, result.elapsed_seconds) == ("Failed", None, 180.0)
    assert result.trials[0].status == "Failed"


def test_a_running_trial_has_no_end_objective_or_reason_yet() -> None:
    trial = trial_of(summary("tune-004-dddd", "InProgress", "7"))
    assert (trial.status, trial.objective_value, trial.failure_reason, trial.elapsed_seconds) == (
        "InProgress",
        None,
        None,
        None,
    )


def test_the_table_rows_name_the_job_its_tuned_values_its_objective_and_its_reason() -> None:
    rows = trial_rows([trial_of(item) for item in TRIALS], METRIC)
    assert rows[0] == {
        "status": "Completed",
        "training job": "tune-001-aaaa",
        "max_leaf_nodes": "2",
        METRIC: 0.9,
        "failure reason": None,
    }
    assert rows[1]["failure reason"].startswith("AlgorithmError")
    assert best_name(description()) == "tune-003-cccc" and best_name(description(best=None)) is None


def test_a_reporter_that_draws_tables_gets_the_rows_and_one_that_does_not_gets_a_status_line_per_row() -> None:
    rows = trial_rows([trial_of(item) for item in TRIALS], METRIC)
    recording = RecordingReporter()
    show_table(recording, TRIAL_TITLE, rows, "tune-003-cccc")
    assert recording.of_kind("table") == [(TRIAL_TITLE, rows, "tune-003-cccc")]

    class StatusOnly:
        """A reporter with the six Reporter calls only (one that forwards them, say)."""

        def __init__(self) -> None:
            self.statuses: list[tuple[str, str]] = []

        def step(self, message: str) -> None: ...
        def detail(self, message: str) -> None: ...
        def log(self, source: str, line: str) -> None: ...
        def progress(self, task: str, completed: int, total: int | None) -> None: ...
        def warn(self, message: str) -> None: ...

        def status(self, subject: str, status: str, elapsed_seconds: float | None = None) -> None:
            self.statuses.append((subject, status))

    plain = StatusOnly()
    show_table(plain, TRIAL_TITLE, rows, "tune-003-cccc")
    assert plain.statuses[0] == ("trial tune-001-aaaa", f"Completed max_leaf_nodes=2, {METRIC}=0.9")
    assert plain.statuses[2] == ("trial tune-003-cccc", f"Completed max_leaf_nodes=20, {METRIC}=0.97 (best so far)")


def test_in_a_log_each_trial_is_a_line_when_it_appears_or_changes_and_a_line_says_when_the_best_changes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ui = ConsoleUI()
    running = trial_rows([trial_of(summary("tune-001-aaaa", "InProgress", "2"))], METRIC)
    ui.table(TRIAL_TITLE, running)
    ui.table(TRIAL_TITLE, running)  # unchanged: nothing new
    done = trial_rows([trial_of(item) for item in TRIALS[:2]], METRIC)
    ui.table(TRIAL_TITLE, done, "tune-001-aaaa")
    ui.table(TRIAL_TITLE, done, "tune-001-aaaa")
    lines = [line.strip() for line in capsys.readouterr().err.splitlines()]
    assert lines == [
        "trial tune-001-aaaa: InProgress max_leaf_nodes=2",
        f"trial tune-001-aaaa: Completed max_leaf_nodes=2, {METRIC}=0.9",
        "trial tune-002-bbbb: Failed max_leaf_nodes=1, failure reason=AlgorithmError: max_leaf_nodes: 1 is outside "
        "the range",
        "trial: best so far tune-001-aaaa",
    ]


def test_the_best_row_of_a_drawn_table_is_set_apart() -> None:
    rows = trial_rows([trial_of(item) for item in TRIALS], METRIC)
    table = rows_table(rows, highlight="tune-003-cccc")
    assert [row.style for row in table.rows] == [None, None, "bold green"]
