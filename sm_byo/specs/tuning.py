"""CreateHyperParameterTuningJob's request, built from the manifest and the command's options (pure: no I/O).

Its ``TrainingJobDefinition`` is the training request ``smbyo train`` builds
(:func:`sm_byo.specs.training.training_job_request`), minus what a tuning job sets per trial.
Request reference: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sm_byo.specs.training import TrainingOptions


@dataclass(frozen=True)
class TuningOptions:
    """Everything a tuning request needs besides the manifest (values already chosen).

    ``training``: the options of the training job each trial runs (its hyperparameters are the static
    ones). ``ranges``: ``--range NAME=SPEC`` as given, narrowing the manifest's ranges. ``algorithm_name``
    and ``published``: tune a published algorithm (``AlgorithmSpecification.AlgorithmName``), its
    DescribeAlgorithm ``TrainingSpecification`` giving the hyperparameters, channels and metrics to check
    against instead of the manifest's."""

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
