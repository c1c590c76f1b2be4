"""One result shape per job kind, whichever executor ran it (the ``--json`` documents of train, ...).

A local run and a SageMaker run of the same request answer with the same keys. The values say
where things are: ``model_artifacts`` is an ``s3://`` URI after a SageMaker job and a local path
after a local one; ``where`` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Where = Literal["local", "sagemaker"]


@dataclass
class TrainingResult:
    job_name: str
    where: Where
    status: str
    image: str | None  # None when the job ran a published algorithm (``algorithm``): it brings its own image
    hyperparameters: dict[str, str]
    channels: dict[str, str]
    job_arn: str | None = None
    algorithm: str | None = None  # train --algorithm: the published algorithm's name or ARN
    model_artifacts: str | None = None
    output_artifacts: str | None = None  # output.tar.gz: what the job wrote to /opt/ml/output/data
    metrics: dict[str, float] = field(default_factory=dict)
    metric_series: dict[str, list[float]] = field(default_factory=dict)
    elapsed_seconds: float | None = None
    instance_count: int = 1  # ResourceConfig.InstanceCount: the hosts the job ran on

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_name": self.job_name,
            "job_arn": self.job_arn,
            "where": self.where,
            "status": self.status,
            "image": self.image,
            "algorithm": self.algorithm,
            "instance_count": self.instance_count,
            "channels": self.channels,
            "hyperparameters": self.hyperparameters,
            "model_artifacts": self.model_artifacts,
            "output_artifacts": self.output_artifacts,
            "metrics": self.metrics,
            "metric_series": self.metric_series,
            "elapsed_seconds": None if self.elapsed_seconds is None else round(self.elapsed_seconds, 2),
        }


@dataclass
class TransformResult:
    """A batch transform job, run by local Docker or SageMaker.

    ``input``, ``output`` and ``outputs`` (the ``.out`` files) are local paths after a local job and
    ``s3://`` URIs after a SageMaker one; ``records``, ``requests`` and ``input_bytes`` are counted by
    the local executor only (SageMaker does not report them): None in the cloud. ``settings`` are
    the ones the job ran with (the request's, else what the container's /execution-parameters said).
    """

    job_name: str
    where: Where
    status: str
    model_name: str
    input: str
    output: str
    image: str | None = None  # None when a SageMaker job used an existing model (its image is the model's)
    job_arn: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)  # --download: where the .out files were saved
    records: int | None = None
    requests: int | None = None
    input_bytes: int | None = None
    elapsed_seconds: float | None = None
    # Locally, per instance: its name (algo-1, ...), its input files, records and requests; None on SageMaker.
    instances: list[dict[str, Any]] | None = None
    model_package: str | None = None  # the published model package the model runs (--model-package, --algorithm)
    # CreateModel.EnableNetworkIsolation as the job ran: buyers' conditions when True (None: not set).
    network_isolation: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_name": self.job_name,
            "job_arn": self.job_arn,
            "where": self.where,
            "status": self.status,
            "image": self.image,
            "model_name": self.model_name,
            "model_package": self.model_package,
            "input": self.input,
            "output": self.output,
            "outputs": self.outputs,
            "downloaded": self.downloaded,
            "records": self.records,
            "requests": self.requests,
            "input_bytes": self.input_bytes,
            "instances": self.instances,
            "settings": self.settings,
            "network_isolation": self.network_isolation,
            "elapsed_seconds": None if self.elapsed_seconds is None else round(self.elapsed_seconds, 2),
        }


@dataclass
class TrialResult:
    """One training job of a tuning job (a trial): its hyperparameters, how it ended and its objective."""

    name: str
    status: str  # Completed | Failed | Stopped (early stopping / pruning) | InProgress
    hyperparameters: dict[str, str]
    objective_value: float | None = None
    failure_reason: str | None = None
    model_artifacts: str | None = None  # a local path or an s3:// URI
    elapsed_seconds: float | None = None
    started_at: str | None = None  # ISO 8601, UTC: when the trial's training job started and ended
    ended_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "hyperparameters": self.hyperparameters,
            "objective_value": self.objective_value,
            "failure_reason": self.failure_reason,
            "model_artifacts": self.model_artifacts,
            "elapsed_seconds": None if self.elapsed_seconds is None else round(self.elapsed_seconds, 2),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }


@dataclass
class TuningResult:
    """A hyperparameter tuning job, run by local Docker (trials as local training jobs) or SageMaker.

    ``objective`` is ``{"metric": name, "type": "Maximize" | "Minimize"}``; ``best`` is the best
    completed trial (None when none completed); ``trials`` every trial in the order it started;
    ``tables`` the trial tables a local run wrote (``{"json": path, "csv": path}``; empty on SageMaker).
    """

    job_name: str
    where: Where
    status: str
    strategy: str
    objective: dict[str, str]
    job_arn: str | None = None
    best: TrialResult | None = None
    trials: list[TrialResult] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)
    elapsed_seconds: float | None = None
    model_artifacts: str | None = None  # the best trial's model as the job keeps it (locally: --out/model.tar.gz)

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for trial in self.trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        return {
            "job_name": self.job_name,
            "job_arn": self.job_arn,
            "where": self.where,
            "status": self.status,
            "strategy": self.strategy,
            "objective": self.objective,
            "best": None if self.best is None else self.best.to_dict(),
            "trial_counts": counts,
            "trials": [trial.to_dict() for trial in self.trials],
            "tables": self.tables,
            "model_artifacts": self.model_artifacts,
            "elapsed_seconds": None if self.elapsed_seconds is None else round(self.elapsed_seconds, 2),
        }

    def human_view(self) -> dict[str, Any]:
        """What a person reads: the job, its best trial, and one row per trial (the best marked with *)."""
        best = self.best.name if self.best else None
        metric = self.objective.get("metric", "objective")
        view: dict[str, Any] = {
            "job_name": self.job_name,
            "where": self.where,
            "status": self.status,
            "strategy": self.strategy,
            "objective": f"{self.objective.get('type', '')} {metric}".strip(),
            "best": f"{best} ({metric} {self.best.objective_value:g})" if self.best and self.best.objective_value
            is not None else None,
        }  # fmt: skip
        if self.model_artifacts or (self.best is not None and self.best.model_artifacts):
            view["model_artifacts"] = self.model_artifacts or (self.best.model_artifacts if self.best else None)
        view.update({f"table ({kind})": path for kind, path in self.tables.items()})
        view["trials"] = [
            {
                "status": trial.status,
                "best": "*" if trial.name == best else "",
                "trial": trial.name,
                "hyperparameters": " ".join(f"{k}={v}" for k, v in sorted(trial.hyperparameters.items())),
                metric: "" if trial.objective_value is None else f"{trial.objective_value:g}",
                "seconds": "" if trial.elapsed_seconds is None else f"{trial.elapsed_seconds:.1f}",
                "reason": trial.failure_reason or "",
            }
            for trial in self.trials
        ]
        return view
