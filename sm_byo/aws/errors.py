"""botocore exceptions -> smbyo errors, in one place.

Every AWS call goes through :func:`translated`, so a user never sees a botocore traceback: missing
credentials and refused permissions are environment errors (exit 3) that say how to fix them, an
unreachable endpoint is an environment error, a request AWS rejects is a usage error (exit 2), and
throttling or server errors that outlast botocore's own retries become :class:`TransientAwsError`,
which the poller retries instead of giving up on a job that is still running.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sm_byo.errors import AwsAccessError, AwsCredentialsError, EnvironmentProblem, UsageError, WorkFailed

CREDENTIALS_HINT = (
    "Configure credentials: `aws configure`, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --profile "
    "(for SSO: `aws sso login --profile NAME`), then run the command again."
)
ACCESS_CODES = {"403", "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
CREDENTIAL_CODES = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidSignatureException",
}
TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "InternalError",
}
NOT_FOUND_CODES = {"ResourceNotFound", "ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "404", "NotFound"}


class TransientAwsError(EnvironmentProblem):
    """Throttling or a server-side error that persisted through botocore's retries; worth retrying later."""

    title = "AWS is busy"


class AwsUnreachable(EnvironmentProblem):
    """The AWS endpoint did not answer (network, proxy, DNS); worth retrying while polling."""

    title = "AWS unreachable"


class AwsNotFound(UsageError):
    """The named resource does not exist (a job, endpoint, bucket or repository)."""

    title = "Not found"


class AwsRequestRejected(UsageError):
    """AWS refused the request as invalid (ValidationException and friends)."""

    title = "Request rejected"


class AwsLimitExceeded(WorkFailed):
    """An account quota stops the work (instances, jobs); the user must ask for more or wait."""

    title = "AWS limit"


def error_code(exc: BaseException) -> str:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def error_message(exc: BaseException) -> str:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")) or str(exc)


def is_not_found_message(message: str) -> bool:
    """SageMaker answers a Describe of a missing entity with ValidationException 'Could not find ...'."""
    lowered = message.lower()
    return "could not find" in lowered or "does not exist" in lowered or "not found" in lowered


def translate(exc: Exception, action: str) -> Exception:
    """The smbyo error for a botocore exception raised while doing ``action`` (e.g. 'CreateTrainingJob')."""
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
        ProfileNotFound,
        ReadTimeoutError,
        TokenRetrievalError,
    )

    if isinstance(exc, NoCredentialsError | PartialCredentialsError | TokenRetrievalError):
        return AwsCredentialsError(f"no usable AWS credentials for {action}: {exc}", hint=CREDENTIALS_HINT)
    if isinstance(exc, ProfileNotFound):
        return AwsCredentialsError(
            f"{exc}", hint="Use a profile listed in ~/.aws/config (`aws configure list-profiles`), or drop --profile."
        )
    if isinstance(exc, NoRegionError):
        return AwsCredentialsError(
            "no AWS region is configured" + ("" if action == "choosing a region" else f" (needed for {action})"),
            hint="Pass --region (e.g. --region us-east-1), set AWS_REGION (or AWS_DEFAULT_REGION), "
            "or set region in ~/.aws/config.",
        )
    if isinstance(exc, ParamValidationError):
        return AwsRequestRejected(
            f"{action} would be rejected before it is sent: {exc}",
            hint="Fix the flag or manifest field behind the parameter named above (e.g. --role needs a role ARN, "
            "arn:aws:iam::ACCOUNT:role/NAME, not a role name), then run the command again.",
        )
    if isinstance(exc, ReadTimeoutError | ConnectionError):
        return AwsUnreachable(
            f"could not reach AWS for {action}: {exc}",
            hint="Check the network, proxy settings and AWS_ENDPOINT_URL, then run the command again.",
        )
    if isinstance(exc, ClientError):
        return _translate_client_error(exc, action)
    return exc


def _translate_client_error(exc: Exception, action: str) -> Exception:
    code, message = error_code(exc), error_message(exc)
    text = f"{action} failed: {code}: {message}"
    if code in ACCESS_CODES:
        return AwsAccessError(
            text,
            hint=f"The AWS identity in use may not call {action}. Add the permission to its IAM policy "
            "(or use a profile that has it: --profile), then run the command again.",
        )
    if code in CREDENTIAL_CODES:
        return AwsCredentialsError(text, hint=CREDENTIALS_HINT)
    if code in TRANSIENT_CODES or code.startswith("5"):
        return TransientAwsError(text, hint="AWS is throttling or failing; wait a minute and run the command again.")
    if _is_not_found(code, message):
        return AwsNotFound(text, hint="Check the name and the region (--region); `aws sagemaker list-*` lists them.")
    if code in ("ResourceLimitExceeded", "LimitExceededException"):
        return AwsLimitExceeded(
            text, hint="Request a quota increase in Service Quotas, pick another instance type, or wait."
        )
    return AwsRequestRejected(text, hint="Fix the value AWS names in the message (flag or manifest field) and retry.")


def _is_not_found(code: str, message: str) -> bool:
    """RepositoryNotFoundException, NoSuchBucket, 404, or SageMaker's ValidationException 'Could not find'."""
    if code in NOT_FOUND_CODES or code.endswith(("NotFoundException", "NotFound")):
        return True
    return code == "ValidationException" and is_not_found_message(message)


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Run AWS calls, re-raising botocore errors as smbyo errors chained to the original."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        converted = translate(exc, action)
        if converted is exc:
            raise
        raise converted from exc
