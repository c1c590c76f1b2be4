"""Names smbyo gives things: jobs and resources (``<name>-<UTC timestamp>``), image tags, repositories.

Unique, valid SageMaker names: ``<name>-<UTC timestamp with milliseconds>``.

SageMaker names are at most 63 characters of ``[a-zA-Z0-9](-*[a-zA-Z0-9])*``; job names must also be
unique per account and region for ever, so each run gets a fresh timestamp suffix (as the SageMaker
SDK does) and the base is trimmed, never the timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from sm_byo.manifest import Manifest

MAX_NAME_LENGTH = 63
_INVALID = re.compile(r"[^a-zA-Z0-9-]+")
_DASHES = re.compile(r"-{2,}")


def timestamp(now: datetime) -> str:
    """``2026-11-24-01-02-03-456``: sortable, and unique to the millisecond."""
    return now.strftime("%Y-%m-%d-%H-%M-%S-") + f"{now.microsecond // 1000:03d}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def unique_name(base: str, *, now: Callable[[], datetime] = _utcnow, max_length: int = MAX_NAME_LENGTH) -> str:
    """``base`` cleaned to SageMaker's pattern and suffixed with a timestamp, within ``max_length``."""
    return _suffixed(base, timestamp(now()), max_length)


def _suffixed(base: str, suffix: str, max_length: int) -> str:
    """``base`` cleaned to SageMaker's name pattern and trimmed (never the suffix) to fit ``-suffix`` in."""
    cleaned = _DASHES.sub("-", _INVALID.sub("-", base)).strip("-") or "smbyo"
    room = max_length - len(suffix) - 1
    return f"{cleaned[:room].rstrip('-')}-{suffix}"


# HyperParameterTuningJobName: at most 32 characters of [a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html).
MAX_TUNING_JOB_NAME_LENGTH = 32


def short_timestamp(now: datetime) -> str:
    """``261124-010203-456``: a sortable timestamp short enough to leave a tuning job name room for its base."""
    return now.strftime("%y%m%d-%H%M%S-") + f"{now.microsecond // 1000:03d}"


def unique_tuning_job_name(base: str, *, now: Callable[[], datetime] = _utcnow) -> str:
    """``base`` cleaned and trimmed to 14 characters, with a short timestamp: 32 characters at most.

    SageMaker names each trial ``<tuning job name>-<3 digits>-<8 hex>``, within the 63 of a training job name."""
    return _suffixed(base, short_timestamp(now()), MAX_TUNING_JOB_NAME_LENGTH)


Role = Literal["training", "inference"]
INFERENCE_SUFFIX = "-inference"


def role_tag(reference: str, role: Role, manifest: Manifest) -> str:
    """The image of ``role`` among those `smbyo build` tags ``reference`` (``name:tag``): the one image
    itself, or with ``image.inference`` set, ``name:tag`` for training and ``name:tag-inference`` for
    serving. One repository holds both (push needs one ECR repository), and the pair stays together."""
    if role == "training" or manifest.image.inference is None:
        return reference
    slash, colon = reference.rfind("/"), reference.rfind(":")
    if colon > slash:
        return reference + INFERENCE_SUFFIX
    return f"{reference}:latest{INFERENCE_SUFFIX}"


def local_image_tag(manifest: Manifest, role: Role = "training") -> str:
    """The local image every local command of ``role`` uses unless --image is given (what `smbyo build` tags)."""
    return role_tag(f"{manifest.name}:latest", role, manifest)


def repository_name(manifest: Manifest) -> str:
    """The ECR repository `smbyo push` pushes to: ``ecr.repository``, else the algorithm's name."""
    return manifest.ecr.repository or manifest.name


# Every SageMaker resource smbyo creates that outlives its command (model, endpoint config, endpoint, algorithm,
# model package) carries this tag, the manifest's name as its value: `smbyo delete project` finds a project's
# resources by it and by nothing else, so it never touches what smbyo did not create. "aws:" is the only reserved
# prefix (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html#tag-conventions).
PROJECT_TAG = "smbyo:project"


def project_tags(manifest: Manifest) -> dict[str, str]:
    """The manifest's ``tags`` and the project tag (it wins over a ``tags`` entry of the same key)."""
    return {**manifest.tags, PROJECT_TAG: manifest.name}


def data_prefix(manifest: Manifest) -> str:
    """``smbyo/<name>/``: where in smbyo's bucket (``session.bucket_name``) train and transform upload local data."""
    return f"smbyo/{manifest.name}/"
