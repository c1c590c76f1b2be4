"""moto extension: hyperparameter tuning jobs whose trials are real training jobs.

moto answers CreateHyperParameterTuningJob and DescribeHyperParameterTuningJob with a job that never runs
and has no ListTrainingJobsForHyperParameterTuningJob or StopHyperParameterTuningJob. Here the four
actions keep their own jobs, and each job runs in a background thread, as a stand-in for SageMaker's
tuner (https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-how-it-works.html),
deliberately simple, since its search is not what smbyo is tested for:

- The hyperparameters of each trial are drawn from ParameterRanges: Grid enumerates every combination
  of the (categorical) values, in order; every other strategy (Bayesian, Random, Hyperband) draws at
  random within the ranges, honouring ScalingType (Logarithmic, ReverseLogarithmic; Auto and Linear
  are uniform) and the Integer/Continuous/Categorical kinds, seeded by RandomSeed when the request has one.
- Each trial is a CreateTrainingJob sent to this moto server (so :mod:`tests.aws.moto_ext` runs it with
  smbyo's local executor like any training job): named ``<tuning job>-<3 digits>-<8 hex>`` as SageMaker
  names trials, with the definition's StaticHyperParameters plus the drawn values, the definition's
  fields and the tuning job's Tags. An AlgorithmName is resolved with DescribeAlgorithm to its
  TrainingImage and MetricDefinitions (the training runner needs an image). ResourceConfig is required.
- Up to MaxParallelTrainingJobs trials run at once, MaxNumberOfTrainingJobs in all (Grid: every
  combination, at most MaxNumberOfTrainingJobs when given; otherwise DEFAULT_MAX_JOBS when absent).
- A trial's objective is the objective metric in its FinalMetricDataList; BestTrainingJob is the best
  objective so far. The job ends Completed when at least one trial completed, Failed when none did,
  Stopped after StopHyperParameterTuningJob (Stopping while its running trials finish). Early stopping,
  warm start, completion criteria and retries are not simulated.
- A tuning job tagged ``smbyo-test=hold`` starts no trial and stays InProgress until it is stopped.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import random
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.aws.harness import MotoHarness
from tests.aws.moto_ext import HOLD_TAG

STORE_KEY = "tuning_jobs"
DEFAULT_MAX_JOBS = 3
TRIAL_POLL_SECONDS = 0.3
DEFAULT_PAGE_SIZE = 10  # ListTrainingJobsForHyperParameterTuningJob's MaxResults default
# What a trial's CreateTrainingJob takes from HyperParameterTrainingJobDefinition as it is.
COPIED_FIELDS = (
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "VpcConfig",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


@dataclass
class Trial:
    name: str
    arn: str
    tuned: dict[str, str]
    created: datetime
    status: str = "InProgress"
    ended: datetime | None = None
    failure_reason: str | None = None
    objective: float | None = None
    objective_status: str = "Pending"


@dataclass
class TuningJob:
    name: str
    arn: str
    request: dict[str, Any]
    created: datetime
    status: str = "InProgress"
    ended: datetime | None = None
    failure_reason: str | None = None
    trials: list[Trial] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.request["HyperParameterTuningJobConfig"])

    @property
    def objective(self) -> dict[str, Any]:
        return dict(self.config.get("HyperParameterTuningJobObjective") or {})

    def best(self) -> Trial | None:
        scored = [trial for trial in self.trials if trial.objective is not None]
        if not scored:
            return None
        pick = min if self.objective.get("Type") == "Minimize" else max
        return pick(scored, key=lambda trial: float(trial.objective or 0.0))


# --- drawing hyperparameters -----------------------------------------------------------------------


def _integer(spec: Mapping[str, Any], rng: random.Random) -> str:
    low, high = int(spec["MinValue"]), int(spec["MaxValue"])
    if spec.get("ScalingType") == "Logarithmic" and low > 0:
        return str(min(high, max(low, round(math.exp(rng.uniform(math.log(low), math.log(high)))))))
    return str(rng.randint(low, high))


def _continuous(spec: Mapping[str, Any], rng: random.Random) -> str:
    low, high = float(spec["MinValue"]), float(spec["MaxValue"])
    scaling = spec.get("ScalingType")
    if scaling == "Logarithmic" and low > 0:
        return repr(math.exp(rng.uniform(math.log(low), math.log(high))))
    if scaling == "ReverseLogarithmic" and high < 1:
        return repr(1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low))))
    return repr(rng.uniform(low, high))


def configurations(config: Mapping[str, Any], rng: random.Random) -> list[dict[str, str]]:
    """The tuned values of every trial the job will run, in order (see the module docstring)."""
    ranges = config.get("ParameterRanges") or {}
    limit = (config.get("ResourceLimits") or {}).get("MaxNumberOfTrainingJobs")
    categorical = ranges.get("CategoricalParameterRanges", [])
    if config.get("Strategy") == "Grid":
        names = [spec["Name"] for spec in categorical]
        grid = [
            dict(zip(names, values, strict=True)) for values in itertools.product(*(s["Values"] for s in categorical))
        ]
        return grid[: int(limit)] if limit else grid
    drawn = []
    for _ in range(int(limit or DEFAULT_MAX_JOBS)):
        values = {spec["Name"]: _integer(spec, rng) for spec in ranges.get("IntegerParameterRanges", [])}
        values.update({spec["Name"]: _continuous(spec, rng) for spec in ranges.get("ContinuousParameterRanges", [])})
        values.update({spec["Name"]: str(rng.choice(spec["Values"])) for spec in categorical})
        drawn.append(values)
    return drawn


# --- running a job -------------------------------------------------------------------------------


def _trial_request(sagemaker: Any, job: TuningJob, tuned: dict[str, str], index: int) -> dict[str, Any]:
    definition = job.request["TrainingJobDefinition"]
    algorithm = dict(definition["AlgorithmSpecification"])
    if algorithm.get("AlgorithmName"):
        spec = sagemaker.describe_algorithm(AlgorithmName=algorithm.pop("AlgorithmName"))["TrainingSpecification"]
        algorithm["TrainingImage"] = spec["TrainingImage"]
        algorithm["MetricDefinitions"] = spec.get("MetricDefinitions", [])
    request = {key: definition[key] for key in COPIED_FIELDS if key in definition}
    request.update(
        TrainingJobName=f"{job.name}-{index:03d}-{secrets.token_hex(4)}",
        AlgorithmSpecification=algorithm,
        HyperParameters={**definition.get("StaticHyperParameters", {}), **tuned},
    )
    if job.request.get("Tags"):
        request["Tags"] = job.request["Tags"]
    return request


def _start_trial(sagemaker: Any, job: TuningJob, tuned: dict[str, str], index: int) -> Trial:
    request = _trial_request(sagemaker, job, tuned, index)
    arn = sagemaker.create_training_job(**request)["TrainingJobArn"]
    trial = Trial(request["TrainingJobName"], arn, tuned, datetime.now(UTC))
    job.trials.append(trial)
    return trial


def _update(sagemaker: Any, job: TuningJob, trial: Trial) -> None:
    """The trial's status, and once it has ended its objective (FinalMetricDataList) or failure reason."""
    described = sagemaker.describe_training_job(TrainingJobName=trial.name)
    status = described["TrainingJobStatus"]
    if status in ("InProgress", "Stopping"):
        return
    metric = job.objective.get("MetricName")
    values = [item["Value"] for item in described.get("FinalMetricDataList", []) if item["MetricName"] == metric]
    trial.objective = float(values[-1]) if values and status == "Completed" else None
    trial.objective_status = "Succeeded" if trial.objective is not None else "Failed"
    trial.failure_reason = described.get("FailureReason")
    trial.ended = datetime.now(UTC)
    trial.status = status


