"""CreateHyperParameterTuningJob's request, built from the manifest and the command's options (pure: no I/O).

Its ``TrainingJobDefinition`` is the training request ``smbyo train`` builds
(:func:`sm_byo.specs.training.training_job_request`), minus what a tuning job sets per trial: the trial's
name and the tuned hyperparameters (the rest are ``StaticHyperParameters``).
Request reference: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html

What the job may search comes from the manifest's ``training.hyperparameters`` (every ``tunable`` one with a
range), or, for a published algorithm, from its DescribeAlgorithm ``TrainingSpecification``. ``--range`` narrows
one of those ranges; it never widens one, so every value a trial gets is one the algorithm accepts. A mistake in a
flag is a :class:`UsageError` naming the flag and the declaration it breaks; the rules between request fields
(Grid, Hyperband, scaling, counts) are pre-flight's (``sm_byo.rules.tuning_job_problems``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import Manifest
from sm_byo.runtime.hyperparameters import cast_value
from sm_byo.specs.hyperparameters import Declared, bound, declared_in_manifest, hyperparameter_values
from sm_byo.specs.published import (
    as_published,
    check_training_choices,
    declared_in_published,
    published_training,
)
from sm_byo.specs.request import Origin, Request, RequestPath
from sm_byo.specs.training import TrainingOptions, training_job_request, training_spec

STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
# ResourceLimits.MaxNumberOfTrainingJobs when --max-jobs is not given (Grid leaves it out: it runs every combination).
DEFAULT_MAX_JOBS = 10
# HyperbandStrategyConfig.MinResource when --hyperband-min-resource is not given: one epoch.
DEFAULT_HYPERBAND_MIN_RESOURCE = 1
CONFIG = "HyperParameterTuningJobConfig"
DEFINITION = "TrainingJobDefinition"
# The members of HyperParameterTrainingJobDefinition that a CreateTrainingJob request also has (botocore's service
# model, shape HyperParameterTrainingJobDefinition); HyperParameters becomes StaticHyperParameters, and
# TrainingJobName and Tags are the tuning job's to give (each trial's name; the tuning job's own Tags).
DEFINITION_FIELDS = (
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "Environment",
)
RANGE_KEYS = {
    "Integer": "IntegerParameterRanges",
    "Continuous": "ContinuousParameterRanges",
    "Categorical": "CategoricalParameterRanges",
}


@dataclass(frozen=True)
class TuningOptions:
    """Everything a tuning request needs besides the manifest (values already chosen).

    ``training``: the options of the training job each trial runs (its hyperparameters are the static
    ones, as given with -H: the builder fills the declared defaults). ``ranges``: ``--range NAME=SPEC`` as
    given, narrowing the manifest's ranges. ``algorithm_name`` and ``published``: tune a published algorithm
    (``AlgorithmSpecification.AlgorithmName``), its DescribeAlgorithm ``TrainingSpecification`` giving the
    hyperparameters, channels and metrics to check against instead of the manifest's."""

    job_name: str
    training: TrainingOptions
    strategy: str = "Bayesian"
    max_jobs: int | None = None
    max_parallel_jobs: int = 1
    ranges: Mapping[str, str] = field(default_factory=dict)
    early_stopping: str = "Off"
    warm_start_from: tuple[str, ...] = ()
    warm_start_type: str = "IdenticalDataAndAlgorithm"
    algorithm_name: str | None = None
    published: Mapping[str, Any] | None = None
    flags: Mapping[str, str] = field(default_factory=dict)  # which flag gave each value (pre-flight messages)
    hyperband_min_resource: int | None = None  # HyperbandStrategyConfig.MinResource
    hyperband_max_resource: int | None = None  # HyperbandStrategyConfig.MaxResource (else read from the epochs)
    random_seed: int | None = None  # HyperParameterTuningJobConfig.RandomSeed


@dataclass(frozen=True)
class SearchRange:
    """One range of the request: the declaration it narrows and what it searches."""

    declared: Declared
    low: float | None = None
    high: float | None = None
    values: tuple[str, ...] = ()
    scaling: str | None = None
    from_flag: bool = False
    scaling_from_flag: bool = False

    def to_request(self) -> dict[str, Any]:
        if self.declared.type == "Categorical":
            return {"Name": self.declared.name, "Values": list(self.values)}
        assert self.low is not None and self.high is not None
        item: dict[str, Any] = {
            "Name": self.declared.name,
            "MinValue": bound(self.low, self.declared.type == "Integer"),
            "MaxValue": bound(self.high, self.declared.type == "Integer"),
        }
        if self.scaling is not None:
            item["ScalingType"] = self.scaling
        return item


