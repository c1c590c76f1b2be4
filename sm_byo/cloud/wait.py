"""``smbyo wait KIND NAME``: resume following something already submitted, until a terminal state.

Jobs and endpoints are followed by :mod:`sm_byo.cloud.waiting`; algorithms and model packages by
:mod:`sm_byo.cloud.publish`, which also shows their validation and image-scan details; tuning jobs by
:mod:`sm_byo.cloud.tuning`, with the table of trials and the result ``smbyo tune`` shows. All go
through the same poller. This command module sits above both, so neither imports the other.
"""

from __future__ import annotations

from typing import Any

from sm_byo.aws import AwsAdapter
from sm_byo.cloud.listing import wait_for_change_set
from sm_byo.cloud.publish import wait_for_algorithm, wait_for_model_package
from sm_byo.cloud.session import open_aws, resume_flags
from sm_byo.cloud.tuning import wait_for_tuning_job
from sm_byo.cloud.waiting import follow, summary
from sm_byo.reporting import Reporter


def wait_for(
    kind: str,
    name: str,
    reporter: Reporter,
    *,
    logs: bool = True,
    timeout: float | None = None,
    profile: str | None = None,
    region: str | None = None,
    aws: AwsAdapter | None = None,
) -> dict[str, Any]:
    """``smbyo wait KIND NAME``: poll to the end; Failed/Stopped raise JobFailed (exit 1).

    Algorithms and model packages show their validation and image-scan details as they change; a tuning
    job its trials (it streams no log: ``logs`` is for the other kinds).
    """
    if kind in ("algorithm", "model-package"):
        return _wait_for_listing(kind, name, reporter, timeout=timeout, profile=profile, region=region, aws=aws)
    if kind == "change-set":  # an AWS Marketplace change set (`smbyo publish listing --no-wait`)
        waited = wait_for_change_set(name, reporter, timeout=timeout, profile=profile, region=region, aws=aws)
        return waited.to_dict()
    if kind == "tuning-job":
        tuned = wait_for_tuning_job(name, reporter, timeout=timeout, profile=profile, region=region, aws=aws)
        return tuned.to_dict()
    adapter = open_aws(profile, region, aws)
    reporter.step(f"Waiting for {kind} {name}")
    followed = follow(adapter, kind, name, reporter, logs=logs, timeout=timeout, flags=resume_flags(profile, region))
    followed.outcome.raise_if_failed()
    return summary(followed.outcome)


def _wait_for_listing(
    kind: str,
    name: str,
    reporter: Reporter,
    *,
    timeout: float | None,
    profile: str | None,
    region: str | None,
    aws: AwsAdapter | None,
) -> dict[str, Any]:
    follow_listing = wait_for_algorithm if kind == "algorithm" else wait_for_model_package
    result = follow_listing(name, reporter, timeout=timeout, profile=profile, region=region, aws=aws)
    return result.to_dict()
