"""Tuning jobs on SageMaker: moto's server with tests/aws/moto_tuning.py, whose trials are real training jobs
(tests/aws/moto_ext.py runs each with the example image in Docker).

The requests are built by hand here (the request builder, ``sm_byo.specs.tuning``, is tested on its own);
what is tested is how smbyo sends a tuning job, follows it, and reports its trials and its best job.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sm_byo.aws import connect
from sm_byo.cloud.published import training_specification
from sm_byo.cloud.tuning import run_cloud_tuning_job, tune_cloud, wait_for_tuning_job
from sm_byo.cloud.waiting import PollSettings
from sm_byo.errors import JobFailed, UsageError
from sm_byo.manifest import load_manifest
from sm_byo.options import CloudOptions, TuneCommand
from sm_byo.polling import Backoff
from sm_byo.reporting import RecordingReporter
from tests.aws.fixtures import *  # noqa: F403 (pytest fixtures)
from tests.aws.harness import ACCOUNT_ID, REGION, MotoHarness
from tests.aws.moto_ext import HOLD_TAG, upload_tree
from tests.aws.moto_tuning import STORE_KEY, Trial, configurations
from tests.conftest import EXAMPLE_DIR, run_cli

BUCKET = f"sagemaker-{REGION}-{ACCOUNT_ID}"
METRIC = "validation:accuracy"
FAST = PollSettings(backoff=Backoff(initial=0.2, factor=1.0, cap=0.2))


def tuning_request(name: str, image: str, ranges: dict[str, Any], **limits: int) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request for the example algorithm (botocore accepts it as is)."""
    strategy = "Grid" if "CategoricalParameterRanges" in ranges else "Random"
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": METRIC},
            "ResourceLimits": {"MaxParallelTrainingJobs": 1, **limits},
            "ParameterRanges": ranges,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"_smbyo_static": "kept"},
            "AlgorithmSpecification": {
                "TrainingImage": image,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": METRIC, "Regex": "validation-accuracy: (\\S+)"}],
            },
            "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/SageMakerRole",
            "InputDataConfig": [
                {
                    "ChannelName": "training",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/tune/input"}},
                    "ContentType": "text/csv",
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/tune/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }


@pytest.fixture
def training_data(moto: MotoHarness) -> str:
    moto.client("s3").create_bucket(Bucket=BUCKET)
    upload_tree(moto, EXAMPLE_DIR / "data" / "training", f"s3://{BUCKET}/tune/input")
    return f"s3://{BUCKET}/tune/input"


def _held(moto: MotoHarness, name: str) -> None:
    """A tuning job that starts no trial and stays InProgress (tests/aws/moto_tuning.py)."""
    request = tuning_request(name, "smbyo-cloud/none:latest", {}, MaxNumberOfTrainingJobs=2)
    moto.client("sagemaker").create_hyper_parameter_tuning_job(**request, Tags=[{"Key": HOLD_TAG, "Value": "hold"}])


def _object_exists(moto: MotoHarness, uri: str) -> bool:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return "Contents" in moto.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)


