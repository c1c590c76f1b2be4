"""One polling loop for everything that runs on AWS: jobs, endpoints, algorithms, model packages.

A :class:`Watch` says how to describe the thing and how to read its status; :func:`poll` calls it
with exponential backoff (capped, so a finished job is noticed within ``Backoff.cap`` seconds),
reports status changes with the elapsed time, retries throttling and network errors instead of
abandoning a job that is still running, honours a timeout, and turns Ctrl-C (or SIGTERM, SIGHUP:
``sm_byo.signals``) into :class:`Interrupted` whose hint is the ``smbyo wait KIND NAME`` command that
resumes. The clock and
sleep are injectable so tests and ``benchmarks/polling.py`` run hours of polling in milliseconds.
This module imports no boto3: the describe callable comes from the AWS adapter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sm_byo import signals
from sm_byo.aws.errors import AwsUnreachable, TransientAwsError
from sm_byo.errors import Interrupted, JobFailed, WorkFailed
from sm_byo.reporting import Reporter

Describe = Callable[[], Mapping[str, Any]]


@dataclass(frozen=True)
class Backoff:
    """Delays between polls: ``initial``, growing by ``factor``, never above ``cap`` seconds."""

    initial: float = 2.0
    factor: float = 1.5
    cap: float = 15.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield min(delay, self.cap)
            delay = min(delay * self.factor, self.cap)


@dataclass(frozen=True)
class Watch:
    """What to poll: a describe call and where its answer keeps the status.

    ``kind`` is the CLI's word for it (``training-job``, ``endpoint``...) so that the resume command
    can be printed; ``succeeded``/``failed`` are the terminal statuses.
    """

    kind: str
    name: str
    describe: Describe
    status_key: str
    succeeded: frozenset[str]
    failed: frozenset[str]
    secondary_key: str | None = None
    reason_key: str = "FailureReason"
    resume_flags: str = ""

    @property
    def terminal(self) -> frozenset[str]:
        return self.succeeded | self.failed

    @property
    def resume_command(self) -> str:
        return f"smbyo wait {self.kind} {self.name}{self.resume_flags}"

    def status_of(self, description: Mapping[str, Any]) -> str:
        return str(description.get(self.status_key, "Unknown"))

    def secondary_of(self, description: Mapping[str, Any]) -> str | None:
        if self.secondary_key is None:
            return None
        value = description.get(self.secondary_key)
        return str(value) if value else None


@dataclass
class PollOutcome:
    """The last description seen, its status, how long it took and how many describe calls it cost."""

    watch: Watch
    status: str
    description: Mapping[str, Any]
    elapsed_seconds: float
    polls: int
    transient_errors: int = 0
    history: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status in self.watch.succeeded

    @property
    def failure_reason(self) -> str | None:
        reason = self.description.get(self.watch.reason_key)
        return str(reason) if reason else None

    def raise_if_failed(self) -> None:
        """JobFailed (exit 1) carrying AWS's FailureReason when the thing ended in a failed state."""
        if self.status in self.watch.failed:
            reason = self.failure_reason or "AWS gave no reason"
            raise JobFailed(
                f"{self.watch.kind} {self.watch.name} ended {self.status}: {reason}",
                hint=_failure_hint(self.watch.kind),
                details={"name": self.watch.name, "status": self.status, "failure_reason": self.failure_reason},
            )


class PollTimeout(WorkFailed):
    """--timeout passed before a terminal state; the work continues on AWS."""

    title = "Timed out waiting"


def _failure_hint(kind: str) -> str:
    if kind in ("training-job", "transform-job"):
        return "Read the job's log above (or in CloudWatch) for the cause, fix it, and run the job again."
    if kind == "tuning-job":
        return "Each trial's failure reason is in the table above; fix the cause and tune again."
    if kind == "endpoint":
        return "The container did not become healthy: check its CloudWatch log, test it with `smbyo serve --local`."
    return "Fix the cause AWS reports and submit again."


def poll(
    watch: Watch,
    reporter: Reporter,
    *,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
    on_tick: Callable[[Mapping[str, Any]], object] | None = None,
    max_consecutive_errors: int = 10,
) -> PollOutcome:
    """Describe ``watch`` until a terminal status; ``on_tick`` runs after every describe (log streaming)."""
    started = clock()
    delays = (backoff or Backoff()).delays()
    polls = errors = consecutive = 0
    history: list[str] = []
    subject = f"{watch.kind} {watch.name}"
    try:
        while True:
            try:
                description = watch.describe()
                consecutive = 0
            except (TransientAwsError, AwsUnreachable) as exc:
                errors += 1
                consecutive += 1
                if consecutive > max_consecutive_errors:
                    raise
                reporter.warn(f"{exc.message}; retrying (the {watch.kind} keeps running)")
                description = None
            polls += 1
            elapsed = clock() - started
            if description is not None:
                shown = _shown_status(watch, description)
                if not history or history[-1] != shown:
                    history.append(shown)
                reporter.status(subject, shown, elapsed)
                if on_tick is not None:
                    on_tick(description)
                status = watch.status_of(description)
                if status in watch.terminal:
                    return PollOutcome(watch, status, description, elapsed, polls, errors, history)
            delay = next(delays)
            if timeout is not None:
                if elapsed >= timeout:
                    last = history[-1] if history else "unknown"
                    raise PollTimeout(
                        f"{subject} is not finished after {timeout:g}s (last status: {last})",
                        hint=f"It keeps running on AWS. Resume waiting with `{watch.resume_command}`.",
                    )
                delay = min(delay, timeout - elapsed)  # one last look exactly at the deadline
            sleep(delay)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (sm_byo.signals): the same, 128 + the signal
        signum = signals.signum_of(exc)
        raise Interrupted(
            f"stopped waiting for {subject} ({signals.describe(signum)}); it keeps running on AWS",
            signum=signum,
            hint=f"Resume waiting with `{watch.resume_command}`.",
            details={"kind": watch.kind, "name": watch.name, "resume": watch.resume_command},
        ) from None


def _shown_status(watch: Watch, description: Mapping[str, Any]) -> str:
    status, secondary = watch.status_of(description), watch.secondary_of(description)
    return f"{status} / {secondary}" if secondary and secondary != status else status