def _finish(job: TuningJob) -> None:
    if job.stopping.is_set():
        job.status = "Stopped"
    elif any(trial.status == "Completed" for trial in job.trials):
        job.status = "Completed"
    else:
        reasons = [trial.failure_reason for trial in job.trials if trial.failure_reason]
        job.failure_reason = "No training job succeeded" + (f"; the last failed: {reasons[-1]}" if reasons else "")
        job.status = "Failed"
    job.ended = datetime.now(UTC)


def _run(harness: MotoHarness, job: TuningJob) -> None:
    """Start trials up to the parallel limit as others end, until the plan is done or the job is stopped."""
    if {"Key": HOLD_TAG, "Value": "hold"} in job.request.get("Tags", []):
        job.stopping.wait()
        _finish(job)
        return
    try:
        sagemaker = harness.client("sagemaker")
        config = job.config
        seed = config.get("RandomSeed")
        plan = iter(configurations(config, random.Random(seed)))
        parallel = int(config["ResourceLimits"].get("MaxParallelTrainingJobs", 1))
        running: list[Trial] = []
        while True:
            while len(running) < parallel and not job.stopping.is_set():
                tuned = next(plan, None)
                if tuned is None:
                    break
                running.append(_start_trial(sagemaker, job, tuned, len(job.trials) + 1))
            if not running:
                break
            time.sleep(TRIAL_POLL_SECONDS)
            for trial in list(running):
                _update(sagemaker, job, trial)
                if trial.status not in ("InProgress", "Stopping"):
                    running.remove(trial)
        _finish(job)
    except Exception as exc:  # the server was reset under the job, or a request was refused
        job.failure_reason = f"the stand-in tuner stopped: {exc}"
        job.status = "Failed"
        job.ended = datetime.now(UTC)