@pytest.mark.docker
def test_wait_follows_a_tuning_job_to_its_best_trial_and_reports_the_failed_one(
    moto: MotoHarness, aws_env: dict[str, str], example_image: str, training_data: str, tmp_path: Path
) -> None:
    """Three trials (Grid over max_leaf_nodes, two at a time): 1 is refused by the algorithm (its manifest says
    at least 2), so that trial fails with its reason while the tuning job completes with the best of the others."""
    name = "smbyo-tune-grid"
    ranges = {"CategoricalParameterRanges": [{"Name": "max_leaf_nodes", "Values": ["1", "2", "20"]}]}
    request = tuning_request(name, example_image, ranges, MaxParallelTrainingJobs=2)
    moto.client("sagemaker").create_hyper_parameter_tuning_job(**request)

    waited = run_cli("wait", "tuning-job", name, "--json", cwd=tmp_path, env=aws_env, timeout=600)
    assert waited.returncode == 0, waited.stderr
    result = json.loads(waited.stdout)
    assert (result["status"], result["where"], result["strategy"]) == ("Completed", "sagemaker", "Grid")
    assert result["objective"] == {"metric": METRIC, "type": "Maximize"}
    trials = {trial["hyperparameters"]["max_leaf_nodes"]: trial for trial in result["trials"]}
    assert sorted(trials) == ["1", "2", "20"]
    assert result["trial_counts"] == {"Failed": 1, "Completed": 2}
    refused = trials["1"]
    assert refused["status"] == "Failed" and refused["objective_value"] is None
    assert "max_leaf_nodes" in refused["failure_reason"]
    completed = [trials["2"], trials["20"]]
    best = max(completed, key=lambda trial: trial["objective_value"])
    assert result["best"]["name"] == best["name"]
    assert result["best"]["hyperparameters"] == best["hyperparameters"]
    assert result["best"]["objective_value"] == best["objective_value"] > 0.5
    assert result["best"]["model_artifacts"] == f"s3://{BUCKET}/tune/output/{best['name']}/output/model.tar.gz"
    assert _object_exists(moto, result["best"]["model_artifacts"])
    # The log shows every trial as it ended, the refused one with its reason, and which trial is best.
    assert f"trial {refused['name']}: Failed" in waited.stderr
    assert refused["failure_reason"][:40] in waited.stderr
    assert f"best so far {best['name']}" in waited.stderr


@pytest.mark.docker
def test_a_tuning_job_sent_and_followed_shows_a_table_that_grows_with_the_best_trial_set_apart(
    moto: MotoHarness, aws_env: dict[str, str], example_image: str, training_data: str
) -> None:
    name = "smbyo-tune-random"
    ranges = {
        "IntegerParameterRanges": [
            {"Name": "max_leaf_nodes", "MinValue": "2", "MaxValue": "64", "ScalingType": "Logarithmic"}
        ]
    }
    request = tuning_request(name, example_image, ranges, MaxNumberOfTrainingJobs=2)
    reporter = RecordingReporter()

    result = run_cloud_tuning_job(connect(), request, reporter, TuneCommand(), FAST)

    assert result.status == "Completed" and len(result.trials) == 2
    assert all(trial.status == "Completed" and trial.objective_value is not None for trial in result.trials)
    assert all(2 <= int(trial.hyperparameters["max_leaf_nodes"]) <= 64 for trial in result.trials)
    assert result.best is not None and result.best.model_artifacts is not None
    assert result.best.objective_value == max(trial.objective_value or 0.0 for trial in result.trials)
    tables = reporter.of_kind("table")
    sizes = [len(rows) for _title, rows, _best in tables]  # type: ignore[arg-type]
    assert sizes == sorted(sizes) and sizes[-1] == 2 and 1 in sizes, sizes  # one trial at a time: it grew
    _title, rows, highlighted = tables[-1]
    assert highlighted == result.best.name
    assert [row["training job"] for row in rows] == [trial.name for trial in result.trials]  # type: ignore[attr-defined]
    assert rows[0][METRIC] == result.trials[0].objective_value  # type: ignore[index]
    sent = moto.state["requests"][result.trials[0].name]  # the trial's CreateTrainingJob, as sent
    assert sent["HyperParameters"] == {"_smbyo_static": "kept", **result.trials[0].hyperparameters}
    statuses = [status for subject, status, _ in reporter.of_kind("status") if subject == f"tuning-job {name}"]
    assert statuses[0] == "InProgress" and statuses[-1] == "Completed"


