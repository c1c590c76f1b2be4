"""Telling a predictor that called the network apart from its other failures, and saying so.

Buyers run a Marketplace model with network isolation: the container can make no network call at all, in
or out (https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html). A predictor that
downloads weights in ``load_model`` or calls an API in ``predict`` works on the seller's machine and fails
for every buyer with whatever its HTTP library raises. This module recognises such a failure in the
exception chain (a name that does not resolve, a network or host that cannot be reached, a refused or
timed-out connection) so the answer says what happened instead of a bare 500.

Which endpoint the code tried is learnt from Python's audit events (``socket.connect``,
``socket.getaddrinfo``: https://docs.python.org/3/library/audit_events.html), per thread, so it is known
whatever library opened the connection (urllib, requests, boto3) and whatever its error message says.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any

# The phrase every answer about a network call carries; smbyo's local checks look for it.
ISOLATION_PHRASE = "which buyers' containers cannot do (network isolation)"
NETWORK_CAUSE = "network"
ISOLATION_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html"
NETWORK_ERRNOS = frozenset(
    {
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.ECONNREFUSED,
        errno.ETIMEDOUT,
    }
)
_INET = (socket.AF_INET, socket.AF_INET6)
_attempts = threading.local()
_watching = threading.Lock()
_installed: list[bool] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Remember this thread's last outward connection attempt (cheap: it runs for every audit event)."""
    if event == "socket.connect":
        sock, address = args
        if getattr(sock, "family", None) in _INET and isinstance(address, tuple) and len(address) >= 2:
            _attempts.endpoint = f"{address[0]}:{address[1]}"
    elif event == "socket.getaddrinfo":
        _attempts.endpoint = f"{args[0]}:{args[1]}" if args[1] is not None else str(args[0])


def watch_connections() -> None:
    """Install the audit hook once per process (an audit hook cannot be removed; it only records)."""
    with _watching:
        if not _installed:
            sys.addaudithook(_audit)
            _installed.append(True)


def forget_attempts() -> None:
    """A new request: the endpoint a previous one tried is not this one's."""
    _attempts.endpoint = None


@dataclass(frozen=True)
class NetworkFailure:
    """A network call that failed: the endpoint tried (when known) and why, in a few words."""

    endpoint: str | None
    reason: str

    def describe(self, who: str) -> str:
        """``who`` (``the predictor``, ``load_model``) tried to open a network connection ..., which buyers cannot."""
        target = f" to {self.endpoint}" if self.endpoint else ""
        return (
            f"{who} tried to open a network connection{target} and it failed ({self.reason}), "
            f"{ISOLATION_PHRASE}: Marketplace runs them with no network access at all ({ISOLATION_DOC}). "
            "Put what the model needs in the image or the model artifact."
        )


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it was raised from or while handling, each once."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        pending.extend([current.__cause__, current.__context__])
    return seen


def network_failure(exc: BaseException) -> NetworkFailure | None:
    """The network failure behind ``exc``, or None when it is another kind of error."""
    endpoint = getattr(_attempts, "endpoint", None)
    for link in _chain(exc):
        if isinstance(link, socket.gaierror):
            return NetworkFailure(endpoint, f"name resolution failed: {link.strerror or link}")
        if isinstance(link, OSError) and link.errno in NETWORK_ERRNOS:
            return NetworkFailure(endpoint, os.strerror(link.errno))
        if isinstance(link, TimeoutError) and endpoint is not None:
            return NetworkFailure(endpoint, "the connection timed out")
    return None
