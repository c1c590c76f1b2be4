"""The one HTTP client smbyo uses to talk to a serving container: /ping, /execution-parameters, /invocations.

Every local command that reaches a container (serve's health watch, transform, invoke, validate and its
load test) goes through :class:`ContainerClient`, so the headers SageMaker sends, the timeouts and the
way a container's error answer is read are decided once. Each thread gets its own keep-alive session
(``requests.Session`` is not thread-safe), as each of SageMaker's transform workers has its own connection.
The routes: https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
EXECUTION_PARAMETERS_TIMEOUT_SECONDS = 5.0


class NoAnswer(Exception):
    """Nothing answered (connection refused or reset), or not within the timeout (``timed_out``)."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class Answer:
    """One HTTP answer of the container, and how long it took."""

    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    def error(self, limit: int = 1000) -> str:
        """The message of a 4xx/5xx: the container's JSON ``error``, else the start of the body."""
        try:
            payload = self.json()
            if isinstance(payload, dict) and payload.get("error"):
                return str(payload["error"])
        except ValueError:
            pass
        return self.body.decode("utf-8", errors="replace").strip()[:limit] or f"HTTP {self.status}"


def base_url(url: str) -> str:
    """``localhost:8080/invocations`` -> ``http://localhost:8080`` (what the routes are appended to)."""
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        base = f"http://{base}"
    for route in ("/invocations", "/ping", "/execution-parameters"):
        base = base.removesuffix(route)
    return base


class ContainerClient:
    """HTTP to one serving container at ``url`` (``http://HOST:PORT``)."""

    def __init__(self, url: str):
        self.url = base_url(url)
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _call(self, method: str, route: str, *, timeout: float, fresh: bool = False, **options: Any) -> Answer:
        began = time.perf_counter()
        try:
            if fresh:  # a new connection, as a health checker opens one per check
                response = requests.request(method, f"{self.url}{route}", timeout=timeout, **options)
            else:
                response = self._session().request(method, f"{self.url}{route}", timeout=timeout, **options)
        except requests.Timeout as exc:
            raise NoAnswer(f"no answer within {timeout:g} s", timed_out=True) from exc
        except requests.RequestException as exc:
            raise NoAnswer(f"{type(exc).__name__}: {exc}") from exc
        return Answer(
            response.status_code,
            {key.lower(): value for key, value in response.headers.items()},
            response.content,
            time.perf_counter() - began,
        )

    def ping(self, timeout: float, *, fresh: bool = False) -> Answer:
        return self._call("GET", "/ping", timeout=timeout, fresh=fresh)

    def execution_parameters(self) -> dict[str, Any]:
        """The container's batch preferences; {} when it has none to give (SageMaker's defaults apply)."""
        try:
            answer = self._call("GET", "/execution-parameters", timeout=EXECUTION_PARAMETERS_TIMEOUT_SECONDS)
            payload = answer.json() if answer.status == 200 else None
        except (NoAnswer, ValueError):
            return {}
        return dict(payload) if isinstance(payload, dict) else {}

    def invoke(
        self,
        body: bytes,
        *,
        content_type: str,
        accept: str | None = None,
        custom_attributes: str | None = None,
        timeout: float,
    ) -> Answer:
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        if custom_attributes:
            headers[CUSTOM_ATTRIBUTES_HEADER] = custom_attributes
        return self._call("POST", "/invocations", timeout=timeout, data=body, headers=headers)

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None
