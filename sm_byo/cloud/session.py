"""What every cloud command needs first: the AWS adapter, the default image, role and bucket.

The defaults mirror the SageMaker SDK's so that smbyo's resources land where users expect them:
the bucket ``sagemaker-<region>-<account>``, the image ``smbyo push`` produced (the ECR repository's
URI with tag ``latest``) and the role named in the manifest's ``validation.role``.
"""

from __future__ import annotations

from sm_byo.aws import AwsAdapter, connect
from sm_byo.errors import UsageError
from sm_byo.manifest import LoadedManifest
from sm_byo.preflight import role_problem
from sm_byo.reporting import Reporter


def open_aws(profile: str | None, region: str | None, aws: AwsAdapter | None = None) -> AwsAdapter:
    return aws if aws is not None else connect(profile, region)


def resume_flags(profile: str | None, region: str | None) -> str:
    """The --profile/--region part of a resume command, so `smbyo wait` looks in the same place."""
    flags = ""
    if profile:
        flags += f" --profile {profile}"
    if region:
        flags += f" --region {region}"
    return flags


def repository_name(loaded: LoadedManifest) -> str:
    return loaded.manifest.ecr.repository or loaded.manifest.name


def default_image(aws: AwsAdapter, loaded: LoadedManifest) -> str:
    """``<repositoryUri>:latest`` of the manifest's ECR repository (what `smbyo push` pushed)."""
    name = repository_name(loaded)
    repository = aws.describe_repository(name)
    if repository is None:
        raise UsageError(
            f"the ECR repository {name!r} does not exist in {aws.region}, so there is no pushed image to run",
            hint="Run `smbyo build` and `smbyo push` first, or pass --image with an ECR image URI.",
        )
    return f"{repository['repositoryUri']}:latest"


def default_role(loaded: LoadedManifest, role: str | None) -> str:
    chosen = role or (loaded.manifest.validation.role if loaded.manifest.validation else None)
    if not chosen:
        raise UsageError(
            "no IAM role for SageMaker to assume",
            hint="Pass --role arn:aws:iam::ACCOUNT:role/NAME, or set validation.role in smbyo.yaml.",
        )
    problem = role_problem(chosen)
    if problem:
        source = "--role" if role else f"validation.role ({loaded.path.name}:{loaded.line_of(('validation', 'role'))})"
        raise UsageError(f"{source}: {problem}", hint="Pass the role's ARN; nothing was sent to AWS.")
    return chosen


def default_bucket(aws: AwsAdapter, reporter: Reporter) -> str:
    """``sagemaker-<region>-<account>``, created when missing (as the SageMaker SDK does)."""
    bucket = f"sagemaker-{aws.region}-{aws.account_id}"
    if not aws.bucket_exists(bucket):
        reporter.step(f"Creating the S3 bucket {bucket}")
        aws.create_bucket(bucket)
    return bucket


def parse_s3_uri(uri: str, flag: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> ``("bucket", "key/prefix")``."""
    if not uri.startswith("s3://") or len(uri) <= 5:
        raise UsageError(f"{flag} {uri!r} is not an s3:// URI", hint=f"Pass {flag} s3://bucket/prefix.")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key
