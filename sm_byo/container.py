"""What the container is made of, as data: the spec baked into the image and the template variables.

Pure functions of the manifest (no I/O), so they can be tested and diffed without Docker.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable
from typing import Any

from sm_byo import __version__
from sm_byo.manifest import Manifest
from sm_byo.rules import image_reference_problem

SERVICE_USER = "smbyo"
SERVICE_UID = 900


def container_spec(manifest: Manifest) -> dict[str, Any]:
    """``/opt/smbyo/spec.json``: what the in-container runtime needs to know from the manifest."""
    training = manifest.training
    return {
        "name": manifest.name,
        "smbyo_version": __version__,
        "code": {"train": manifest.code.train, "predict": manifest.code.predict},
        "hyperparameters": [
            spec.model_dump(include={"name", "type", "min", "max", "values", "default", "required"})
            for spec in (training.hyperparameters if training else [])
        ],
        "channels": [channel.model_dump() for channel in (training.channels if training else [])],
        "serving": {
            "workers": manifest.serving.workers,
            "timeout_seconds": manifest.serving.timeout_seconds,
            "content_types": manifest.serving.content_types,
            "accept": manifest.serving.accept,
        },
    }


def template_context(
    manifest: Manifest, *, base_image: str | None, ca_bundle: bool, manifest_file: str
) -> dict[str, Any]:
    """Variables for the container templates (StrictUndefined: every one must be here)."""
    return {
        "smbyo_version": __version__,
        "manifest_file": manifest_file,
        "name": manifest.name,
        "description": manifest.description,
        "base_image": base_image or manifest.image.base,
        "system_packages": list(manifest.image.system_packages),
        "build_packages": list(manifest.image.build_packages),
        # A second, serve-only build target (`inference`) next to `training`: image.inference.
        "split": manifest.image.inference is not None,
        "inference_system_packages": list(manifest.image.inference.system_packages) if manifest.image.inference else [],
        "ca_bundle": ca_bundle,
        "service_user": SERVICE_USER,
        "service_uid": SERVICE_UID,
    }


# --- escaping what the templates interpolate ---------------------------------------------------------
#
# The manifest refuses values that could never be valid (sm_byo.rules); the templates escape every value
# they interpolate all the same, so that a value that passes (or a flag, or a file name) still cannot add a
# Dockerfile instruction or run shell. A Dockerfile instruction ends at a newline whatever the quoting, so
# a value with a line break or another control character is refused outright.

# C0 and C1 controls (category Cc, which AWS refuses in descriptions too). Docker splits lines at \n only.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class UnsafeValue(ValueError):
    """A value a template cannot hold safely (render.py reports it as a render error naming the value)."""


def _no_control(value: str, where: str) -> str:
    found = CONTROL.search(value)
    if found:
        raise UnsafeValue(f"{where} {value!r} holds the control character {found.group()!r}; it cannot be rendered")
    return value


def dockerfile_comment(value: object) -> str:
    """Text inside a ``#`` comment line: every control character (a newline would end it) becomes '?'."""
    return CONTROL.sub("?", str(value))


def dockerfile_label(value: object) -> str:
    """A LABEL value inside double quotes: ``\\``, ``"`` and ``$`` escaped (the Dockerfile parser expands
    variables in LABEL, and ends the value at an unescaped quote), no line breaks."""
    text = _no_control(str(value), "a LABEL value")
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")


def shell_words(values: Iterable[object]) -> str:
    """Arguments of a shell-form RUN: each one quoted for /bin/sh (``shlex.quote``), no line breaks."""
    return " ".join(shlex.quote(_no_control(str(value), "a RUN argument")) for value in values)


def image_reference(value: object) -> str:
    """The image of a FROM line: a Docker image reference and nothing else (FROM has no quoting)."""
    text = str(value)
    problem = image_reference_problem(text)
    if problem:
        raise UnsafeValue(f"the base image {text!r} {problem}")
    return text


DOCKERFILE_FILTERS: dict[str, Callable[..., str]] = {
    "comment": dockerfile_comment,
    "label": dockerfile_label,
    "shell_words": shell_words,
    "image_reference": image_reference,
}
