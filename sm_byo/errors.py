"""One error hierarchy for smbyo.

Every failure a user can meet is a :class:`SmByoError` carrying the exit code of the CLI contract
(0 success, 1 work failed, 2 usage/manifest, 3 environment, 128 + N stopped by signal N: 130 for Ctrl-C,
143 for SIGTERM). The CLI turns these into a one-paragraph message at a single boundary; anything else is
a bug and is reported as such.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


class SmByoError(Exception):
    """Base of every user-facing error. ``hint`` tells the user what to do about it."""

    exit_code = 1
    title = "Error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        human_view: Mapping[str, Any] | None = None,
    ):
        """``human_view``: what a terminal shows instead of the message's listing (e.g. the checks as a
        table with ✓/✗); never part of the JSON document, whose shape scripts rely on."""
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: dict[str, Any] = details or {}
        self.human_view: Mapping[str, Any] | None = human_view

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of an error for ``--json`` output."""
        data: dict[str, Any] = {
            "error": type(self).__name__,
            "message": self.message,
            "exit_code": self.exit_code,
        }
        if self.hint:
            data["hint"] = self.hint
        if self.details:
            data["details"] = self.details
        return data


# --- exit code 1: the work ran and failed -------------------------------------------------------


class WorkFailed(SmByoError):
    """A build, job, check or entity ended in failure."""

    exit_code = 1
    title = "Failed"


class BuildFailed(WorkFailed):
    title = "Build failed"


class PushFailed(WorkFailed):
    title = "Push failed"


class JobFailed(WorkFailed):
    title = "Job failed"


class ChecksFailed(WorkFailed):
    title = "Checks failed"


class DeleteIncomplete(WorkFailed):
    """`smbyo delete` deleted some of what it listed; AWS refused the rest (``details``: which, and why)."""

    title = "Delete incomplete"


# --- exit code 2: usage or manifest -------------------------------------------------------------


class UsageError(SmByoError):
    """A bad flag, a missing file, an invalid value given by the user."""

    exit_code = 2
    title = "Usage error"


class ListingChecksFailed(UsageError):
    """A check AWS Marketplace applies to a listing fails before anything is sent (``smbyo publish listing``)."""

    title = "Not ready to list"


@dataclass(frozen=True)
class ManifestProblem:
    """One violation found in a manifest: where (file, line, field) and what."""

    path: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where} {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ManifestError(UsageError):
    """The manifest does not validate. Carries every problem found, not just the first."""

    def __init__(self, problems: list[ManifestProblem], *, hint: str | None = None):
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"The manifest has {count} {noun}:\n{lines}",
            hint=hint or "Fix the fields named above; `smbyo schema` prints the manifest's JSON Schema.",
            details={"problems": [asdict(p) for p in problems]},
        )

    title = "Invalid manifest"


# --- exit code 3: environment -------------------------------------------------------------------


class EnvironmentProblem(SmByoError):
    """Something outside the user's project is missing or unreachable."""

    exit_code = 3
    title = "Environment error"


class DockerUnavailable(EnvironmentProblem):
    title = "Docker is not reachable"


class AwsCredentialsError(EnvironmentProblem):
    title = "AWS credentials"


class AwsAccessError(EnvironmentProblem):
    title = "AWS access"


class RegistryAuthError(EnvironmentProblem):
    title = "Registry authentication"


# --- exit code 128 + N: interrupted by signal N ------------------------------------------------


class Interrupted(SmByoError):
    """Ctrl-C, or another stop signal (``sm_byo.signals``): the exit code is 128 + the signal's number
    (130 SIGINT, 143 SIGTERM, 129 SIGHUP). For cloud work, ``hint`` carries the command that resumes waiting."""

    exit_code = 130
    title = "Interrupted"

    def __init__(
        self,
        message: str,
        *,
        signum: int = signal.SIGINT,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message, hint=hint, details=details)
        self.signum = int(signum)
        self.exit_code = 128 + self.signum