# --- --range --------------------------------------------------------------------------------------


def _range_error(name: str, spec: str, problem: str, declared: Declared | None, hint: str) -> UsageError:
    where = f" ({declared.where} allows {declared.allowed()})" if declared is not None else ""
    return UsageError(f"--range {name}={spec}: {problem}{where}", hint=hint, details={"flag": "--range", "name": name})


def _parse_bound(declared: Declared, name: str, spec: str, text: str) -> float:
    """One bound of ``--range``: a value of the declared type inside the declared range (the runtime's rule)."""
    try:
        return float(cast_value(declared.runtime_spec(), text.strip()))
    except ValueError as exc:
        hint = "Narrow the range within what the algorithm declares, or change the declaration."
        raise _range_error(name, spec, f"{text.strip()!r}: {exc}", declared, hint) from None


def narrowed(declared: Declared, name: str, spec: str) -> SearchRange:
    """``--range NAME=SPEC`` as a range inside the declared one: MIN:MAX[:Scaling], or a,b,c for Categorical."""
    if declared.type == "Categorical":
        values = tuple(value.strip() for value in spec.split(","))
        unknown = [value for value in values if value not in (declared.values or ())]
        if unknown or not spec.strip():
            raise _range_error(name, spec, f"{', '.join(repr(v) for v in unknown) or 'no value'} is not one of the "
                               "declared values", declared, f"Give a comma-separated subset, e.g. --range {name}="
                               f"{','.join((declared.values or ())[:2])}.")  # fmt: skip
        if len(set(values)) != len(values):
            raise _range_error(name, spec, "a value is given twice", declared, "Give each value once.")
        return SearchRange(declared, values=values, from_flag=True)
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise _range_error(name, spec, f"a {declared.type} range is MIN:MAX or MIN:MAX:Scaling", declared,
                           f"e.g. --range {name}=10:50 or --range {name}=10:50:Logarithmic.")  # fmt: skip
    low, high = (_parse_bound(declared, name, spec, text) for text in parts[:2])
    if low > high:
        raise _range_error(name, spec, f"MIN {parts[0]} is greater than MAX {parts[1]}", declared, "Swap them.")
    scaling = parts[2].strip() if len(parts) == 3 else declared.scaling
    if scaling is not None and scaling not in SCALING_TYPES:
        raise _range_error(name, spec, f"{scaling!r} is not a scaling type ({', '.join(SCALING_TYPES)})", None,
                           f"e.g. --range {name}={parts[0]}:{parts[1]}:Logarithmic.")  # fmt: skip
    return SearchRange(declared, low, high, scaling=scaling, from_flag=True, scaling_from_flag=len(parts) == 3)


def _whole_range(declared: Declared) -> SearchRange:
    """A tunable hyperparameter's whole declared range (no --range for it)."""
    if declared.type == "Categorical" and declared.values:
        return SearchRange(declared, values=declared.values)
    if declared.type in ("Integer", "Continuous") and declared.min is not None and declared.max is not None:
        return SearchRange(declared, declared.min, declared.max, scaling=declared.scaling)
    raise UsageError(
        f"{declared.where} is tunable but declares no range to search (min and max)",
        hint=f"Give one with --range {declared.name}=MIN:MAX, or add min and max to its declaration.",
        details={"field": declared.where},
    )


def search_ranges(
    declared: Mapping[str, Declared], given: Mapping[str, str], static: Mapping[str, str]
) -> list[SearchRange]:
    """Every tunable hyperparameter not fixed with -H, narrowed by its ``--range``; a ``--range`` for a
    hyperparameter that is not declared, not tunable or also given with -H is refused (exit 2)."""
    for name, spec in given.items():
        item = declared.get(name)
        if item is None:
            raise _range_error(name, spec, f"{name!r} is not a declared hyperparameter (declared: "
                               f"{', '.join(sorted(declared)) or 'none'})", None,
                               "Name a hyperparameter of training.hyperparameters that is tunable.")  # fmt: skip
        if not item.tunable:
            hint = f"Set `tunable: true` on it, or fix its value with -H {name}=VALUE instead."
            raise _range_error(name, spec, f"{item.where} is not tunable", None, hint)
        if name in static:
            hint = f"Drop -H {name}=... to tune it, or drop --range {name}=... to fix it."
            problem = f"{name!r} is also given with -H; a hyperparameter is either tuned or fixed"
            raise _range_error(name, spec, problem, None, hint)
    found = []
    for name, item in declared.items():
        if not item.tunable or name in static:
            continue
        found.append(narrowed(item, name, given[name]) if name in given else _whole_range(item))
    return found


