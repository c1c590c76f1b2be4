"""Follow a job's CloudWatch logs while it runs: every instance's stream, no duplicates, no gaps.

Each stream is read forward with GetLogEvents' ``nextForwardToken``; the token of the last page is
kept per stream, so the next round starts exactly after the last event shown (no duplicates) and
reads page after page until the token stops moving (no gaps). New streams (another instance, a
restarted container) are discovered on every round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sm_byo.reporting import Reporter

TRAINING_GROUP = "/aws/sagemaker/TrainingJobs"
TRANSFORM_GROUP = "/aws/sagemaker/TransformJobs"
ENDPOINT_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
MAX_PAGES_PER_ROUND = 100


class LogSource(Protocol):
    def log_streams(self, group: str, prefix: str) -> list[str]: ...

    def log_events(self, group: str, stream: str, token: str | None) -> tuple[list[dict[str, object]], str | None]: ...


@dataclass
class LogFollower:
    """Reads new log lines of every stream of ``group`` whose name starts with ``prefix``."""

    source: LogSource
    group: str
    prefix: str
    reporter: Reporter
    tokens: dict[str, str | None] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def poll(self) -> int:
        """Show everything new since the last round; returns how many lines were shown."""
        shown = 0
        for stream in sorted(self.source.log_streams(self.group, self.prefix)):
            self.tokens.setdefault(stream, None)
            shown += self._drain(stream)
        return shown

    def _drain(self, stream: str) -> int:
        shown = 0
        label = _label(stream, self.prefix)
        for _ in range(MAX_PAGES_PER_ROUND):
            token = self.tokens[stream]
            events, next_token = self.source.log_events(self.group, stream, token)
            for event in events:
                message = str(event.get("message", "")).rstrip("\n")
                self.lines.append(message)
                self.reporter.log(label, message)
                shown += 1
            if next_token is not None:
                self.tokens[stream] = next_token
            if not events or next_token is None or next_token == token:
                break
        return shown


def _label(stream: str, prefix: str) -> str:
    """``job/algo-1-1700000000`` -> ``algo-1-1700000000`` (the instance is what tells streams apart)."""
    return stream[len(prefix) :].lstrip("/") or stream


def training_logs(source: LogSource, job_name: str, reporter: Reporter) -> LogFollower:
    return LogFollower(source, TRAINING_GROUP, f"{job_name}/", reporter)


def transform_logs(source: LogSource, job_name: str, reporter: Reporter) -> LogFollower:
    return LogFollower(source, TRANSFORM_GROUP, f"{job_name}/", reporter)


def endpoint_logs(source: LogSource, endpoint_name: str, reporter: Reporter) -> LogFollower:
    return LogFollower(source, ENDPOINT_GROUP_PREFIX + endpoint_name, "", reporter)
