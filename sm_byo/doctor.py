"""``smbyo doctor``: is this machine ready to build, run and publish an algorithm?

A newcomer's first failures are rarely in their code: Docker is not running, no AWS credentials or
region are configured, the identity may not use ECR, the manifest has a typo. Each check below runs
even when an earlier one failed, so one run lists everything that is missing together with the fix,
instead of the user discovering the problems one command at a time.

Exit codes follow the CLI contract: 3 when the environment is incomplete (Docker, AWS credentials,
region, ECR access), 2 when only the manifest is invalid, 0 when every check passes.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from sm_byo.errors import EnvironmentProblem, SmByoError, UsageError
from sm_byo.reporting import Reporter

CheckState = Literal["ok", "missing", "skipped"]
DEFAULT_MANIFEST = Path("smbyo.yaml")
IDENTITY_REGION = "us-east-1"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's table: what was checked, what was found, how to fix it."""

    name: str
    state: CheckState
    found: str
    fix: str = ""
    kind: Literal["environment", "manifest"] = "environment"

    @property
    def failed(self) -> bool:
        return self.state == "missing"

    def row(self) -> dict[str, str]:
        """The checklist line: ✓/✗ (from the state), the check, what was found. The fix is not in it:
        the error's hint lists each fix once."""
        return {"state": self.state, "check": self.name, "found": self.found}


@dataclass
class DoctorReport:
    checks: list[Check]

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if check.failed]

    def to_dict(self) -> dict[str, Any]:
        """``{check name: "ok: what was found"}``: easy to query with jq (the --json document)."""
        return {check.name: f"{check.state}: {check.found}" for check in self.checks}

    def human_view(self) -> dict[str, Any]:
        """The checklist a terminal shows, one ✓/✗ line per check (the JSON shape cannot carry the marks)."""
        return {"checks": [check.row() for check in self.checks]}


class DoctorEnvironmentFailed(EnvironmentProblem):
    title = "smbyo doctor found problems"


class DoctorManifestFailed(UsageError):
    title = "smbyo doctor found problems"


def run_doctor(
    reporter: Reporter,
    *,
    manifest_path: Path | None = None,
    profile: str | None = None,
    region: str | None = None,
) -> DoctorReport:
    """Run every check and raise when any of them failed.

    The checks are shown once, as the result's checklist (or the error's); reporting them here as well
    printed every problem and its fix twice. Only the step is reported: the AWS checks can take seconds.
    """
    reporter.step("Checking Docker, AWS credentials and region, ECR access and the manifest")
    manifest_check, repository = check_manifest(manifest_path)
    region_check, credentials_check, ecr_check = check_aws(profile, region, repository)
    checks = [check_docker(), credentials_check, region_check, ecr_check, manifest_check]
    report = DoctorReport(checks)
    raise_for_failures(report)
    return report


def raise_for_failures(report: DoctorReport) -> None:
    """Exit 3 when the environment is incomplete, 2 when only the manifest is wrong."""
    failures = report.failures
    if not failures:
        return
    total = len(report.checks)
    lines = "\n".join(f"  {check.name}: {check.found}" for check in failures)
    message = f"{len(failures)} of {total} checks failed:\n{lines}"
    hint = "".join(f"\n  {check.name}: {check.fix}" for check in failures if check.fix)
    details = {"checks": [asdict(check) for check in report.checks]}
    error = DoctorEnvironmentFailed if any(check.kind == "environment" for check in failures) else DoctorManifestFailed
    raise error(message, hint=hint, details=details, human_view=report.human_view())


# --- the checks -----------------------------------------------------------------------------------


def check_docker() -> Check:
    """A ping and the engine's version, through the Docker adapter (DOCKER_HOST is honoured)."""
    from sm_byo.docker import connect

    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        adapter = connect(timeout=10)
        version = adapter.engine_version()
    except SmByoError as exc:
        return Check("docker", "missing", exc.message, exc.hint or "")
    return Check("docker", "ok", f"Docker Engine {version['version']} (API {version['api_version']}) at {where}")


def check_aws(profile: str | None, region: str | None, repository: str | None) -> tuple[Check, Check, Check]:
    """Region, credentials (sts:GetCallerIdentity) and ECR access, each reported on its own line."""
    from sm_byo.aws import connect

    try:
        aws = connect(profile, region)
    except SmByoError as exc:
        skipped = Check("ecr access", "skipped", "needs working AWS credentials")
        return Check("aws region", "skipped", "needs a usable AWS profile"), _failed("aws credentials", exc), skipped
    region_check = _region_check(aws)
    identity_aws = aws if region_check.state == "ok" else connect(profile, IDENTITY_REGION)
    try:
        account = identity_aws.account_id
    except SmByoError as exc:
        skipped = Check("ecr access", "skipped", "needs working AWS credentials")
        return region_check, _failed("aws credentials", exc), skipped
    credentials_check = Check("aws credentials", "ok", f"account {account}{_profile_note(profile)}")
    if region_check.state != "ok":
        return region_check, credentials_check, Check("ecr access", "skipped", "needs an AWS region")
    return region_check, credentials_check, _ecr_check(aws, repository)


def _region_check(aws: Any) -> Check:
    try:
        return Check("aws region", "ok", str(aws.region))
    except SmByoError as exc:
        return _failed("aws region", exc)


def _ecr_check(aws: Any, repository: str | None) -> Check:
    """GetAuthorizationToken (what `smbyo push` logs in with) and, with a manifest, the repository."""
    try:
        auth = aws.registry_auth()
        if repository is None:
            return Check("ecr access", "ok", f"registry {auth.registry} (no manifest: repository not checked)")
        existing = aws.describe_repository(repository)
    except SmByoError as exc:
        return _failed("ecr access", exc)
    state = "exists" if existing else "does not exist yet; `smbyo push` creates it"
    return Check("ecr access", "ok", f"registry {auth.registry}, repository {repository!r} {state}")


def check_manifest(manifest_path: Path | None) -> tuple[Check, str | None]:
    """Validate the manifest (explicit -f, else ./smbyo.yaml when present); returns its ECR repository too."""
    from sm_byo.errors import ManifestError
    from sm_byo.manifest import load_manifest

    path = manifest_path or DEFAULT_MANIFEST
    if manifest_path is None and not path.is_file():
        found = "no smbyo.yaml in this directory"
        return Check("manifest", "skipped", f"{found} (run doctor in your project or pass -f PATH)"), None
    try:
        loaded = load_manifest(path)
    except ManifestError as exc:
        problems = "; ".join(str(problem) for problem in exc.problems)
        return Check("manifest", "missing", problems, exc.hint or "", kind="manifest"), None
    manifest = loaded.manifest
    repository = manifest.ecr.repository or manifest.name
    return Check("manifest", "ok", f"{path} is valid (algorithm {manifest.name!r})", kind="manifest"), repository


def _failed(name: str, exc: SmByoError) -> Check:
    return Check(name, "missing", exc.message, exc.hint or "")


def _profile_note(profile: str | None) -> str:
    return f" (profile {profile})" if profile else ""
