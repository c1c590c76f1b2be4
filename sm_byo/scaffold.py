"""``smbyo init``: a working algorithm project the user can build at once (the decision-tree example)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.manifest import NAME_PATTERN
from sm_byo.render import PACKAGE_DIR, render_tree

PROJECT_TEMPLATES = PACKAGE_DIR / "templates" / "project"


def init_project(directory: Path, name: str | None = None) -> dict[str, Any]:
    """Create ``directory`` with smbyo.yaml, train.py, predictor.py, requirements.txt and data."""
    name = name or directory.resolve().name
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"--name {name!r} is not a valid SageMaker name (1-63 letters, digits and hyphens, "
            "starting and ending with a letter or digit)",
            hint="Pass --name with a valid name, e.g. --name my-algorithm.",
        )
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(
            f"{directory} already exists and is not empty; smbyo init never overwrites files",
            hint="Choose a new directory, or empty this one first.",
        )
    directory.mkdir(parents=True, exist_ok=True)
    render_tree(PROJECT_TEMPLATES, directory, {"name": name})
    files = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    return {"directory": str(directory.resolve()), "name": name, "files": files}
