"""What the container is made of, as data: the spec baked into the image and the template variables.

Pure functions of the manifest (no I/O), so they can be tested and diffed without Docker.
"""

from __future__ import annotations

from typing import Any

from sm_byo import __version__
from sm_byo.manifest import Manifest

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
        "description": manifest.description.replace('"', "'").replace("\n", " "),
        "base_image": base_image or manifest.image.base,
        "system_packages": " ".join(manifest.image.system_packages),
        "build_packages": " ".join(manifest.image.build_packages),
        "ca_bundle": ca_bundle,
        "service_user": SERVICE_USER,
        "service_uid": SERVICE_UID,
    }