# --- the API --------------------------------------------------------------------------------------


def _summary(job: TuningJob, trial: Trial) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "TrainingJobName": trial.name,
        "TrainingJobArn": trial.arn,
        "TuningJobName": job.name,
        "CreationTime": trial.created,
        "TrainingStartTime": trial.created,
        "TrainingJobStatus": trial.status,
        "TunedHyperParameters": trial.tuned,
        "ObjectiveStatus": trial.objective_status,
    }
    if trial.ended is not None:
        summary["TrainingEndTime"] = trial.ended
    if trial.failure_reason:
        summary["FailureReason"] = trial.failure_reason
    if trial.objective is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "MetricName": job.objective.get("MetricName", ""),
            "Value": trial.objective,
            **({"Type": job.objective["Type"]} if job.objective.get("Type") else {}),
        }
    return summary


def _describe(job: TuningJob) -> dict[str, Any]:
    trials = list(job.trials)
    statuses = [trial.status for trial in trials]
    objectives = [trial.objective_status for trial in trials]
    response: dict[str, Any] = {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobArn": job.arn,
        "HyperParameterTuningJobConfig": job.config,
        "HyperParameterTuningJobStatus": job.status,
        "CreationTime": job.created,
        "LastModifiedTime": job.ended or datetime.now(UTC),
        "TrainingJobStatusCounters": {
            "Completed": statuses.count("Completed"),
            "InProgress": statuses.count("InProgress") + statuses.count("Stopping"),
            "RetryableError": 0,
            "NonRetryableError": statuses.count("Failed"),
            "Stopped": statuses.count("Stopped"),
        },
        "ObjectiveStatusCounters": {
            "Succeeded": objectives.count("Succeeded"),
            "Pending": objectives.count("Pending"),
            "Failed": objectives.count("Failed"),
        },
    }
    for key in ("TrainingJobDefinition", "WarmStartConfig"):
        if key in job.request:
            response[key] = job.request[key]
    best = job.best()
    if best is not None:
        response["BestTrainingJob"] = _summary(job, best)
    if job.ended is not None:
        response["HyperParameterTuningEndTime"] = job.ended
    if job.failure_reason:
        response["FailureReason"] = job.failure_reason
    return response


