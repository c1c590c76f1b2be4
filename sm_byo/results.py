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
    image: str
    hyperparameters: dict[str, str]
    channels: dict[str, str]
    job_arn: str | None = None
    model_artifacts: str | None = None
    output_artifacts: str | None = None  # output.tar.gz: what the job wrote to /opt/ml/output/data
    metrics: dict[str, float] = field(default_factory=dict)
    metric_series: dict[str, list[float]] = field(default_factory=dict)
    elapsed_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_name": self.job_name,
            "job_arn": self.job_arn,
            "where": self.where,
            "status": self.status,
            "image": self.image,
            "channels": self.channels,
            "hyperparameters": self.hyperparameters,
            "model_artifacts": self.model_artifacts,
            "output_artifacts": self.output_artifacts,
            "metrics": self.metrics,
            "metric_series": self.metric_series,
            "elapsed_seconds": None if self.elapsed_seconds is None else round(self.elapsed_seconds, 2),
        }
