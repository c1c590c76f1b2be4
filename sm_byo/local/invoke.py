"""``smbyo invoke --local URL``: one POST to a running container's /invocations.

Errors say which side is wrong: an answer >= 400 is the container refusing the request (exit 1,
with its JSON error message); no answer at all means no server is listening (exit 3). A body over
SageMaker's real-time limit (6 MB) is refused before anything is sent (exit 2), as SageMaker refuses it in
front of an endpoint's container.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import requests

from sm_byo.errors import EnvironmentProblem, WorkFailed
from sm_byo.local.serving import container_error
from sm_byo.specs.hosting import check_realtime_body

INVOKE_TIMEOUT_SECONDS = 70


@dataclass
class InvokeResponse:
    status: int
    content_type: str
    body: bytes

    def to_dict(self) -> dict[str, Any]:
        try:
            text: str | None = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        data: dict[str, Any] = {"status": self.status, "content_type": self.content_type}
        if text is None:
            data["body_base64"] = base64.b64encode(self.body).decode("ascii")
        else:
            data["body"] = text
        return data


def invoke_url(
    url: str,
    body: bytes,
    *,
    content_type: str = "text/csv",
    accept: str | None = None,
    custom_attributes: str | None = None,
    timeout: float = INVOKE_TIMEOUT_SECONDS,
) -> InvokeResponse:
    """POST ``body`` to ``URL/invocations`` and return the answer; raise on an error answer."""
    base = url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        base = f"http://{base}"
    target = base if base.endswith("/invocations") else f"{base}/invocations"
    check_realtime_body(body, target)
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    if custom_attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
    try:
        response = requests.post(target, data=body, headers=headers, timeout=timeout)
    except requests.ConnectionError as exc:
        raise EnvironmentProblem(
            f"nothing answered at {target}: the model server is not running ({type(exc).__name__})",
            hint="Start it with `smbyo serve --local --model output/model.tar.gz` (in another terminal) "
            "and pass the URL it prints.",
        ) from exc
    except requests.Timeout as exc:
        raise WorkFailed(
            f"{target} did not answer within {timeout:.0f} s",
            hint="The predict code may be too slow for one request; send fewer rows per request.",
        ) from exc
    if response.status_code >= 400:
        raise WorkFailed(
            f"the container refused the request: HTTP {response.status_code}: {container_error(response)}",
            hint="The container's body limit (SAGEMAKER_MAX_PAYLOAD_IN_MB, 6 MB when unset) is below this "
            "request: send fewer rows per request, or use `smbyo transform` (it splits the input into requests "
            "under the limit)."
            if response.status_code == 413
            else "Fix the request body or the Content-Type/Accept headers as the message says.",
            details={"status": response.status_code, "url": target},
        )
    return InvokeResponse(
        status=response.status_code,
        content_type=response.headers.get("Content-Type", ""),
        body=response.content,
    )
