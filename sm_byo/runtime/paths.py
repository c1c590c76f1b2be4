"""The /opt/ml layout of the SageMaker container contract, and the image's own files.

``SMBYO_ML_ROOT`` and ``SMBYO_HOME`` move them, so the runtime can be run and tested outside a container.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MlPaths:
    root: Path

    @classmethod
    def from_env(cls) -> MlPaths:
        return cls(Path(os.environ.get("SMBYO_ML_ROOT", "/opt/ml")))

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"


def smbyo_home() -> Path:
    """Where the image keeps smbyo's files (spec.json, nginx.conf, wsgi.py): /opt/smbyo."""
    return Path(os.environ.get("SMBYO_HOME", "/opt/smbyo"))


def code_dir() -> Path:
    """Where the user's code lives in the image."""
    return Path(os.environ.get("SMBYO_CODE_DIR", "/opt/program/code"))


def load_spec() -> dict[str, Any]:
    """The container spec rendered from smbyo.yaml at build time (hyperparameter types, content types...)."""
    path = Path(os.environ.get("SMBYO_SPEC", str(smbyo_home() / "spec.json")))
    with path.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    return spec
