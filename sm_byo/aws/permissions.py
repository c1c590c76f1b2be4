"""The IAM permissions smbyo's own AWS calls need, and those of the SageMaker execution role: one source of truth.

Every AWS call smbyo makes goes through this package and is labelled ``service:Operation`` (the label
:func:`sm_byo.aws.errors.translated` reports). :data:`CALLER_ACTIONS` maps each label to the IAM actions that
call needs; ``tests/unit/aws/test_permissions.py`` reads the adapter's source and fails when a call has no
entry here (or an entry no call uses), and ``scripts/docs_gen.py`` writes the policy documents the user docs
include (docs/aws-setup.md), so the documented policy is the one the code needs.

IAM action names differ from operation names where AWS says so: S3's HeadBucket and ListObjectsV2 are
authorised by ``s3:ListBucket`` and HeadObject by ``s3:GetObject``
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html), the SageMaker
Runtime's InvokeEndpoint by ``sagemaker:InvokeEndpoint``, the Marketplace Catalog API's calls by
``aws-marketplace:*`` (https://docs.aws.amazon.com/marketplace/latest/APIReference/api-access-control.html),
and STS GetCallerIdentity needs no permission at all
(https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
"""

from __future__ import annotations

from typing import Any

PASS_ROLE = "iam:PassRole"
# A call that hands SageMaker an execution role needs iam:PassRole on that role
# (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-pass-role).
_PASSES_ROLE = (PASS_ROLE,)
# A create request that carries Tags (smbyo's requests always carry its project tag, `smbyo:project`) is
# also authorised as sagemaker:AddTags on the new resource: without it the create fails AccessDenied
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html;
# seen in practice: https://github.com/aws/aws-cdk/issues/32294).
_TAGS = ("sagemaker:AddTags",)

CALLER_ACTIONS: dict[str, tuple[str, ...]] = {
    "sts:GetCallerIdentity": (),
    # ECR: the repository smbyo push creates, registry login, the image scan the listing checks read
    "ecr:DescribeRepositories": ("ecr:DescribeRepositories",),
    "ecr:CreateRepository": ("ecr:CreateRepository",),
    "ecr:DescribeImageScanFindings": ("ecr:DescribeImageScanFindings",),
    "ecr:GetAuthorizationToken": ("ecr:GetAuthorizationToken",),
    # `smbyo delete project --images`: the project's tags, and deleting them
    "ecr:ListImages": ("ecr:ListImages",),
    "ecr:BatchDeleteImage": ("ecr:BatchDeleteImage",),
    # S3: the default bucket sagemaker-<region>-<account> (created when missing), uploads, downloads
    "s3:HeadBucket": ("s3:ListBucket",),
    "s3:CreateBucket": ("s3:CreateBucket",),
    "s3:HeadObject": ("s3:GetObject",),
    "s3:PutObject": ("s3:PutObject",),
    "s3:ListObjectsV2": ("s3:ListBucket",),
    "s3:GetObject": ("s3:GetObject",),
    "s3:DeleteObject": ("s3:DeleteObject",),  # `smbyo delete project --data`, only objects smbyo marked
    # SageMaker: jobs, hosting, publishing
    "sagemaker:CreateTrainingJob": ("sagemaker:CreateTrainingJob", *_PASSES_ROLE, *_TAGS),
    "sagemaker:DescribeTrainingJob": ("sagemaker:DescribeTrainingJob",),
    "sagemaker:CreateHyperParameterTuningJob": ("sagemaker:CreateHyperParameterTuningJob", *_PASSES_ROLE, *_TAGS),
    "sagemaker:DescribeHyperParameterTuningJob": ("sagemaker:DescribeHyperParameterTuningJob",),
    "sagemaker:ListTrainingJobsForHyperParameterTuningJob": ("sagemaker:ListTrainingJobsForHyperParameterTuningJob",),
    "sagemaker:StopHyperParameterTuningJob": ("sagemaker:StopHyperParameterTuningJob",),
    "sagemaker:CreateModel": ("sagemaker:CreateModel", *_PASSES_ROLE, *_TAGS),
    "sagemaker:DeleteModel": ("sagemaker:DeleteModel",),
    "sagemaker:CreateTransformJob": ("sagemaker:CreateTransformJob", *_TAGS),
    "sagemaker:DescribeTransformJob": ("sagemaker:DescribeTransformJob",),
    "sagemaker:CreateEndpointConfig": ("sagemaker:CreateEndpointConfig", *_TAGS),
    "sagemaker:DescribeEndpointConfig": ("sagemaker:DescribeEndpointConfig",),
    "sagemaker:DeleteEndpointConfig": ("sagemaker:DeleteEndpointConfig",),
    "sagemaker:CreateEndpoint": ("sagemaker:CreateEndpoint", *_TAGS),
    "sagemaker:DescribeEndpoint": ("sagemaker:DescribeEndpoint",),
    "sagemaker:DeleteEndpoint": ("sagemaker:DeleteEndpoint",),
    # CreateAlgorithm/CreateModelPackage pass ValidationSpecification.ValidationRole
    "sagemaker:CreateAlgorithm": ("sagemaker:CreateAlgorithm", *_PASSES_ROLE, *_TAGS),
    "sagemaker:DescribeAlgorithm": ("sagemaker:DescribeAlgorithm",),
    "sagemaker:CreateModelPackage": ("sagemaker:CreateModelPackage", *_PASSES_ROLE, *_TAGS),
    "sagemaker:DescribeModelPackage": ("sagemaker:DescribeModelPackage",),
    "sagemaker:DeleteModelPackage": ("sagemaker:DeleteModelPackage",),
    "sagemaker:DeleteAlgorithm": ("sagemaker:DeleteAlgorithm",),
    "sagemaker:DescribeModel": ("sagemaker:DescribeModel",),
    # `smbyo delete project`: each kind listed, and each resource's tags read (List calls take no tag filter)
    "sagemaker:ListEndpoints": ("sagemaker:ListEndpoints",),
    "sagemaker:ListEndpointConfigs": ("sagemaker:ListEndpointConfigs",),
    "sagemaker:ListModels": ("sagemaker:ListModels",),
    "sagemaker:ListModelPackages": ("sagemaker:ListModelPackages",),
    "sagemaker:ListAlgorithms": ("sagemaker:ListAlgorithms",),
    "sagemaker:ListTags": ("sagemaker:ListTags",),
    "sagemaker-runtime:InvokeEndpoint": ("sagemaker:InvokeEndpoint",),
    # CloudWatch Logs: the job logs `train`, `transform` and `wait --logs` follow
    "logs:DescribeLogStreams": ("logs:DescribeLogStreams",),
    "logs:GetLogEvents": ("logs:GetLogEvents",),
    # AWS Marketplace Catalog API (`publish listing`)
    "marketplace-catalog:StartChangeSet": ("aws-marketplace:StartChangeSet",),
    "marketplace-catalog:DescribeChangeSet": ("aws-marketplace:DescribeChangeSet",),
    "marketplace-catalog:DescribeEntity": ("aws-marketplace:DescribeEntity",),
}

