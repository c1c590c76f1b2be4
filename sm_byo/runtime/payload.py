"""How large a request body the container accepts: one rule, used by nginx, Flask and /execution-parameters.

SageMaker's two limits:

* Real-time endpoints: InvokeEndpoint's ``Body`` is at most 6 MB, 6,291,456 bytes
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html; botocore's
  model gives the same maximum). SageMaker enforces it in front of the container; no variable tells the
  container about it.
* Batch transform: the job's ``MaxPayloadInMB`` (0-100, default 6; 0 means "no limit", the body then
  arriving with HTTP chunked encoding) is the largest body sent per request
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html). It reaches the
  container as ``SAGEMAKER_MAX_PAYLOAD_IN_MB`` when the job sets it; when the job does not, the variable is
  not passed and SageMaker uses the container's ``/execution-parameters`` or its default of 6
  (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html).

So the container accepts ``SAGEMAKER_MAX_PAYLOAD_IN_MB`` MB when that variable is set (0: no limit) and the
real-time 6 MB when it is not (or is empty). Any other value (not a whole number, or outside 0-100, the range
CreateTransformJob accepts) is a mistake of whoever set it: :func:`payload_limit` raises
:class:`PayloadLimitError` and ``serve`` refuses to start with that message, rather than guess a limit.

This module is also imported on the host (``sm_byo.runtime.payload``): the 6 MB constant lives here only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

MB = 1024 * 1024
# InvokeEndpoint's Body maximum (API_runtime_InvokeEndpoint.html): 6 MB = 6,291,456 bytes.
REALTIME_MAX_PAYLOAD_MB = 6
REALTIME_MAX_PAYLOAD_BYTES = REALTIME_MAX_PAYLOAD_MB * MB
# CreateTransformJob MaxPayloadInMB: "The default value is 6 MB", "cannot be greater than 100 MB".
TRANSFORM_DEFAULT_MAX_PAYLOAD_MB = REALTIME_MAX_PAYLOAD_MB
TRANSFORM_MAX_PAYLOAD_MB = 100
PAYLOAD_VARIABLE = "SAGEMAKER_MAX_PAYLOAD_IN_MB"


class PayloadLimitError(ValueError):
    """SAGEMAKER_MAX_PAYLOAD_IN_MB holds something that is not a payload size SageMaker would send."""


@dataclass(frozen=True)
class PayloadLimit:
    """The container's body limit: ``megabytes`` MB, 0 meaning no limit."""

    megabytes: int
    source: str

    @property
    def max_bytes(self) -> int | None:
        """The largest body accepted, in bytes; None: no limit."""
        return self.megabytes * MB if self.megabytes else None

    def allows(self, size: int) -> bool:
        return self.max_bytes is None or size <= self.max_bytes

    def describe(self) -> str:
        if self.max_bytes is None:
            return f"no limit ({self.source})"
        return f"{self.max_bytes} bytes ({self.megabytes} MB, {self.source})"


def payload_limit(environ: Mapping[str, str] | None = None) -> PayloadLimit:
    """The body limit for this container start, from ``SAGEMAKER_MAX_PAYLOAD_IN_MB`` (see the module doc)."""
    env = os.environ if environ is None else environ
    raw = env.get(PAYLOAD_VARIABLE, "").strip()
    if not raw:
        return PayloadLimit(REALTIME_MAX_PAYLOAD_MB, f"{PAYLOAD_VARIABLE} not set: the real-time limit")
    try:
        megabytes = int(raw, 10)
    except ValueError:
        megabytes = -1
    if not 0 <= megabytes <= TRANSFORM_MAX_PAYLOAD_MB:
        raise PayloadLimitError(
            f"{PAYLOAD_VARIABLE}={env[PAYLOAD_VARIABLE]!r} is not a payload size: SageMaker sets it to the "
            f"transform job's MaxPayloadInMB, a whole number of MB from 0 (no limit) to {TRANSFORM_MAX_PAYLOAD_MB}; "
            f"unset it for a real-time endpoint ({REALTIME_MAX_PAYLOAD_MB} MB)"
        )
    return PayloadLimit(megabytes, f"{PAYLOAD_VARIABLE}={megabytes}")


def nginx_directives(limit: PayloadLimit) -> str:
    """nginx's part of the limit, for the per-start server config (server context).

    ``client_max_body_size 0`` is nginx's "no limit". Bodies up to the limit are kept in memory
    (``client_body_buffer_size``; nginx allocates only what a body with a Content-Length needs); without a
    limit, bodies over 6 MB (and chunked ones, for which nginx allocates the whole buffer) go to a temp file.
    """
    max_bytes = limit.max_bytes
    message = (
        f"request body is larger than {max_bytes} bytes ({limit.megabytes} MB)"
        if max_bytes is not None
        else "request body is too large"
    )
    return (
        f"client_max_body_size {max_bytes or 0};\n"
        f"client_body_buffer_size {max_bytes or REALTIME_MAX_PAYLOAD_BYTES};\n"
        "error_page 413 @too_large;\n"
        "location @too_large {\n"
        "  default_type application/json;\n"
        f'  return 413 \'{{"error": "{message}", "status": 413}}\';\n'
        "}\n"
    )