def test_no_wait_returns_at_once_with_the_resume_command(moto: MotoHarness, aws_env: dict[str, str]) -> None:
    name = "smbyo-tune-no-wait"
    request = tuning_request(name, "smbyo-cloud/none:latest", {}, MaxNumberOfTrainingJobs=2)
    request["Tags"] = [{"Key": HOLD_TAG, "Value": "hold"}]
    reporter = RecordingReporter()
    options = TuneCommand(cloud=CloudOptions(wait=False, region=REGION))

    result = run_cloud_tuning_job(connect(), request, reporter, options)

    assert (result.status, result.job_name, result.best, result.trials) == ("InProgress", name, None, [])
    assert result.job_arn == f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:hyper-parameter-tuning-job/{name}"
    assert any(f"smbyo wait tuning-job {name} --region {REGION}" in str(args[0]) for args in reporter.of_kind("detail"))
    described = moto.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobStatus"] == "InProgress"


def test_a_stopped_tuning_job_ends_the_wait_with_exit_1_and_its_status(
    moto: MotoHarness, aws_env: dict[str, str]
) -> None:
    name = "smbyo-tune-stopped"
    _held(moto, name)
    aws = connect()
    aws.stop_hyper_parameter_tuning_job(name)

    with pytest.raises(JobFailed) as failed:
        wait_for_tuning_job(name, RecordingReporter(), aws=aws, settings=FAST)

    assert failed.value.exit_code == 1
    assert failed.value.details["status"] == "Stopped"
    assert failed.value.details["result"]["status"] == "Stopped"
    assert failed.value.details["result"]["job_name"] == name


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_while_following_a_tuning_job_exits_with_the_resume_command(
    moto: MotoHarness, aws_env: dict[str, str], tmp_path: Path, signum: int, code: int
) -> None:
    name = f"smbyo-tune-held-{code}"
    _held(moto, name)
    process = subprocess.Popen(
        [sys.executable, "-m", "sm_byo", "wait", "tuning-job", name],
        cwd=tmp_path,
        env={**os.environ, **aws_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + 60
    while "InProgress" not in seen and time.monotonic() < deadline and process.poll() is None:
        seen += process.stderr.readline()
    assert "InProgress" in seen, seen
    process.send_signal(signum)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == code, seen + rest
    assert f"smbyo wait tuning-job {name}" in seen + rest
    described = moto.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobStatus"] == "InProgress"


def test_waiting_for_a_tuning_job_that_does_not_exist_exits_2(aws_env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("wait", "tuning-job", "smbyo-no-such-tuning-job", "--json", cwd=tmp_path, env=aws_env)
    assert result.returncode == 2, result.stderr
    assert "smbyo-no-such-tuning-job" in json.loads(result.stdout)["message"]


# --- the plan's steps that come before the request builder ---------------------------------------------


def test_tuning_an_unknown_algorithm_exits_2_naming_it(moto: MotoHarness, aws_env: dict[str, str]) -> None:
    with pytest.raises(UsageError) as refused:
        tune_cloud(
            load_manifest(EXAMPLE_DIR / "smbyo.yaml"), RecordingReporter(), TuneCommand(algorithm="no-such-algo")
        )
    assert refused.value.exit_code == 2
    assert "--algorithm no-such-algo" in refused.value.message
    assert refused.value.details == {"algorithm": "no-such-algo"}


def test_a_published_algorithm_is_tuned_with_its_own_training_specification(
    moto: MotoHarness, aws_env: dict[str, str]
) -> None:
    specification = {
        "TrainingImage": f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/trees:latest",
        "SupportedTrainingInstanceTypes": ["ml.m5.large"],
        "TrainingChannels": [
            {"Name": "training", "SupportedContentTypes": ["text/csv"], "SupportedInputModes": ["File"]}
        ],
        "MetricDefinitions": [{"Name": METRIC, "Regex": "validation-accuracy: (\\S+)"}],
    }
    sagemaker = moto.client("sagemaker")
    sagemaker.create_algorithm(AlgorithmName="trees-published", TrainingSpecification=specification)
    with pytest.raises(UsageError, match="the algorithm is Pending, not Completed"):
        training_specification(connect(), "trees-published")  # AWS is still validating it
    sagemaker.describe_algorithm(AlgorithmName="trees-published")  # the stand-in's next step: InProgress
    assert training_specification(connect(), "trees-published") == specification


def test_a_bad_static_hyperparameter_exits_2_before_anything_is_sent(
    moto: MotoHarness, aws_env: dict[str, str]
) -> None:
    options = TuneCommand(hyperparameters={"max_leaf_nodes": "many"}, data={"training": "s3://bucket/data"})
    with pytest.raises(UsageError) as refused:
        tune_cloud(load_manifest(EXAMPLE_DIR / "smbyo.yaml"), RecordingReporter(), options)
    assert "-H max_leaf_nodes" in refused.value.message
    assert not moto.state.get("tuning_jobs")  # tests/aws/moto_tuning.py's jobs: none was created
    assert moto.client("s3").list_buckets()["Buckets"] == []  # nor the bucket


def test_every_page_of_trials_is_listed_oldest_first(moto: MotoHarness, aws_env: dict[str, str]) -> None:
    """More trials than one page of ListTrainingJobsForHyperParameterTuningJob holds (10 by default)."""
    name = "smbyo-tune-pages"
    _held(moto, name)
    job = moto.state[STORE_KEY][name]
    for index in range(12):  # trials as the stand-in records them, newest first, so sorting matters
        created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=12 - index)
        job.trials.append(Trial(f"{name}-{12 - index:03d}", f"arn:{index}", {"max_leaf_nodes": str(index)}, created))

    listed = connect().list_training_jobs_for_tuning_job(name)

    assert [item["TrainingJobName"] for item in listed] == [f"{name}-{number:03d}" for number in range(1, 13)]


# --- the stand-in's draws (tests/aws/moto_tuning.py): what each trial of a request is given ------------


def test_the_stand_in_enumerates_a_grid_and_draws_within_the_ranges_of_other_strategies() -> None:
    grid = {
        "Strategy": "Grid",
        "ResourceLimits": {"MaxParallelTrainingJobs": 1},
        "ParameterRanges": {
            "CategoricalParameterRanges": [{"Name": "a", "Values": ["x", "y"]}, {"Name": "b", "Values": ["1", "2"]}]
        },
    }
    assert configurations(grid, random.Random(0)) == [
        {"a": "x", "b": "1"},
        {"a": "x", "b": "2"},
        {"a": "y", "b": "1"},
        {"a": "y", "b": "2"},
    ]
    drawn_config = {
        "Strategy": "Bayesian",
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 50, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {
            "IntegerParameterRanges": [
                {"Name": "n", "MinValue": "2", "MaxValue": "1000", "ScalingType": "Logarithmic"}
            ],
            "ContinuousParameterRanges": [
                {"Name": "rate", "MinValue": "0.9", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}
            ],
            "CategoricalParameterRanges": [{"Name": "criterion", "Values": ["gini", "entropy"]}],
        },
    }
    drawn = configurations(drawn_config, random.Random(7))
    assert len(drawn) == 50
    assert all(2 <= int(values["n"]) <= 1000 for values in drawn)
    assert all(0.9 <= float(values["rate"]) <= 0.999 for values in drawn)
    assert {values["criterion"] for values in drawn} == {"gini", "entropy"}
    assert sum(int(values["n"]) < 45 for values in drawn) > 15  # log scale: half the draws below sqrt(2 * 1000)
    assert drawn == configurations(drawn_config, random.Random(7))  # RandomSeed makes it repeatable


def test_an_algorithm_and_an_image_together_exit_2_naming_both(aws_env: dict[str, str]) -> None:
    options = TuneCommand(algorithm="trees-published", image="trees:latest")
    with pytest.raises(UsageError) as refused:
        tune_cloud(load_manifest(EXAMPLE_DIR / "smbyo.yaml"), RecordingReporter(), options)
    assert "--algorithm trees-published" in refused.value.message and "--image trees:latest" in refused.value.message
