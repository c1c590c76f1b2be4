"""``smbyo tune --local``: the CreateHyperParameterTuningJob request SageMaker would get, run by local Docker.

:func:`local_tuning_plan` builds the same request as the cloud command (``sm_byo.specs.tuning``), with the data
named as ``file://`` URIs and the local image, and pre-flights it. :func:`run_tuning_job` reads nothing but that
request. Each trial is a local training job (:func:`sm_byo.local.training.run_training_job`) on the
CreateTrainingJob request a tuning job makes from its ``TrainingJobDefinition`` and the trial's hyperparameters,
writing into ``--out/trials/<trial name>/``. Up to ``MaxParallelTrainingJobs`` trials run at once, never more than
this machine has cores (a trial is at least one container). The objective is read from each trial's log with the
objective metric's regex, as SageMaker reads it (https://docs.aws.amazon.com/sagemaker/latest/dg/
automatic-model-tuning-how-it-works.html).

The search is Optuna's (docs/local.md says how it differs from SageMaker's): Bayesian -> TPE, Random -> random,
Grid -> every combination of the categorical values, Hyperband -> random sampling with Optuna's HyperbandPruner
on the objective's values as the log prints them (one per epoch), and early stopping Auto -> MedianPruner on the
same values. A pruned trial's containers are stopped, and the trial is ``Stopped``, as SageMaker marks a training
job its early stopping ended. A trial that fails is reported with its reason and the job goes on: SageMaker fails
a tuning job only when none of its training jobs completed.

``--out`` holds the study (Optuna's JournalStorage in a file, :data:`JOURNAL`): running the same command again
with the same ``--out`` continues it, the trials that finished counting against ``MaxNumberOfTrainingJobs``;
a different search (ranges, objective, strategy, static hyperparameters, image, data) in the same ``--out`` is
refused. Ctrl-C stops the running trials' containers and leaves ``--out`` to be resumed. The best trial's
model.tar.gz is copied to ``--out/model.tar.gz``, and every trial is listed in ``trials.json`` and ``trials.csv``,
all written under temporary names and renamed, never over a file smbyo did not write.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import queue
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sm_byo import signals
from sm_byo.docker import ContainerHandle, DockerAdapter, connect
from sm_byo.errors import Interrupted, JobFailed, SmByoError, UsageError
from sm_byo.local.containers import stop_all_gracefully
from sm_byo.local.hosts import INTERRUPT_GRACE_SECONDS
from sm_byo.local.layout import file_uri, output_dir
from sm_byo.local.outputs import OutputDirectory, temporary_beside
from sm_byo.local.training import (
    check_training_section,
    local_checkpoint,
    local_data,
    local_notes,
    run_training_job,
)
from sm_byo.manifest import LoadedManifest, MetricSpec
from sm_byo.metrics import MetricScanner
from sm_byo.options import TuneCommand
from sm_byo.plan import Plan
from sm_byo.reporting import Reporter
from sm_byo.results import TrialResult, TuningResult
from sm_byo.rules import grid_size, hyperband_max_resource
from sm_byo.specs.names import local_image_tag, unique_name, unique_tuning_job_name
from sm_byo.specs.training import LOCAL_ROLE, TrainingOptions
from sm_byo.specs.tuning import TuningOptions, tuning_job_request

if TYPE_CHECKING:
    import optuna

OPERATION = "CreateHyperParameterTuningJob"
MODEL_ARCHIVE = "model.tar.gz"
TABLE_JSON = "trials.json"
TABLE_CSV = "trials.csv"
JOURNAL = "tuning-journal.log"
TRIALS_DIR = "trials"
STUDY_NAME = "smbyo-tuning"
POLL_SECONDS = 0.25
# Random trials before the Bayesian (TPE) search models the objective: a quarter of the budget, within these.
TPE_MIN_RANDOM_START = 2
TPE_MAX_RANDOM_START = 10
# The request fields that make a search what it is: resuming with any of them changed would mix two searches.
SEARCH_FIELDS: tuple[tuple[str, ...], ...] = (
    ("HyperParameterTuningJobConfig", "Strategy"),
    ("HyperParameterTuningJobConfig", "StrategyConfig"),
    ("HyperParameterTuningJobConfig", "HyperParameterTuningJobObjective"),
    ("HyperParameterTuningJobConfig", "ParameterRanges"),
    ("HyperParameterTuningJobConfig", "TrainingJobEarlyStoppingType"),
    ("TrainingJobDefinition", "StaticHyperParameters"),
    ("TrainingJobDefinition", "AlgorithmSpecification"),
    ("TrainingJobDefinition", "InputDataConfig"),
)
# How a strategy runs locally (docs/local.md, "Tuning").
LOCAL_STRATEGY_NOTES = {
    "Bayesian": "Bayesian runs as Optuna's TPE sampler, not SageMaker's Bayesian optimiser: the same ranges, "
    "another search",
    "Hyperband": "Hyperband runs as random sampling with Optuna's HyperbandPruner on the objective's values as the "
    "log prints them (one per epoch)",
}


# --- the plan -------------------------------------------------------------------------------------


def local_tuning_plan(loaded: LoadedManifest, options: TuneCommand) -> Plan:
    """The CreateHyperParameterTuningJob request for local Docker, checked (exit 2 naming what to fix)."""
    check_training_section(loaded)
    channels = {name: local_data(name, raw) for name, raw in options.data.items()}
    job = options.job
    if job.checkpoint_uri is not None:
        job = replace(job, checkpoint_uri=local_checkpoint(job.checkpoint_uri))
    training = TrainingOptions(
        job_name=unique_name(loaded.manifest.name),  # each trial gets its own name; this one is not sent
        image=options.image or local_image_tag(loaded.manifest, "training"),
        role=LOCAL_ROLE,
        output_path=file_uri(options.out / TRIALS_DIR),
        channels=channels,
        hyperparameters=dict(options.hyperparameters),
        instance_type=options.instance_type,
        input_mode=options.input_mode,
        job=job,
        checkpoint_from_manifest=False,  # an s3:// location: SageMaker's (a note says so)
        flags={"image": "--image", "output": "--out"},
    )
    request = tuning_job_request(
        loaded.manifest,
        TuningOptions(
            job_name=unique_tuning_job_name(loaded.manifest.name),
            training=training,
            strategy=options.strategy,
            max_jobs=options.max_jobs,
            max_parallel_jobs=options.max_parallel_jobs,
            ranges=options.ranges,
            early_stopping=options.early_stopping,
            hyperband_min_resource=options.hyperband_min_resource,
            hyperband_max_resource=options.hyperband_max_resource,
            random_seed=options.random_seed,
        ),
    )
    notes = list(local_notes(loaded, request.kwargs["TrainingJobDefinition"], options.job))
    if note := LOCAL_STRATEGY_NOTES.get(options.strategy):
        notes.append(note)
    return Plan("local", (request,), tuple(notes)).check(loaded)


def tune_local(
    loaded: LoadedManifest, reporter: Reporter, options: TuneCommand, *, docker: DockerAdapter | None = None
) -> TuningResult | Plan:
    """``smbyo tune --local``: the plan (``--dry-run``), or its result once local Docker ran every trial."""
    options.refuse_other_mode()
    plan = local_tuning_plan(loaded, options)
    if options.dry_run:
        return plan
    for note in plan.notes:
        reporter.detail(f"note: {note}")
    return run_tuning_job(plan.request(OPERATION).kwargs, reporter, options.out, docker=docker)


# --- the search space -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """One range of the request as Optuna samples it, and how a sampled value becomes the hyperparameter's string.

    ReverseLogarithmic (only for 0 <= x < 1) is sampled honestly: ``1 - x`` on a logarithmic scale, so values
    crowd towards 1 as SageMaker's reverse logarithmic scale has them; Auto scaling is linear here."""

    name: str
    kind: str  # Integer | Continuous | Categorical
    low: float = 0.0
    high: float = 0.0
    values: tuple[str, ...] = ()
    scaling: str | None = None

    def distribution(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "Categorical":
            return CategoricalDistribution(list(self.values))
        log = self.scaling == "Logarithmic"
        if self.kind == "Integer":
            return IntDistribution(int(self.low), int(self.high), log=log)
        if self.scaling == "ReverseLogarithmic":
            return FloatDistribution(1.0 - self.high, 1.0 - self.low, log=True)
        return FloatDistribution(self.low, self.high, log=log)

    def value(self, sampled: Any) -> str:
        """The hyperparameter's string, as SageMaker passes it."""
        if self.kind == "Categorical":
            return str(sampled)
        if self.kind == "Integer":
            return str(int(sampled))
        number = 1.0 - float(sampled) if self.scaling == "ReverseLogarithmic" else float(sampled)
        return repr(min(max(number, self.low), self.high))


def parameters(request: Mapping[str, Any]) -> list[Parameter]:
    """The request's ParameterRanges, in the order SageMaker lists them."""
    ranges = request["HyperParameterTuningJobConfig"].get("ParameterRanges") or {}
    found = []
    for kind in ("Integer", "Continuous"):
        for item in ranges.get(f"{kind}ParameterRanges") or []:
            found.append(Parameter(str(item["Name"]), kind, float(item["MinValue"]), float(item["MaxValue"]),
                                   scaling=item.get("ScalingType")))  # fmt: skip
    for item in ranges.get("CategoricalParameterRanges") or []:
        found.append(Parameter(str(item["Name"]), "Categorical", values=tuple(str(v) for v in item["Values"])))
    return found


@dataclass(frozen=True)
class Search:
    """What the request asks of the search: its ranges, objective, strategy and limits."""

    job_name: str
    strategy: str
    metric: str
    direction: Literal["maximize", "minimize"]
    objective_type: str  # Maximize | Minimize
    parameters: list[Parameter]
    max_jobs: int
    max_parallel: int
    early_stopping: str
    hyperband: tuple[int, int] | None  # (MinResource, MaxResource)
    seed: int | None  # RandomSeed: the samplers' seed
    definition: Mapping[str, Any]
    regex: str

    @classmethod
    def of(cls, request: Mapping[str, Any]) -> Search:
        config = request["HyperParameterTuningJobConfig"]
        definition = request["TrainingJobDefinition"]
        algorithm = definition.get("AlgorithmSpecification") or {}
        if not algorithm.get("TrainingImage"):
            raise UsageError(
                "AlgorithmSpecification.AlgorithmName: a local tuning job runs an image, not a published algorithm",
                hint="Drop --algorithm to tune this manifest's image locally, or drop --local.",
            )
        goal = config.get("HyperParameterTuningJobObjective")
        if not goal:
            raise UsageError(
                "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective: a tuning job needs an objective",
                hint="Set training.tuning_objective: {metric, type} in smbyo.yaml.",
            )
        metric = str(goal["MetricName"])
        regexes = {str(m["Name"]): str(m["Regex"]) for m in algorithm.get("MetricDefinitions") or []}
        if metric not in regexes:
            raise UsageError(
                f"HyperParameterTuningJobObjective.MetricName {metric!r} is not one of the MetricDefinitions "
                f"({', '.join(sorted(regexes)) or 'none'}): no trial's objective could be read",
                hint="Set training.tuning_objective to a metric of training.metrics.",
            )
        found = parameters(request)
        strategy = str(config["Strategy"])
        limits = config["ResourceLimits"]
        maximum = limits.get("MaxNumberOfTrainingJobs") or grid_size(config.get("ParameterRanges") or {})
        hyperband = None
        if strategy == "Hyperband":
            settings = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
            most = hyperband_max_resource(config, definition.get("StaticHyperParameters") or {}) or 1
            hyperband = (int(settings.get("MinResource") or 1), most)
        return cls(
            job_name=str(request["HyperParameterTuningJobName"]), strategy=strategy, metric=metric,
            direction="maximize" if goal["Type"] == "Maximize" else "minimize", objective_type=str(goal["Type"]),
            parameters=found, max_jobs=int(maximum), max_parallel=int(limits["MaxParallelTrainingJobs"]),
            early_stopping=str(config.get("TrainingJobEarlyStoppingType") or "Off"), hyperband=hyperband,
            seed=config.get("RandomSeed"),
            definition=definition, regex=regexes[metric],
        )  # fmt: skip

    def sampler(self, parallel: int) -> optuna.samplers.BaseSampler:
        import optuna

        if self.strategy == "Grid":
            return _grid_sampler({p.name: list(p.values) for p in self.parameters}, self.seed)
        if self.strategy == "Bayesian":
            # constant_liar: trials running in parallel count as bad so far, so parallel trials spread out.
            # Optuna's TPE samples its first 10 trials at random; a budget of 10 trials would never get past
            # them, so the random start is a quarter of the budget (2 to 10 trials).
            return optuna.samplers.TPESampler(
                constant_liar=parallel > 1, seed=self.seed, n_startup_trials=self.random_start
            )
        return optuna.samplers.RandomSampler(seed=self.seed)

    @property
    def random_start(self) -> int:
        """Trials the Bayesian search samples at random before its model of the objective guides it."""
        return min(TPE_MAX_RANDOM_START, max(TPE_MIN_RANDOM_START, self.max_jobs // 4))

    def pruner(self) -> optuna.pruners.BasePruner:
        """Hyperband's own rule, SageMaker's early stopping (Auto) as the median rule, or none.

        SageMaker's Auto early stopping stops a training job whose objective, after an epoch, is worse than the
        median of the earlier jobs' running averages at that epoch
        (https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-early-stopping.html)."""
        import optuna

        if self.hyperband is not None:
            low, high = self.hyperband
            return optuna.pruners.HyperbandPruner(min_resource=low, max_resource=high)
        if self.early_stopping == "Auto":
            return optuna.pruners.MedianPruner()
        return optuna.pruners.NopPruner()


def _grid_sampler(space: dict[str, list[str]], seed: int | None) -> optuna.samplers.BaseSampler:
    """Optuna's GridSampler without its ``after_trial``, which only ends ``study.optimize`` once the grid is
    covered (and raises outside it): this executor asks and tells, and runs as many trials as the grid has."""
    from optuna.samplers import GridSampler

    class Grid(GridSampler):
        def after_trial(self, *_args: Any, **_kwargs: Any) -> None:
            return None

    return Grid(space, seed=seed)


def fingerprint(request: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of the request that define the search (see :data:`SEARCH_FIELDS`), for resuming."""
    found: dict[str, Any] = {}
    for path in SEARCH_FIELDS:
        value: Any = request
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        found[".".join(path)] = value
    return json.loads(json.dumps(found, sort_keys=True))


# --- one trial ------------------------------------------------------------------------------------


class _TrialDocker(DockerAdapter):
    """The Docker adapter a trial runs with: it remembers the trial's containers, so they can be stopped when
    the trial is pruned or the tuning job is interrupted (the training executor runs in a worker thread)."""

    def __init__(self, inner: DockerAdapter):
        super().__init__(inner.client)
        self.handles: list[ContainerHandle] = []
        self.stopped: set[int] = set()
        self._lock = threading.Lock()

    def run(self, image: str, command: list[str], **options: Any) -> ContainerHandle:
        handle = super().run(image, command, **options)
        with self._lock:
            self.handles.append(handle)
        return handle

    def unstopped(self) -> list[ContainerHandle]:
        """The containers not yet asked to stop (each is asked once)."""
        with self._lock:
            fresh = [handle for handle in self.handles if id(handle) not in self.stopped]
            self.stopped.update(id(handle) for handle in fresh)
        return fresh

    def stop_in_background(self, grace: int) -> None:
        for handle in self.unstopped():
            threading.Thread(target=_stop_quietly, args=(handle, grace), name="stop-trial", daemon=True).start()


def _stop_quietly(handle: ContainerHandle, grace: int) -> None:
    with contextlib.suppress(Exception):  # already gone: the training executor removes its containers
        handle.stop(timeout=grace)


class TrialReporter:
    """The reporter a trial's training job gets: its log lines prefixed with the trial's name, its stages as
    details, and each new value of the objective handed to ``on_value`` (for early stopping)."""

    def __init__(self, outer: Reporter, name: str, metric: MetricSpec, on_value: Callable[[int, float], None]):
        self.outer = outer
        self.name = name
        self.scanner = MetricScanner([metric])
        self.metric = metric.name
        self.on_value = on_value

    def step(self, message: str) -> None:
        self.outer.detail(f"{self.name}: {message}")

    def detail(self, message: str) -> None:
        self.outer.detail(f"{self.name}: {message}")

    def log(self, source: str, line: str) -> None:
        self.outer.log(self.name if source in ("train", "algo-1") else f"{self.name}/{source}", line)
        if source in ("train", "algo-1"):  # the first host's log, as SageMaker reads metrics from it
            before = len(self.scanner.series[self.metric].values)
            self.scanner.feed(line)
            for step, value in enumerate(self.scanner.series[self.metric].values[before:], start=before):
                self.on_value(step, value)

    def status(self, subject: str, status: str, elapsed_seconds: float | None = None) -> None:
        """The trial's own line is reported when it ends (with its objective), not the training job's."""

    def progress(self, task: str, completed: int, total: int | None) -> None:
        self.outer.progress(task, completed, total)

    def warn(self, message: str) -> None:
        self.outer.warn(f"{self.name}: {message}")


@dataclass
class TrialOutcome:
    """How one trial ended (its attributes are stored with the study, so a resumed job lists it too)."""

    number: int
    name: str
    hyperparameters: dict[str, str]
    status: str = "InProgress"
    objective_value: float | None = None
    failure_reason: str | None = None
    model_artifacts: str | None = None
    elapsed_seconds: float | None = None
    started_at: str | None = None
    ended_at: str | None = None
    intermediate: list[float] = field(default_factory=list)
    interrupted: bool = False

    def attrs(self) -> dict[str, Any]:
        return {
            "name": self.name, "status": self.status, "hyperparameters": self.hyperparameters,
            "objective_value": self.objective_value, "failure_reason": self.failure_reason,
            "model_artifacts": self.model_artifacts, "elapsed_seconds": self.elapsed_seconds,
            "started_at": self.started_at, "ended_at": self.ended_at,
        }  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def trial_request(search: Search, name: str, hyperparameters: Mapping[str, str], out: Path) -> dict[str, Any]:
    """The CreateTrainingJob request of one trial: the definition, its name, its hyperparameters and its own
    output directory (and checkpoint directory, so parallel trials never share one)."""
    definition = dict(search.definition)
    static = dict(definition.pop("StaticHyperParameters", None) or {})
    request: dict[str, Any] = {
        **definition,
        "TrainingJobName": name,
        "HyperParameters": {**static, **hyperparameters},
        "OutputDataConfig": {**definition["OutputDataConfig"], "S3OutputPath": file_uri(out / TRIALS_DIR / name)},
    }
    if checkpoint := definition.get("CheckpointConfig"):
        request["CheckpointConfig"] = {**checkpoint, "S3Uri": checkpoint["S3Uri"].rstrip("/") + "/" + name}
    return request


def _run_trial(
    search: Search,
    trial: optuna.Trial,
    outcome: TrialOutcome,
    docker: _TrialDocker,
    reporter: Reporter,
    out: Path,
) -> TrialOutcome:
    """Run one trial's training job (in a worker thread) and say how it ended; never raises."""
    pruned = threading.Event()

    def on_value(step: int, value: float) -> None:
        outcome.intermediate.append(value)
        trial.report(value, step + 1)  # step: the epoch, counted from 1 (Hyperband's resource)
        if not pruned.is_set() and trial.should_prune():
            pruned.set()
            reporter.detail(f"{outcome.name}: early stopping (its {search.metric} so far is not promising)")
            docker.stop_in_background(INTERRUPT_GRACE_SECONDS)

    trial_reporter = TrialReporter(reporter, outcome.name, MetricSpec(name=search.metric, regex=search.regex), on_value)
    outcome.started_at = _now()
    started = time.monotonic()
    try:
        result = run_training_job(
            trial_request(search, outcome.name, outcome.hyperparameters, out), trial_reporter, docker=docker
        )
        outcome.model_artifacts = result.model_artifacts
        outcome.objective_value = result.metrics.get(search.metric)
        outcome.status = "Completed"
        if outcome.objective_value is None:
            outcome.status = "Failed"
            outcome.failure_reason = f"the objective metric {search.metric!r} never matched the log ({search.regex!r})"
    except Interrupted:
        outcome.interrupted = True
    except SmByoError as exc:
        outcome.status = "Failed"
        outcome.failure_reason = str(exc.details.get("failure_reason") or exc.message)
        outcome.objective_value = (exc.details.get("metrics") or {}).get(search.metric)
    except Exception as exc:  # Docker went away mid-trial: this trial failed, the job reports it and goes on
        outcome.status = "Failed"
        outcome.failure_reason = f"{type(exc).__name__}: {exc}"
    finally:
        outcome.elapsed_seconds = time.monotonic() - started
        outcome.ended_at = _now()
    if pruned.is_set() and not outcome.interrupted:
        outcome.status = "Stopped"
        outcome.failure_reason = "stopped early: its objective was not promising"
        outcome.objective_value = outcome.intermediate[-1] if outcome.intermediate else None
    return outcome


# --- the study ------------------------------------------------------------------------------------


def _open_study(search: Search, request: Mapping[str, Any], results: OutputDirectory, parallel: int) -> Any:
    """The study in ``--out``: a new one, or the one an earlier run of the same search left there."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    existed = (results.path / JOURNAL).exists()
    journal = results.claim(JOURNAL)
    storage = JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.create_study(
        storage=storage,
        study_name=STUDY_NAME,
        direction=search.direction,
        sampler=search.sampler(parallel),
        pruner=search.pruner(),
        load_if_exists=True,
    )
    wanted = fingerprint(request)
    if not existed or "request" not in study.user_attrs:
        study.set_user_attr("request", wanted)
        study.set_user_attr("job_name", search.job_name)
        return study
    _refuse_another_search(study.user_attrs["request"], wanted, results)
    return study


def _refuse_another_search(kept: Mapping[str, Any], wanted: Mapping[str, Any], results: OutputDirectory) -> None:
    differences = [key for key in wanted if kept.get(key) != wanted[key]]
    if differences:
        shown = "; ".join(f"{key}: was {json.dumps(kept.get(key))}, now {json.dumps(wanted[key])}"
                          for key in differences)  # fmt: skip
        raise UsageError(
            f"--out {results.path} holds another tuning job's study, and this request differs from it in "
            f"{', '.join(differences)} ({shown})",
            hint="Pass another --out for a new search, or run the earlier command again to continue that one "
            "(only --max-jobs and --max-parallel-jobs may change when resuming).",
            details={"flag": "--out", "differences": differences},
        )


def _settle_earlier_trials(study: Any, journal: Path, reporter: Reporter) -> int:
    """Trials an interrupted run left running are ended as such (and queued again, with the same hyperparameters);
    returns how many trials earlier runs finished (they count against MaxNumberOfTrainingJobs)."""
    from optuna.trial import TrialState

    finished = 0
    for frozen in study.get_trials(deepcopy=False):
        if frozen.state == TrialState.RUNNING:
            study.tell(frozen.number, state=TrialState.FAIL)
            study.enqueue_trial(frozen.params)
        elif frozen.state.is_finished() and "status" in frozen.user_attrs:
            finished += 1
    if finished:
        reporter.step(f"Continuing the study in {journal}: {finished} trial(s) finished earlier are kept")
    return finished


def _trial_result(frozen: Any) -> TrialResult:
    attrs = frozen.user_attrs
    if "status" not in attrs:  # a trial an interrupted run left unfinished (run again when resumed)
        return TrialResult(
            name=str(attrs.get("name", f"trial-{frozen.number + 1}")), status="Stopped",
            hyperparameters=dict(attrs.get("hyperparameters") or {}),
            failure_reason="interrupted before it finished (not counted; its hyperparameters were run again)",
            started_at=attrs.get("started_at"),
        )  # fmt: skip
    return TrialResult(
        name=str(attrs["name"]), status=str(attrs["status"]), hyperparameters=dict(attrs["hyperparameters"]),
        objective_value=attrs.get("objective_value"), failure_reason=attrs.get("failure_reason"),
        model_artifacts=attrs.get("model_artifacts"), elapsed_seconds=attrs.get("elapsed_seconds"),
        started_at=attrs.get("started_at"), ended_at=attrs.get("ended_at"),
    )  # fmt: skip


def _trials(study: Any) -> list[TrialResult]:
    """Every trial the study has started, in the order they started (WAITING ones have not)."""
    from optuna.trial import TrialState

    return [_trial_result(t) for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]


def _best(trials: list[TrialResult], maximize: bool) -> TrialResult | None:
    """The best completed trial (the first of equals, as it was found first)."""
    best: TrialResult | None = None
    for trial in trials:
        if trial.status != "Completed" or trial.objective_value is None:
            continue
        better = (
            best is None
            or best.objective_value is None
            or (
                trial.objective_value > best.objective_value
                if maximize
                else trial.objective_value < best.objective_value
            )
        )
        if better:
            best = trial
    return best


# --- the tables and the best model ----------------------------------------------------------------

CSV_COLUMNS = ("name", "status", "objective_value", "hyperparameters", "failure_reason", "model_artifacts",
               "elapsed_seconds", "started_at", "ended_at")  # fmt: skip


def _write_text(results: OutputDirectory, name: str, text: str) -> str:
    descriptor, temporary = temporary_beside(results.path / name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        return str(results.publish(temporary, name))
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_tables(results: OutputDirectory, trials: list[TrialResult], objective: Mapping[str, str]) -> dict[str, str]:
    """trials.json (the trials as the result lists them) and trials.csv (one row per trial)."""
    document = {"objective": dict(objective), "trials": [trial.to_dict() for trial in trials]}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for trial in trials:
        row = trial.to_dict()
        row["hyperparameters"] = json.dumps(trial.hyperparameters, sort_keys=True)
        writer.writerow(["" if row.get(column) is None else row[column] for column in CSV_COLUMNS])
    return {
        "json": _write_text(results, TABLE_JSON, json.dumps(document, indent=2) + "\n"),
        "csv": _write_text(results, TABLE_CSV, buffer.getvalue()),
    }


def copy_best_model(results: OutputDirectory, best: TrialResult | None) -> str | None:
    """The best trial's model.tar.gz as ``--out/model.tar.gz`` (copied under a temporary name, then renamed)."""
    if best is None or not best.model_artifacts or not Path(best.model_artifacts).is_file():
        return None
    descriptor, temporary = temporary_beside(results.path / MODEL_ARCHIVE)
    try:
        with os.fdopen(descriptor, "wb") as target, open(best.model_artifacts, "rb") as source:
            shutil.copyfileobj(source, target)
        return str(results.publish(temporary, MODEL_ARCHIVE))
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# --- the executor ---------------------------------------------------------------------------------


def parallel_trials(search: Search, cpus: int | None) -> int:
    """MaxParallelTrainingJobs, but never more trials than this machine has cores (a trial is InstanceCount
    containers, at least one)."""
    count = int((search.definition.get("ResourceConfig") or {}).get("InstanceCount", 1) or 1)
    return max(1, min(search.max_parallel, (cpus or 1) // max(1, count)))


@dataclass
class _Running:
    trial: Any
    outcome: TrialOutcome
    docker: _TrialDocker
    thread: threading.Thread


class _Executor:
    """Asks the study for trials, runs up to ``parallel`` at once in worker threads, tells the study how each
    ended. The main thread only waits (with a short poll), so Ctrl-C reaches it."""

    def __init__(self, search: Search, study: Any, adapter: DockerAdapter, reporter: Reporter, out: Path,
                 results: OutputDirectory, parallel: int) -> None:  # fmt: skip
        self.search, self.study, self.adapter, self.reporter = search, study, adapter, reporter
        self.out, self.results, self.parallel = out, results, parallel
        self.running: dict[int, _Running] = {}
        self.done: queue.Queue[TrialOutcome] = queue.Queue()
        self.job_name = str(study.user_attrs.get("job_name", search.job_name))

    def trial_name(self, number: int) -> str:
        """SageMaker's pattern for a tuning job's training jobs: ``<tuning job>-<3 digits>-<8 hex>``."""
        return f"{self.job_name}-{number + 1:03d}-{secrets.token_hex(4)}"

    def start(self) -> None:
        trial = self.study.ask({p.name: p.distribution() for p in self.search.parameters})
        hyperparameters = {p.name: p.value(trial.params[p.name]) for p in self.search.parameters}
        outcome = TrialOutcome(trial.number, self.trial_name(trial.number), hyperparameters)
        trial.set_user_attr("name", outcome.name)
        trial.set_user_attr("hyperparameters", hyperparameters)
        docker = _TrialDocker(self.adapter)

        def work() -> None:
            self.done.put(_run_trial(self.search, trial, outcome, docker, self.reporter, self.out))

        thread = threading.Thread(target=work, name=f"trial-{outcome.name}", daemon=True)
        self.running[trial.number] = _Running(trial, outcome, docker, thread)
        self.reporter.detail(f"{outcome.name}: started ({_shown(hyperparameters)})")
        thread.start()

    def finish(self, outcome: TrialOutcome) -> None:
        from optuna.trial import TrialState

        running = self.running.pop(outcome.number)
        running.thread.join()
        if outcome.interrupted:
            return  # left RUNNING in the study: a resumed run queues it again
        for key, value in outcome.attrs().items():
            running.trial.set_user_attr(key, value)
        if outcome.status == "Completed":
            self.study.tell(running.trial, outcome.objective_value)
        elif outcome.status == "Stopped":
            self.study.tell(running.trial, state=TrialState.PRUNED)
        else:
            self.study.tell(running.trial, state=TrialState.FAIL)
        self._report(outcome)

    def _report(self, outcome: TrialOutcome) -> None:
        trials = _trials(self.study)
        best = _best(trials, self.search.direction == "maximize")
        value = "no value" if outcome.objective_value is None else f"{outcome.objective_value:g}"
        # The reason's first line (a traceback follows it in the tables, as in SageMaker's FailureReason).
        first = (outcome.failure_reason or "").strip().splitlines()[:1]
        why = f": {first[0]}" if outcome.status != "Completed" and first else ""
        so_far = f"; best so far {best.name} ({best.objective_value:g})" if best and best.objective_value is not None \
            else "; no trial completed yet"  # fmt: skip
        self.reporter.step(f"{outcome.name} {outcome.status} ({_shown(outcome.hyperparameters)}) "
                           f"{self.search.metric} {value}{why}{so_far}")  # fmt: skip
        write_tables(self.results, trials, _objective(self.search))

    def wait_one(self) -> None:
        while True:
            try:
                outcome = self.done.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            with signals.held():  # the study's journal is never left with half a trial's ending
                self.finish(outcome)
            return

    def run(self, remaining: int) -> None:
        launched = 0
        while launched < remaining or self.running:
            while launched < remaining and len(self.running) < self.parallel:
                with signals.held():  # a trial is asked of the study and started whole, or not at all
                    self.start()
                launched += 1
            self.wait_one()

    def stop_all(self, exc: KeyboardInterrupt) -> Interrupted:
        """Ctrl-C: stop every running trial's containers (as ``train --local`` does), let the trials end, keep
        what finished; the trials cut short stay in the study, to be run again when the job resumes."""
        handles = [handle for running in self.running.values() for handle in running.docker.unstopped()]
        if handles:
            stop_all_gracefully(handles, INTERRUPT_GRACE_SECONDS, self.reporter, f"{len(self.running)} trial(s)")
        while self.running:
            for running in list(self.running.values()):  # a container started as the signal came: stop it too
                for handle in running.docker.unstopped():
                    _stop_quietly(handle, 0)
            try:
                outcome = self.done.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            outcome.interrupted = outcome.interrupted or outcome.status != "Completed"
            self.finish(outcome)
        write_tables(self.results, _trials(self.study), _objective(self.search))
        signum = signals.signum_of(exc)
        return Interrupted(
            f"interrupted by {signals.describe(signum)}; the running trials were stopped, and the trials that "
            f"finished are kept in {self.out}",
            signum=signum,
            hint="Run the same command with the same --out to continue the tuning job.",
        )


def _shown(hyperparameters: Mapping[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(hyperparameters.items()))


def _objective(search: Search) -> dict[str, str]:
    return {"metric": search.metric, "type": search.objective_type}


def run_tuning_job(
    request: Mapping[str, Any], reporter: Reporter, out: Path, *, docker: DockerAdapter | None = None
) -> TuningResult:
    """Run one CreateHyperParameterTuningJob request in local Docker: its trials as local training jobs, its
    search by Optuna, its study, tables and best model in ``out``."""
    search = Search.of(request)
    results = OutputDirectory(out, "--out")
    results.refuse_foreign([MODEL_ARCHIVE, TABLE_JSON, TABLE_CSV, JOURNAL])
    output_dir(str(request["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"]),
               "TrainingJobDefinition.OutputDataConfig.S3OutputPath", "--out")  # fmt: skip
    adapter = docker or connect()
    adapter.inspect_image(str(search.definition["AlgorithmSpecification"]["TrainingImage"]))
    parallel = parallel_trials(search, os.cpu_count())
    started = time.monotonic()
    study = _open_study(search, request, results, parallel)
    finished = _settle_earlier_trials(study, results.path / JOURNAL, reporter)
    remaining = max(0, search.max_jobs - finished)
    executor = _Executor(search, study, adapter, reporter, out, results, parallel)
    capped = f" (MaxParallelTrainingJobs {search.max_parallel}; this machine has {os.cpu_count()} cores)" \
        if parallel < search.max_parallel else ""  # fmt: skip
    reporter.step(f"Tuning {executor.job_name} locally: {remaining} more of {search.max_jobs} trials, {parallel} at "
                  f"a time{capped}, {search.strategy} ({search.objective_type} {search.metric})")  # fmt: skip
    try:
        executor.run(remaining)
    except KeyboardInterrupt as exc:
        raise executor.stop_all(exc) from None
    trials = _trials(study)
    best = _best(trials, search.direction == "maximize")
    tables = write_tables(results, trials, _objective(search))
    model = copy_best_model(results, best)
    result = TuningResult(
        job_name=executor.job_name, where="local", status="Completed" if best else "Failed",
        strategy=search.strategy, objective=_objective(search), best=best, trials=trials, tables=tables,
        elapsed_seconds=time.monotonic() - started, model_artifacts=model,
    )  # fmt: skip
    if best is None:
        raise JobFailed(
            f"tuning job {executor.job_name} failed: none of its {len(trials)} trial(s) completed with a value of "
            f"{search.metric}",
            hint=f"Each trial's reason is in {tables['csv']} (and above); fix the training code or narrow the "
            "ranges with --range, then run the same command to continue.",
            details=result.to_dict(),
        )
    reporter.step(f"Best trial: {best.name} ({search.metric} {best.objective_value:g}); its model is {model}")
    return result
