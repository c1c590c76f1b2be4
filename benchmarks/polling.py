"""How much smbyo's poller costs and how late it notices: a 10-minute training job on a simulated clock.

Run: ``python3 benchmarks/polling.py``. Prints the number of DescribeTrainingJob calls for a job that
ends at exactly 600 s, and the worst/mean delay between the job ending and smbyo noticing over job
lengths swept from 1 s to 20 min; side by side with fixed-interval polling (5 s: the SageMaker SDK
while streaming logs; 30 s) for comparison. No AWS, no sleeping: the clock only moves when the
poller sleeps.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sm_byo.polling import Backoff, Watch, poll
from sm_byo.reporting import RecordingReporter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def simulate(job_seconds: float, backoff: Backoff) -> tuple[int, float]:
    """(describe calls, seconds between the job ending and the poller seeing it)."""
    clock = Clock()

    def describe() -> Mapping[str, Any]:
        return {"TrainingJobStatus": "Completed" if clock.now >= job_seconds else "InProgress"}

    watch = Watch("training-job", "bench", describe, "TrainingJobStatus", frozenset({"Completed"}), frozenset())
    outcome = poll(watch, RecordingReporter(), clock=clock, sleep=clock.sleep, backoff=backoff)
    return outcome.polls, clock.now - job_seconds


def measure(name: str, backoff: Backoff) -> dict[str, Any]:
    calls_10_min, delay_10_min = simulate(600.0, backoff)
    delays = [simulate(t / 10, backoff)[1] for t in range(10, 12_001, 7)]
    return {
        "policy": name,
        "describe_calls_for_10_min_job": calls_10_min,
        "delay_for_10_min_job_s": round(delay_10_min, 2),
        "worst_delay_s": round(max(delays), 2),
        "mean_delay_s": round(sum(delays) / len(delays), 2),
    }


def main() -> None:
    default = Backoff()
    rows = [
        measure(f"smbyo backoff ({default.initial:g}s x{default.factor:g}, cap {default.cap:g}s)", default),
        measure("fixed 5 s", Backoff(initial=5, factor=1, cap=5)),
        measure("fixed 30 s", Backoff(initial=30, factor=1, cap=30)),
    ]
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
