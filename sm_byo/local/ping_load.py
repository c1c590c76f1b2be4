"""/ping latency while /invocations runs at saturation: what SageMaker's health check meets under load.

SageMaker keeps pinging a serving container for as long as it runs, and "the request timeout on /ping
attempts is 2 seconds" (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html#your-algorithms-inference-algo-ping-requests).
A server whose /ping waits behind busy prediction workers answers quickly when idle and fails the health
check exactly when the endpoint is busiest. :func:`measure_ping_under_load` measures that: ``concurrency``
client threads POST a body to /invocations back to back (keep-alive connections, a new request as soon as
the last is answered) while one more thread GETs /ping on a fresh connection every ``interval`` seconds
and records how long each answer took. ``validate --local`` and ``benchmarks/ping_under_load.py`` both
use it.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field

from sm_byo.local.health import PING_TIMEOUT_SECONDS
from sm_byo.local.http import ContainerClient, NoAnswer

# How long the measuring client waits for one /ping: longer than SageMaker's 2 s, so that a slow answer
# is measured (and reported) instead of only counted as a timeout.
PING_CLIENT_TIMEOUT_SECONDS = 10.0
INVOKE_CLIENT_TIMEOUT_SECONDS = 120.0


def default_concurrency() -> int:
    """Requests in flight for "saturation": twice the CPUs (the container sees the host's CPUs, and runs
    one prediction worker per CPU by default), so every worker always has the next request waiting."""
    return 2 * (os.cpu_count() or 1)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.5 for p50); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class PingUnderLoad:
    """Every /ping latency measured while the load ran, and what the load itself did."""

    seconds: float
    concurrency: int
    body_bytes: int
    ping_seconds: list[float] = field(default_factory=list)
    ping_failures: list[str] = field(default_factory=list)
    invocations_ok: int = 0
    invocation_errors: dict[str, int] = field(default_factory=dict)

    @property
    def p50(self) -> float:
        return percentile(self.ping_seconds, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.ping_seconds, 0.99)

    @property
    def max(self) -> float:
        return max(self.ping_seconds) if self.ping_seconds else math.nan

    def slow(self, limit: float = PING_TIMEOUT_SECONDS) -> int:
        return sum(1 for value in self.ping_seconds if value > limit)

    def passed(self, limit: float = PING_TIMEOUT_SECONDS) -> bool:
        """Every /ping answered 200 within ``limit`` (and there was at least one)."""
        return bool(self.ping_seconds) and not self.ping_failures and self.slow(limit) == 0

    @property
    def invocations_per_second(self) -> float:
        return self.invocations_ok / self.seconds if self.seconds > 0 else 0.0

    def summary(self, limit: float = PING_TIMEOUT_SECONDS) -> str:
        pings = len(self.ping_seconds) + sum(1 for failure in self.ping_failures if failure.startswith("no answer"))
        text = (
            f"{pings} /ping while {self.concurrency} clients kept /invocations busy for {self.seconds:.1f} s "
            f"({self.invocations_ok} answered 2xx, {self.invocations_per_second:.0f}/s, {self.body_bytes} bytes "
            f"each): p50 {self.p50 * 1000:.1f} ms, p99 {self.p99 * 1000:.1f} ms, max {self.max * 1000:.1f} ms; "
            f"{self.slow(limit)} over {limit:g} s, {len(self.ping_failures)} failed"
        )
        if self.ping_failures:
            text += f" ({'; '.join(self.ping_failures[:3])})"
        if self.invocation_errors:
            errors = ", ".join(f"{count} {kind}" for kind, count in sorted(self.invocation_errors.items()))
            text += f"; /invocations errors: {errors}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "pings": len(self.ping_seconds),
            "p50_ms": round(self.p50 * 1000, 2),
            "p99_ms": round(self.p99 * 1000, 2),
            "max_ms": round(self.max * 1000, 2),
            "ping_failures": self.ping_failures,
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 2),
            "invocations_ok": self.invocations_ok,
            "invocations_per_second": round(self.invocations_per_second, 1),
            "invocation_errors": self.invocation_errors,
        }


def _invoke_loop(
    client: ContainerClient, body: bytes, content_type: str, accept: str | None, stop: threading.Event,
    result: PingUnderLoad, lock: threading.Lock,
) -> None:  # fmt: skip
    while not stop.is_set():
        try:
            answer = client.invoke(
                body, content_type=content_type, accept=accept, timeout=INVOKE_CLIENT_TIMEOUT_SECONDS
            )
            outcome = "" if answer.ok else f"HTTP {answer.status}"
        except NoAnswer as exc:
            outcome = "timeout" if exc.timed_out else "no answer"
        with lock:
            if outcome:
                result.invocation_errors[outcome] = result.invocation_errors.get(outcome, 0) + 1
            else:
                result.invocations_ok += 1
    client.close()


def _ping_once(client: ContainerClient) -> tuple[float, int | None, str]:
    """(seconds, HTTP status or None, error) of one GET /ping on a new connection, as a health checker sends it."""
    began = time.perf_counter()
    try:
        answer = client.ping(PING_CLIENT_TIMEOUT_SECONDS, fresh=True)
    except NoAnswer as exc:
        return time.perf_counter() - began, None, str(exc)
    return answer.seconds, answer.status, ""


def measure_ping_under_load(
    url: str,
    body: bytes,
    *,
    content_type: str,
    accept: str | None = None,
    seconds: float = 5.0,
    concurrency: int | None = None,
    interval: float = 0.05,
) -> PingUnderLoad:
    """Keep ``concurrency`` POSTs of ``body`` in flight against ``url``/invocations for ``seconds`` and
    measure /ping every ``interval`` seconds meanwhile. ``url`` is ``http://HOST:PORT``."""
    client = ContainerClient(url)
    clients = concurrency or default_concurrency()
    result = PingUnderLoad(seconds=seconds, concurrency=clients, body_bytes=len(body))
    stop, lock = threading.Event(), threading.Lock()
    threads = [
        threading.Thread(
            target=_invoke_loop,
            args=(client, body, content_type, accept, stop, result, lock),
            name=f"load-{i}",
            daemon=True,
        )
        for i in range(clients)
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        end = began + seconds
        while time.monotonic() < end:
            took, status, error = _ping_once(client)
            if status is None:
                result.ping_failures.append(f"no answer after {took:.2f} s ({error})")
            else:
                result.ping_seconds.append(took)
                if status != 200:
                    result.ping_failures.append(f"HTTP {status} after {took:.2f} s")
            time.sleep(max(0.0, interval - took))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=INVOKE_CLIENT_TIMEOUT_SECONDS)
    result.seconds = time.monotonic() - began
    return result
