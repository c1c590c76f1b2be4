"""botocore errors become smbyo errors with the contract's exit codes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

from sm_byo.aws.errors import (
    AwsLimitExceeded,
    AwsNotFound,
    AwsRequestRejected,
    AwsUnreachable,
    TransientAwsError,
    translated,
)
from sm_byo.errors import AwsAccessError, AwsCredentialsError


def client_error(code: str, message: str = "m") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


@pytest.mark.parametrize(
    ("raised", "expected", "exit_code"),
    [
        (NoCredentialsError(), AwsCredentialsError, 3),
        (NoRegionError(), AwsCredentialsError, 3),
        (EndpointConnectionError(endpoint_url="http://x"), AwsUnreachable, 3),
        (client_error("AccessDeniedException"), AwsAccessError, 3),
        (client_error("ExpiredTokenException"), AwsCredentialsError, 3),
        (client_error("ThrottlingException"), TransientAwsError, 3),
        (client_error("RepositoryNotFoundException"), AwsNotFound, 2),
        (client_error("ValidationException", "Could not find training job 'x'"), AwsNotFound, 2),
        (client_error("ValidationException", "1 validation error detected"), AwsRequestRejected, 2),
        (client_error("ResourceLimitExceeded"), AwsLimitExceeded, 1),
    ],
)
def test_translation(raised: Exception, expected: type, exit_code: int) -> None:
    with pytest.raises(expected) as caught, translated("sagemaker:DescribeTrainingJob"):
        raise raised
    assert caught.value.exit_code == exit_code
    assert caught.value.hint
    assert caught.value.__cause__ is raised