# `smbyo push` sends the image with docker-py, logged in with GetAuthorizationToken's token: the registry
# authorises each request with these actions (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html).
DOCKER_PUSH_ACTIONS: tuple[str, ...] = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)

# What SageMaker itself does with the execution role while a training, transform or validation job runs:
# read the input data, write the model and outputs, pull the image from ECR, write logs and metrics
# (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createtrainingjob-perms).
EXECUTION_ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "ReadAndWriteTheDataPrefixes": ("s3:GetObject", "s3:PutObject"),
    "ListTheDataBuckets": ("s3:ListBucket",),
    "PullTheImage": (
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetAuthorizationToken",
        "ecr:GetDownloadUrlForLayer",
    ),
    "WriteJobLogsAndMetrics": (
        "cloudwatch:PutMetricData",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ),
}

# Placeholders the user replaces when pasting the policies (docs/aws-setup.md says so).
ACCOUNT = "ACCOUNT_ID"
ROLE_NAME = "SmbyoSageMakerExecution"
BUCKET = "YOUR_BUCKET"
SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"
POLICY_VERSION = "2012-10-17"


def caller_actions() -> list[str]:
    """Every IAM action smbyo's calls need (iam:PassRole apart: it gets its own, narrower statement)."""
    actions = {action for needed in CALLER_ACTIONS.values() for action in needed} | set(DOCKER_PUSH_ACTIONS)
    return sorted(actions - {PASS_ROLE})


def caller_policy() -> dict[str, Any]:
    """The identity policy for whoever runs smbyo (a user, or CI's OIDC role). Resources are ``*`` where a
    call names no resource (GetAuthorizationToken, CreateBucket's default bucket name is derived at run time);
    iam:PassRole is limited to the execution role and to SageMaker."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {"Sid": "SmbyoCalls", "Effect": "Allow", "Action": caller_actions(), "Resource": "*"},
            {
                "Sid": "PassTheExecutionRoleToSageMaker",
                "Effect": "Allow",
                "Action": PASS_ROLE,
                "Resource": f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}",
                "Condition": {"StringEquals": {"iam:PassedToService": SAGEMAKER_SERVICE}},
            },
        ],
    }


def execution_role_trust_policy() -> dict[str, Any]:
    """Lets SageMaker assume the role (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html)."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{"Effect": "Allow", "Principal": {"Service": SAGEMAKER_SERVICE}, "Action": "sts:AssumeRole"}],
    }


def execution_role_policy() -> dict[str, Any]:
    """The execution role's permissions: S3 on the user's data bucket, ECR pull, CloudWatch Logs and metrics."""
    resources: dict[str, str | list[str]] = {
        "ReadAndWriteTheDataPrefixes": [f"arn:aws:s3:::{BUCKET}/*", f"arn:aws:s3:::sagemaker-*-{ACCOUNT}/*"],
        "ListTheDataBuckets": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::sagemaker-*-{ACCOUNT}"],
    }
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources.get(sid, "*")}
            for sid, actions in EXECUTION_ROLE_ACTIONS.items()
        ],
    }
