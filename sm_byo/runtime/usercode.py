"""Loading the user's modules (train.py, predictor.py) by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_module(path: Path, module_name: str) -> ModuleType:
    """Import a user file as a module; its directory goes on sys.path so sibling imports work."""
    if not path.is_file():
        raise FileNotFoundError(f"user code {path} not found in the image")
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