# --- objective ---------------------------------------------------------------------------------------


def objective(manifest: Manifest, published: Mapping[str, Any] | None, algorithm: str | None) -> dict[str, str] | None:
    """HyperParameterTuningJobObjective from training.tuning_objective; for a published algorithm it must be one
    of its SupportedTuningJobObjectiveMetrics (the first of them when the manifest names none)."""
    goal = manifest.training.tuning_objective if manifest.training else None
    chosen = {"Type": goal.type, "MetricName": goal.metric} if goal else None
    if published is None:
        return chosen
    supported = [{"Type": str(item.get("Type")), "MetricName": str(item.get("MetricName"))}
                 for item in published.get("SupportedTuningJobObjectiveMetrics") or []]  # fmt: skip
    if chosen is None:
        return supported[0] if supported else None
    if chosen not in supported:
        listed = ", ".join(f"{item['MetricName']} ({item['Type']})" for item in supported) or "none"
        raise UsageError(
            f"training.tuning_objective {chosen['MetricName']} ({chosen['Type']}) is not an objective {algorithm} "
            f"supports (TrainingSpecification.SupportedTuningJobObjectiveMetrics: {listed})",
            hint="Set training.tuning_objective to one of them, or remove it to use the algorithm's first.",
        )
    return chosen


# --- the request ----------------------------------------------------------------------------------


def _instance_count(manifest: Manifest, training: TrainingOptions) -> int:
    """The job's instance count: --instance-count, else training.job's (checked against the algorithm's support)."""
    if training.job.instance_count is not None:
        return training.job.instance_count
    return manifest.training.job.instance_count if manifest.training else 1


def _definition(
    training: Request, static: Mapping[str, str], options: TuningOptions
) -> tuple[dict[str, Any], dict[RequestPath, Origin]]:
    """TrainingJobDefinition: the training request's fields that the shape has, with its origins moved below it."""
    kwargs = training.kwargs
    definition: dict[str, Any] = {key: kwargs[key] for key in DEFINITION_FIELDS if key in kwargs}
    definition["StaticHyperParameters"] = dict(static)
    algorithm = dict(definition["AlgorithmSpecification"])
    if not algorithm.get("MetricDefinitions"):
        algorithm.pop("MetricDefinitions", None)
    definition["AlgorithmSpecification"] = algorithm
    origins: dict[RequestPath, Origin] = {}
    for path, origin in training.origins.items():
        head = path[0]
        if head == "HyperParameters":
            origins[(DEFINITION, "StaticHyperParameters", *path[1:])] = origin
        elif head in DEFINITION_FIELDS:
            origins[(DEFINITION, *path)] = origin
    return definition, origins


def _range_origins(ranges: list[SearchRange]) -> dict[RequestPath, Origin]:
    origins: dict[RequestPath, Origin] = {(CONFIG, "ParameterRanges"): ("training", "hyperparameters")}
    positions: dict[str, int] = {}
    for item in ranges:
        key = RANGE_KEYS[item.declared.type]
        index = positions[key] = positions.get(key, -1) + 1
        path = (CONFIG, "ParameterRanges", key, index)
        origins[path] = ("--range",) if item.from_flag else item.declared.origin
        in_manifest = item.declared.origin[:1] == ("training",)
        scaling_origin = (*item.declared.origin, "scaling") if in_manifest else item.declared.origin
        origins[(*path, "ScalingType")] = ("--range",) if item.scaling_from_flag else scaling_origin
        origins[(*path, "Name")] = ("-H",)  # the rule on a name that is also static
    return origins


