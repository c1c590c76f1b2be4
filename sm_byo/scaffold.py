"""``smbyo init``: a working algorithm project the user can build at once (the decision-tree example)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.render import PACKAGE_DIR, file_in_the_way, render_tree
from sm_byo.rules import NAME_PATTERN, PLACEHOLDER_OUTPUT, PLACEHOLDER_ROLE

PROJECT_TEMPLATES = PACKAGE_DIR / "templates" / "project"
MODEL = "output/model.tar.gz"  # where `smbyo train --local` writes the model by default (--out output)


@dataclass(frozen=True)
class InitResult:
    """What was created; the terminal also shows the commands to run next (a new user's first question)."""

    directory: Path
    name: str
    files: list[str] = field(default_factory=list)
    given: Path | None = None  # the directory as the user typed it, for a `cd` they can copy

    def to_dict(self) -> dict[str, Any]:
        """The --json document (unchanged: scripts read these three keys)."""
        return {"directory": str(self.directory), "name": self.name, "files": self.files}

    def human_view(self) -> dict[str, Any]:
        return {**self.to_dict(), "next steps": next_steps(self.given or self.directory, self.name)}


def next_steps(directory: Path, name: str) -> list[str]:
    """The first hour, in order, as lines a user can paste whole (what each does is a shell comment).

    The same commands as the README's demo, with this project's paths: they match the scaffolded
    templates (channel ``training`` in smbyo.yaml, ``data/training``, ``data/transform``,
    ``payload.csv``), so every line works as printed.
    """
    steps = [
        (f"cd {shlex.quote(str(directory))}", ""),
        ("smbyo build", f"build the image {name}:latest"),
        ("smbyo train --local --data training=data/training", f"train in Docker -> {MODEL}"),
        (f"smbyo serve --local --model {MODEL}", "serve on :8080 until Ctrl-C"),
        ("smbyo invoke --local http://localhost:8080 --body payload.csv", "in a second terminal"),
        (f"smbyo transform --local --model {MODEL} --input data/transform --output predictions", ""),
        ("smbyo validate --local", "the manifest's validation profile, run locally"),
        ("smbyo doctor", "check Docker, AWS credentials and ECR"),
    ]
    width = max(len(command) for command, comment in steps if comment)
    return [f"{command:{width}}  # {comment}" if comment else command for command, comment in steps]


def _check_directory(directory: Path) -> None:
    """DIRECTORY must be a directory or not exist yet; a file there, or on the way there, is a usage error."""
    path = file_in_the_way(directory)
    if path is not None:
        where = "" if path == directory else f": {path} is on its path"
        raise UsageError(
            f"{directory} is not a directory{where} (an existing file); smbyo init creates a project directory",
            hint="Pass a new directory name, e.g. `smbyo init my-algorithm`.",
        )


def init_project(directory: Path, name: str | None = None) -> InitResult:
    """Create ``directory`` with smbyo.yaml, train.py, predictor.py, requirements.txt and data."""
    _check_directory(directory)
    name = name or directory.resolve().name
    if not NAME_PATTERN.fullmatch(name):
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
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create {directory}: {exc.strerror or exc}", hint="Choose a directory you can write to."
        ) from None
    # validation.role and .output are placeholders pre-flight refuses until the user puts in their own.
    context = {"name": name, "role": PLACEHOLDER_ROLE, "output": PLACEHOLDER_OUTPUT}
    render_tree(PROJECT_TEMPLATES, directory, context)
    files = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    return InitResult(directory=directory.resolve(), name=name, files=files, given=directory)
