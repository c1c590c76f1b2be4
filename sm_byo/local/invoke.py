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

from sm_byo.errors import EnvironmentProblem, WorkFailed
from sm_byo.local.http import ContainerClient, NoAnswer
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
    client = ContainerClient(url)
    target = f"{client.url}/invocations"
    check_realtime_body(body, target)
    try:
        answer = client.invoke(
            body, content_type=content_type, accept=accept, custom_attributes=custom_attributes, timeout=timeout
        )
    except NoAnswer as exc:
        if exc.timed_out:
            raise WorkFailed(
                f"{target} did not answer within {timeout:.0f} s",
                hint="The predict code may be too slow for one request; send fewer rows per request.",
            ) from exc
        raise EnvironmentProblem(
            f"nothing answered at {target}: the model server is not running ({exc})",
            hint="Start it with `smbyo serve --local --model output/model.tar.gz` (in another terminal) "
            "and pass the URL it prints.",
        ) from exc
    finally:
        client.close()
    if answer.status >= 400:
        raise WorkFailed(
            f"the container refused the request: HTTP {answer.status}: {answer.error()}",
            hint="The container's body limit (SAGEMAKER_MAX_PAYLOAD_IN_MB, 6 MB when unset) is below this "
            "request: send fewer rows per request, or use `smbyo transform` (it splits the input into requests "
            "under the limit)."
            if answer.status == 413
            else "Fix the request body or the Content-Type/Accept headers as the message says.",
            details={"status": answer.status, "url": target},
        )
    return InvokeResponse(status=answer.status, content_type=answer.content_type, body=answer.body)
