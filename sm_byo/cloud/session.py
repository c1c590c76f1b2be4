"""What every cloud command needs first: the AWS adapter, the default image, role and bucket.

The defaults mirror the SageMaker SDK's so that smbyo's resources land where users expect them:
the bucket ``sagemaker-<region>-<account>``, the image ``smbyo push`` produced (the ECR repository's
URI with tag ``latest``) and the role named in the manifest's ``validation.role``.
"""

from __future__ import annotations

from sm_byo.aws import AwsAdapter, connect
from sm_byo.errors import EnvironmentProblem, UsageError
from sm_byo.manifest import LoadedManifest
from sm_byo.options import CloudOptions
from sm_byo.preflight import Ownership
from sm_byo.reporting import Reporter
from sm_byo.rules import S3_URI, role_account, role_problem
from sm_byo.specs.names import Role, repository_name, role_tag


def open_aws(profile: str | None, region: str | None, aws: AwsAdapter | None = None) -> AwsAdapter:
    return aws if aws is not None else connect(profile, region)


def resume_flags(profile: str | None, region: str | None) -> str:
    """The --profile/--region part of a resume command, so `smbyo wait` looks in the same place."""
    return CloudOptions(profile=profile, region=region).resume_flags


def default_image(aws: AwsAdapter, loaded: LoadedManifest, role: Role = "training") -> str:
    """``<repositoryUri>:latest`` of the manifest's ECR repository (what `smbyo push` pushed); with
    ``image.inference``, ``:latest-inference`` for the ``inference`` role."""
    name = repository_name(loaded.manifest)
    repository = aws.describe_repository(name)
    if repository is None:
        raise UsageError(
            f"the ECR repository {name!r} does not exist in {aws.region}, so there is no pushed image to run",
            hint="Run `smbyo build` and `smbyo push` first, or pass --image with an ECR image URI.",
        )
    return role_tag(f"{repository['repositoryUri']}:latest", role, loaded.manifest)


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


def bucket_name(region: str, account: str) -> str:
    """``sagemaker-<region>-<account>``: the SageMaker SDK's default bucket, smbyo's too."""
    return f"sagemaker-{region}-{account}"


def ensure_bucket(aws: AwsAdapter, bucket: str, reporter: Reporter) -> None:
    if not aws.bucket_exists(bucket):
        reporter.step(f"Creating the S3 bucket {bucket}")
        aws.create_bucket(bucket)


def plan_account(aws: AwsAdapter, reporter: Reporter, *, dry_run: bool, role: str | None) -> str:
    """The AWS account a plan's default bucket and image live in.

    A real run asks STS; ``--dry-run`` falls back to the role ARN's account when there are no
    credentials, so CI can check a plan offline (and says so).
    """
    try:
        return aws.account_id
    except EnvironmentProblem:
        account = role_account(role) if role and dry_run else None
        if account is None:
            raise
        reporter.warn(f"no AWS credentials: assuming the account of the role, {account}")
        return account


def plan_image(
    aws: AwsAdapter, loaded: LoadedManifest, account: str, *, dry_run: bool, role: Role = "training"
) -> str:
    """The ECR URI `smbyo push` pushed ``role``'s image to; a real run checks the repository exists,
    a dry run does not."""
    if not dry_run:
        return default_image(aws, loaded, role)
    uri = f"{account}.dkr.ecr.{aws.region}.amazonaws.com/{repository_name(loaded.manifest)}:latest"
    return role_tag(uri, role, loaded.manifest)


def account_registries(aws: AwsAdapter, *, dry_run: bool) -> frozenset[str]:
    """The ECR registry host(s) ECR names for this account: images there are ECR images.

    A dry run asks nothing (it must work offline): it judges image URIs by their form alone.
    """
    if dry_run:
        return frozenset()
    return frozenset({aws.registry_auth().registry})


def plan_ownership(aws: AwsAdapter, *, dry_run: bool, output: str | None = None) -> Ownership | None:
    """The caller's account, for pre-flight's check that the plan's role (and ``output``'s bucket) are its own.

    A ``--dry-run`` without credentials has no account to compare with: None, and those checks are skipped
    (the offline checks, placeholders included, still run). A bucket that does not exist yet is fine: smbyo
    creates it in the caller's account before uploading.
    """
    try:
        account = aws.account_id
    except EnvironmentProblem:
        if dry_run:
            return None
        raise
    match = S3_URI.fullmatch(output) if output else None
    if match is None or aws.bucket_owned_by(match["bucket"], account) is not False:
        return Ownership(account)
    problem = (
        f"bucket {match['bucket']!r} is not account {account}'s (or these credentials may not s3:ListBucket it): "
        "set validation.output to an S3 prefix in a bucket of your account"
    )
    return Ownership(account, {match["bucket"]: problem})