def _sorted(job: TuningJob, params: Mapping[str, Any]) -> list[Trial]:
    trials = [t for t in job.trials if not params.get("StatusEquals") or t.status == params["StatusEquals"]]
    keys = {
        "Name": lambda trial: trial.name,
        "Status": lambda trial: trial.status,
        "FinalObjectiveMetricValue": lambda trial: (trial.objective is not None, trial.objective or 0.0),
        "CreationTime": lambda trial: trial.created,
    }
    key = keys.get(str(params.get("SortBy", "CreationTime")), keys["CreationTime"])
    return sorted(trials, key=key, reverse=params.get("SortOrder") == "Descending")


def _store(harness: MotoHarness) -> dict[str, TuningJob]:
    store: dict[str, TuningJob] = harness.state.setdefault(STORE_KEY, {})
    return store


NEW_ACTIONS = ("list_training_jobs_for_hyper_parameter_tuning_job", "stop_hyper_parameter_tuning_job")


def install(harness: MotoHarness) -> None:
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound
    from moto.sagemaker.responses import SageMakerResponse

    def find(name: str) -> TuningJob:
        job = _store(harness).get(name)
        if job is None:
            raise ResourceNotFound(message=f"Amazon SageMaker can't find a tuning job with name {name}")
        return job

    def create_hyper_parameter_tuning_job(self: Any) -> Any:
        request = dict(json.loads(self.body))
        name = request["HyperParameterTuningJobName"]
        if name in _store(harness):
            raise ResourceInUseException(message=f"Hyperparameter tuning job {name!r} already exists")
        arn = f"arn:aws:sagemaker:{self.region}:{self.current_account}:hyper-parameter-tuning-job/{name.lower()}"
        job = TuningJob(name, arn, request, datetime.now(UTC))
        _store(harness)[name] = job
        harness.background(lambda: _run(harness, job), f"tuning-{name}")
        return ActionResult({"HyperParameterTuningJobArn": arn})

    def describe_hyper_parameter_tuning_job(self: Any) -> Any:
        return ActionResult(_describe(find(self._get_param("HyperParameterTuningJobName"))))

    def list_training_jobs_for_hyper_parameter_tuning_job(self: Any) -> Any:
        params = json.loads(self.body)
        trials = _sorted(find(params["HyperParameterTuningJobName"]), params)
        start = int(params.get("NextToken") or 0)
        end = start + int(params.get("MaxResults") or DEFAULT_PAGE_SIZE)
        job = find(params["HyperParameterTuningJobName"])
        page: dict[str, Any] = {"TrainingJobSummaries": [_summary(job, trial) for trial in trials[start:end]]}
        if end < len(trials):
            page["NextToken"] = str(end)
        return ActionResult(page)

    def stop_hyper_parameter_tuning_job(self: Any) -> Any:
        job = find(self._get_param("HyperParameterTuningJobName"))
        if job.status == "InProgress":
            job.status = "Stopping"
            job.stopping.set()
        return ActionResult({})

    harness.patch(SageMakerResponse, "create_hyper_parameter_tuning_job", create_hyper_parameter_tuning_job)
    harness.patch(SageMakerResponse, "describe_hyper_parameter_tuning_job", describe_hyper_parameter_tuning_job)
    for method in (list_training_jobs_for_hyper_parameter_tuning_job, stop_hyper_parameter_tuning_job):
        setattr(SageMakerResponse, method.__name__, method)


def reset(harness: MotoHarness) -> None:
    """Between tests: no job starts another trial, and the jobs are forgotten."""
    for job in _store(harness).values():
        job.stopping.set()
    _store(harness).clear()


def close(harness: MotoHarness) -> None:
    """The added actions did not exist before: remove them (the patched ones the harness restores)."""
    from moto.sagemaker.responses import SageMakerResponse

    reset(harness)
    for name in NEW_ACTIONS:
        with contextlib.suppress(AttributeError):
            delattr(SageMakerResponse, name)
    harness.state.pop(STORE_KEY, None)