def _parameter_ranges(ranges: list[SearchRange]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in ranges:
        grouped.setdefault(RANGE_KEYS[item.declared.type], []).append(item.to_request())
    return grouped


def _strategy_config(options: TuningOptions) -> dict[str, Any] | None:
    """HyperbandStrategyConfig for Hyperband: --hyperband-min/max-resource, else 1 and the epochs SageMaker would
    read from the static hyperparameters (pre-flight names a MaxResource it cannot find)."""
    if options.strategy != "Hyperband":
        return None
    config: dict[str, int] = {"MinResource": options.hyperband_min_resource or DEFAULT_HYPERBAND_MIN_RESOURCE}
    if options.hyperband_max_resource is not None:
        config["MaxResource"] = options.hyperband_max_resource
    return {"HyperbandStrategyConfig": config}


def _config(options: TuningOptions, ranges: list[SearchRange], goal: dict[str, str] | None) -> dict[str, Any]:
    limits: dict[str, int] = {"MaxParallelTrainingJobs": options.max_parallel_jobs}
    if options.max_jobs is not None or options.strategy != "Grid":
        limits["MaxNumberOfTrainingJobs"] = options.max_jobs if options.max_jobs is not None else DEFAULT_MAX_JOBS
    config: dict[str, Any] = {"Strategy": options.strategy}
    if (strategy := _strategy_config(options)) is not None:
        config["StrategyConfig"] = strategy
    if goal is not None:
        config["HyperParameterTuningJobObjective"] = goal
    config["ResourceLimits"] = limits
    config["ParameterRanges"] = _parameter_ranges(ranges)
    config["TrainingJobEarlyStoppingType"] = options.early_stopping
    if options.random_seed is not None:
        # "Setting a random seed and using the same seed later for the same tuning job will allow hyperparameter
        # optimization to find more a consistent hyperparameter configuration between the two runs."
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperParameterTuningJobConfig.html
        config["RandomSeed"] = options.random_seed
    return config


def _config_origins(options: TuningOptions) -> dict[RequestPath, Origin]:
    flag = options.flags.get
    hyperband = (CONFIG, "StrategyConfig", "HyperbandStrategyConfig")
    return {
        ("HyperParameterTuningJobName",): ("name",),
        (CONFIG, "Strategy"): (flag("strategy", "--strategy"),),
        (CONFIG, "HyperParameterTuningJobObjective"): ("training", "tuning_objective"),
        (CONFIG, "ResourceLimits", "MaxNumberOfTrainingJobs"): (flag("max_jobs", "--max-jobs"),),
        (CONFIG, "ResourceLimits", "MaxParallelTrainingJobs"): (flag("max_parallel_jobs", "--max-parallel-jobs"),),
        (CONFIG, "TrainingJobEarlyStoppingType"): (flag("early_stopping", "--early-stopping"),),
        (CONFIG, "StrategyConfig"): (flag("strategy", "--strategy"),),
        hyperband: ("--hyperband-max-resource",),
        (*hyperband, "MaxResource"): ("--hyperband-max-resource",),
        (*hyperband, "MinResource"): ("--hyperband-min-resource",),
        (CONFIG, "RandomSeed"): ("--random-seed",),
        ("WarmStartConfig",): ("--warm-start-from",),
        ("WarmStartConfig", "WarmStartType"): ("--warm-start-type",),
    }


def tuning_job_request(manifest: Manifest, options: TuningOptions) -> Request:
    """The ``CreateHyperParameterTuningJob`` request, each value remembering the manifest field or flag behind it."""
    algorithm = options.algorithm_name
    published = options.published if algorithm else None
    goal = objective(manifest, published, algorithm)
    if published is not None:
        assert algorithm is not None
        train = options.training
        check_training_choices(
            published, algorithm, channels=train.channels, instance_type=train.instance_type,
            instance_count=_instance_count(manifest, train), input_mode=train.input_mode,
            network_isolation=train.job.network_isolation,
        )  # fmt: skip
        manifest = published_training(manifest, published, algorithm)
        declared = declared_in_published(published, algorithm)
    else:
        declared = declared_in_manifest(training_spec(manifest))
    given_static = dict(options.training.hyperparameters)
    ranges = search_ranges(declared, options.ranges, given_static)
    static = hyperparameter_values(
        declared, given_static, tuned={item.declared.name for item in ranges}, kind="static",
        hint="Fix the -H NAME=VALUE values; a tuned hyperparameter takes --range NAME=... instead.",
    )  # fmt: skip
    training = training_job_request(manifest, options.training)
    if algorithm is not None and published is not None:
        training = as_published(training, algorithm)
    definition, origins = _definition(training, static, options)
    kwargs: dict[str, Any] = {
        "HyperParameterTuningJobName": options.job_name,
        CONFIG: _config(options, ranges, goal),
        DEFINITION: definition,
    }
    origins.update(_config_origins(options))
    origins.update(_range_origins(ranges))
    if published is not None:
        origins[(CONFIG, "HyperParameterTuningJobObjective")] = ("training", "tuning_objective")
    if options.warm_start_from:
        # https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-warm-start.html
        kwargs["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": name} for name in options.warm_start_from
            ],
            "WarmStartType": options.warm_start_type,
        }
    if "Tags" in training.kwargs:
        kwargs["Tags"] = training.kwargs["Tags"]
        origins.update({path: origin for path, origin in training.origins.items() if path[0] == "Tags"})
    return Request("CreateHyperParameterTuningJob", kwargs, origins)
