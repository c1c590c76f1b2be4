"""One implementation of each rule SageMaker applies to a value, asked by every layer.

The manifest's validation, the request builders, pre-flight and the command-line checks all call
these functions, so a value gets the same verdict wherever it is judged (the hyperparameter-value
rule lives with the runtime, ``sm_byo.runtime.hyperparameters.value_problem``, because the
container needs it too and the runtime imports nothing from the host package).

Each ``*_problem`` function returns ``None`` for an acceptable value, or a sentence saying what is
wrong, written to follow the name of the field or flag that carried the value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from sm_byo.jsonpath import PathSyntaxError, parse, syntax_problem
from sm_byo.runtime.hyperparameters import DECIMAL as DECIMAL_TEXT
from sm_byo.runtime.hyperparameters import INTEGER as INTEGER_TEXT

# Names of SageMaker resources (jobs, models, endpoints, algorithms, model packages):
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html#sagemaker-CreateTrainingJob-request-TrainingJobName
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MAX_NAME_LENGTH = 63
# Channel names: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Channel.html
CHANNEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9.\-_]{1,64}$")
# The pattern lets "." and "..", but a channel is a directory, /opt/ml/input/data/<channel>
# (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html):
# those two would name the data directory itself or its parent.
RESERVED_CHANNEL_NAMES = frozenset({".", ".."})
INSTANCE_TYPE_PATTERN = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# IAM role ARNs: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/[A-Za-z0-9_+=,.@\-/]+")
ROLE_NAME = re.compile(r"[A-Za-z0-9_+=,.@\-]{1,64}")
# What `smbyo init` writes where only the user knows the value (the scaffold's template renders these): well
# formed, so local commands load the manifest, and refused by role_problem / s3_uri_problem, so no cloud command
# (a --dry-run included) passes pre-flight until the user has put in their own role and bucket. The role is
# known by its name (its account, 000000000000, is no AWS account, and local plans' stand-in role uses it too);
# not by account 123456789012, which AWS's examples and the tests' AWS stand-in (moto) both use.
PLACEHOLDER_ROLE_NAME = "REPLACE-WITH-YOUR-SAGEMAKER-EXECUTION-ROLE"
PLACEHOLDER_ROLE = f"arn:aws:iam::000000000000:role/{PLACEHOLDER_ROLE_NAME}"
PLACEHOLDER_BUCKET = "replace-with-your-bucket"
PLACEHOLDER_OUTPUT = f"s3://{PLACEHOLDER_BUCKET}/smbyo-validation"
# Bucket names: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
S3_URI = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/[^\s]*)?")
# SageMaker registers only images in ECR ("Use Your Own Algorithms or Models with Amazon SageMaker"):
# https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-marketplace.html
ECR_IMAGE = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9\-]+)\.amazonaws\.com(\.cn)?"
    r"/(?P<repository>[a-z0-9._/\-]+)(:(?P<tag>[\w.\-]{1,128})|@sha256:[0-9a-f]{64})?"
)
# AlgorithmDescription and ModelPackageDescription are EntityDescription: 0-1024 characters of the Unicode
# categories L, M, Z, S, N and P, pattern [\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]* (no control characters: no
# newline, no tab). https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateAlgorithm.html
MAX_DESCRIPTION_LENGTH = 1024
DESCRIPTION_CATEGORIES = frozenset("LMZSNP")
# Debian package names (Debian Policy 5.6.1, https://www.debian.org/doc/debian-policy/ch-controlfields.html#source):
# lower-case letters, digits, '+', '-' and '.', at least two characters, starting with a letter or digit.
# Optionally `=VERSION` for apt-get (Policy 5.6.12, #version: [epoch:]upstream_version[-debian_revision],
# alphanumerics and . + ~ -). Nothing else, so a name can never be shell syntax.
DEBIAN_PACKAGE_PATTERN = r"^[a-z0-9][a-z0-9+.\-]+(=([0-9]+:)?[A-Za-z0-9][A-Za-z0-9.+~\-]*)?$"
DEBIAN_PACKAGE = re.compile(DEBIAN_PACKAGE_PATTERN)
# Image references, the grammar of Docker's reference parser
# (https://github.com/distribution/reference/blob/main/reference.go):
#   reference := name [ ":" tag ] [ "@" digest ];  name := [domain '/'] path-component ['/' path-component]*
#   domain := host [':' port];  path-component := [a-z0-9]+ (separator [a-z0-9]+)*;  separator := [_.] | __ | -+
#   tag := [\w][\w.-]{0,127};  digest := algorithm ":" [0-9a-fA-F]{32,};  a name is at most 255 characters.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])"
_NAME = rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::[\w][\w.-]{{0,127}})?(?:@{_DIGEST})?", re.ASCII)
MAX_IMAGE_NAME_LENGTH = 255
MAX_IMAGE_REFERENCE_LENGTH = 512  # name 255, tag 128, a sha512 digest 135: longer is never valid
# Metric definitions: at most 40 per algorithm, each regex with the value in its first group
# (https://docs.aws.amazon.com/sagemaker/latest/dg/training-metrics.html#define-train-metrics).
MAX_METRICS = 40


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a SageMaker resource (None when it can)."""
    if NAME_PATTERN.fullmatch(name):
        return None
    return (
        f"{name!r} is not a valid SageMaker name: use 1-{MAX_NAME_LENGTH} letters, digits and hyphens, "
        "starting and ending with a letter or digit (pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})"
    )


def channel_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a training channel (None when it can)."""
    if name in RESERVED_CHANNEL_NAMES:
        return (
            f"{name!r} cannot name a channel: it would be /opt/ml/input/data/{name}, a path, not a directory of its own"
        )
    if not CHANNEL_NAME_PATTERN.fullmatch(name):
        return "channel names are 1-64 letters, digits, '.', '-' or '_'"
    return None


def description_problem(text: str) -> str | None:
    """Why ``text`` cannot be an AlgorithmDescription / ModelPackageDescription (None when it can)."""
    if len(text) > MAX_DESCRIPTION_LENGTH:
        return f"is {len(text)} characters; AWS takes at most {MAX_DESCRIPTION_LENGTH}"
    for index, char in enumerate(text):
        if unicodedata.category(char)[0] not in DESCRIPTION_CATEGORIES:
            return (
                f"character {index + 1} is {char!r}, a control or unassigned character, which AWS refuses in a "
                "description: write it on one line (a YAML block scalar keeps its newlines; use a plain or quoted "
                "string, or `>-`)"
            )
    return None


def debian_package_problem(value: str) -> str | None:
    """Why ``value`` cannot be a package apt-get installs (None when it can)."""
    if DEBIAN_PACKAGE.fullmatch(value):
        return None
    return (
        "is not a Debian package name: lower-case letters, digits, '+', '-' and '.', starting with a letter or "
        "digit, optionally =VERSION (e.g. libgomp1 or curl=7.88.1-10+deb12u5); one package per list item"
    )


def image_reference_problem(value: str) -> str | None:
    """Why ``value`` is not a Docker image reference (None when it is): ``[registry[:port]/]name[:tag][@digest]``."""
    match = IMAGE_REFERENCE.fullmatch(value) if len(value) <= MAX_IMAGE_REFERENCE_LENGTH else None
    if match is None:
        return (
            "is not a Docker image reference: [registry[:port]/]name[:tag][@sha256:digest], the name in lower case "
            "(e.g. python:3.12-slim-bookworm, debian:bookworm, 123456789012.dkr.ecr.us-east-1.amazonaws.com/base:1)"
        )
    if len(match.group("name")) > MAX_IMAGE_NAME_LENGTH:
        return f"has a name of {len(match.group('name'))} characters; Docker takes at most {MAX_IMAGE_NAME_LENGTH}"
    return None


# The processor a SageMaker instance type runs images for. In an instance family's name a "g" right after the
# generation number means AWS Graviton, an arm64 processor ("c7g": compute, 7th generation, Graviton;
# https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html): ml.c6g, ml.c7g, ml.m6g, ml.m7g,
# ml.r6g, ml.r7g, ml.t4g, ml.g5g, ... SageMaker runs arm64 images on them and x86-64 (amd64) images on every other
# family (https://aws.amazon.com/blogs/machine-learning/run-machine-learning-inference-workloads-on-aws-graviton-based-instances-with-amazon-sagemaker/:
# "bring your own containers compatible with Arm v8.2 architecture").
GRAVITON_FAMILY = re.compile(r"^ml\.[a-z]+[0-9]+g[a-z0-9-]*\.")
ARM64, AMD64 = "arm64", "amd64"


def instance_architecture(instance_type: str) -> str:
    """``arm64`` for a Graviton instance type (``ml.c7g.xlarge``), else ``amd64``: what its image must be built for."""
    return ARM64 if GRAVITON_FAMILY.match(instance_type) else AMD64


def instance_type_problem(value: str) -> str | None:
    if INSTANCE_TYPE_PATTERN.fullmatch(value):
        return None
    return f"{value!r} is not a SageMaker instance type (e.g. ml.m5.large)"


def role_problem(role: str) -> str | None:
    """Why ``role`` cannot be the IAM role SageMaker assumes (None when it is a role ARN)."""
    if ROLE_NAME.fullmatch(role):
        return (
            f"{role!r} is a role name; AWS needs the role's ARN, arn:aws:iam::<account-id>:role/{role} "
            "(`aws iam get-role --role-name NAME` prints it)"
        )
    if not ROLE_ARN.fullmatch(role):
        return f"{role!r} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/NAME)"
    if role.rsplit("/", 1)[-1] == PLACEHOLDER_ROLE_NAME:
        return (
            "still the placeholder `smbyo init` wrote: set it to the ARN of your SageMaker execution role, "
            "arn:aws:iam::<your account id>:role/<role name> (docs: Before you start on AWS)"
        )
    return None


def role_account(role: str) -> str | None:
    """The account id inside a role ARN (None when ``role`` is not one)."""
    return role.split(":")[4] if ROLE_ARN.fullmatch(role) else None


def s3_uri_problem(value: str) -> str | None:
    """Why ``value`` is not an S3 URI SageMaker accepts (None when it is)."""
    if not value.startswith("s3://"):
        return f"{value!r} is not an S3 URI (s3://bucket/key)"
    match = S3_URI.fullmatch(value)
    if match is None:
        bucket = value.removeprefix("s3://").split("/", 1)[0]
        return (
            f"{bucket!r} is not a valid S3 bucket name (3-63 lower-case letters, digits, '.' and '-'), "
            "or the key holds whitespace"
        )
    if match["bucket"] == PLACEHOLDER_BUCKET:
        return (
            f"bucket {PLACEHOLDER_BUCKET!r} is the placeholder `smbyo init` wrote in validation.output: set it to "
            "s3://<a bucket of your account>/<prefix> (smbyo creates the bucket when it does not exist)"
        )
    return None


def account_mismatch(account: str, caller_account: str) -> str | None:
    """``in account A; these credentials are account B`` when a resource is not the caller's (None when it is).

    Listing a version and passing a role both need the caller's own account: the wording is shared so both say it
    the same way."""
    if account == caller_account:
        return None
    return f"in account {account}; these credentials are account {caller_account}"


def ecr_image_problem(value: str, registries: frozenset[str] = frozenset()) -> str | None:
    """Why ``value`` cannot be an image SageMaker runs (None when it is an ECR image URI).

    ``registries``: the hosts ECR itself named for this account (GetAuthorizationToken's
    proxyEndpoint), which are ECR whatever they look like (an AWS stand-in's, a VPC endpoint's).
    """
    if ECR_IMAGE.fullmatch(value) or value.split("/", 1)[0] in registries:
        return None
    return (
        f"{value!r} is not an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>); "
        "SageMaker only runs images from ECR: run `smbyo push` and pass the URI it prints with --image"
    )


def metric_regex_problem(regex: str) -> str | None:
    """Why SageMaker could not read a metric's value with ``regex`` (None when it can).

    SageMaker reads the value from the regex's first capture group, so a regex without one never
    yields a value ("Define Metrics", training-metrics.html).
    """
    try:
        groups = re.compile(regex).groups
    except re.error as exc:
        return f"does not compile as a regular expression: {exc}"
    if groups < 1:
        return "needs a capture group around the value, e.g. 'accuracy: (\\S+)'"
    return None


# "MaxPayloadInMB ... cannot be greater than 100 MB. If you specify the MaxConcurrentTransforms
# parameter, the value of (MaxConcurrentTransforms * MaxPayloadInMB) also cannot exceed 100 MB."
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html#sagemaker-CreateTransformJob-request-MaxPayloadInMB
MAX_TRANSFORM_PAYLOAD_IN_FLIGHT_MB = 100


def transform_payload_problem(max_payload_mb: int | None, concurrency: int | None) -> str | None:
    """Why a transform job's MaxPayloadInMB and MaxConcurrentTransforms cannot go together."""
    if max_payload_mb is None or concurrency is None:
        return None
    if max_payload_mb * concurrency > MAX_TRANSFORM_PAYLOAD_IN_FLIGHT_MB:
        return (
            f"MaxConcurrentTransforms {concurrency} x MaxPayloadInMB {max_payload_mb} = "
            f"{concurrency * max_payload_mb} MB in flight; SageMaker allows at most "
            f"{MAX_TRANSFORM_PAYLOAD_IN_FLIGHT_MB} MB: lower one of them"
        )
    return None


def is_hidden(relative: PurePath) -> bool:
    """A path with a part starting with '.' (``.env``, ``.git/config``, ``.ipynb_checkpoints/x.csv``).

    Such files are data to SageMaker like any other object under a prefix; smbyo sends them too (so both
    modes see the same files) but names them, because they are rarely meant as training data.
    """
    return any(part.startswith(".") for part in relative.parts)


# Managed spot training: "MaxWaitTimeInSeconds ... must be equal to or greater than MaxRuntimeInSeconds"; it
# is required with EnableManagedSpotTraining and means nothing without it (the time to wait for spot capacity
# and to run). https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StoppingCondition.html,
# https://docs.aws.amazon.com/sagemaker/latest/dg/model-managed-spot-training.html
SPOT = "EnableManagedSpotTraining"
MAX_WAIT = "MaxWaitTimeInSeconds"
MAX_RUNTIME = "MaxRuntimeInSeconds"


def managed_spot_problem(spot: bool, max_wait: object, max_runtime: object) -> tuple[str, str] | None:
    """The request field at fault and why, when a job's spot setting and stopping condition cannot go
    together (None when they can). Values that are not integers are left to the service model."""
    if spot and max_wait is None:
        return SPOT, (
            f"managed spot training needs StoppingCondition.{MAX_WAIT} (how long to wait for spot capacity "
            f"and run, at least {MAX_RUNTIME})"
        )
    if max_wait is not None and not spot:
        return MAX_WAIT, f"is only valid with managed spot training ({SPOT}); the job does not use spot"
    if isinstance(max_wait, int) and isinstance(max_runtime, int) and spot and max_wait < max_runtime:
        return MAX_WAIT, (
            f"{max_wait} s is shorter than StoppingCondition.{MAX_RUNTIME} ({max_runtime} s); with managed "
            "spot training it must be equal to or greater than it"
        )
    return None


def instance_count_problem(
    count: object, supports_distributed: bool, declared_by: str = "training.supports_distributed is false: the manifest"
) -> str | None:
    """Why a training job cannot run on ``count`` instances of an algorithm (None when it can).

    SageMaker runs the image on every instance (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
    API_ResourceConfig.html, "For distributed training, provide a value greater than 1"); an algorithm that
    declares it does not support distributed training (SupportsDistributedTraining,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrainingSpecification.html) cannot use more.
    """
    if not isinstance(count, int) or isinstance(count, bool):
        return None  # the service model names the wrong type
    if count < 1:
        return f"{count}: a training job runs on at least 1 instance"
    if count > 1 and not supports_distributed:
        return (
            f"{count} instances, but {declared_by} says the algorithm cannot use more than one instance"
        )
    return None


# DataProcessing (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html,
# "Use Data Processing in Batch Transform Jobs"): "you must set both the ContentType and Accept parameters to
# one of the following values: text/csv, application/json, or application/jsonlines"; "If you set input and
# output formats to text/csv, you must also set the SplitType and AssemblyType parameters to line"; "For CSV
# data, each row is taken as a JSON array, so only index based JSONPaths can be applied". Joining pairs each
# input record with its output record, so it needs records on both sides: SplitType Line and AssembleWith Line;
# and the joined record is written in one format ("it must support your chosen format for both input and output
# files"), so a join takes an Accept of the input's kind (CSV with CSV, JSON with JSON).
DATA_PROCESSING_TYPES = ("text/csv", "application/json", "application/jsonlines")
CSV_TYPE = "text/csv"
DataProcessingProblem = tuple[tuple[str, ...], str]


def jsonpath_problem(expression: str) -> str | None:
    """Why ``expression`` is not a JSONPath SageMaker supports in InputFilter/OutputFilter (None when it is)."""
    return syntax_problem(expression)


def _csv_index_problem(expression: str, content_type: str) -> str | None:
    if content_type != CSV_TYPE:
        return None
    try:
        path = parse(expression)
    except PathSyntaxError:
        return None  # reported by jsonpath_problem
    if path.index_only:
        return None
    return f"{expression!r} selects by name, but a CSV record is an array of columns: use indexes ($[0], $[1:])"


def _filter_problems(processing: Mapping[str, Any], content_type: str, accept: str) -> list[DataProcessingProblem]:
    found: list[DataProcessingProblem] = []
    joined = processing.get("JoinSource") == "Input"
    # The input filter reads input records; the output filter reads the joined record (an input record's
    # shape) or, without a join, the output record.
    for key, record_type in (("InputFilter", content_type), ("OutputFilter", content_type if joined else accept)):
        expression = processing.get(key)
        if not isinstance(expression, str):
            continue
        problem = jsonpath_problem(expression) or _csv_index_problem(expression, record_type)
        if problem:
            found.append((("DataProcessing", key), problem))
    return found


def data_processing_problems(job: Mapping[str, Any]) -> list[DataProcessingProblem]:
    """What SageMaker refuses in a CreateTransformJob's DataProcessing, as (request path, message) pairs."""
    processing = job.get("DataProcessing")
    if not isinstance(processing, Mapping):
        return []
    transform_input, output = job.get("TransformInput") or {}, job.get("TransformOutput") or {}
    content_type, accept = str(transform_input.get("ContentType") or ""), str(output.get("Accept") or "")
    found = _filter_problems(processing, content_type, accept)
    joined = processing.get("JoinSource") == "Input"
    filtered = any(processing.get(key) not in (None, "$") for key in ("InputFilter", "OutputFilter"))
    if not (joined or filtered):
        return found
    takes = ", ".join(DATA_PROCESSING_TYPES)
    for path, value in ((("TransformInput", "ContentType"), content_type), (("TransformOutput", "Accept"), accept)):
        if value not in DATA_PROCESSING_TYPES:
            found.append((path, f"{value or 'no type'} cannot be filtered or joined: DataProcessing takes {takes}"))
    found.extend(_record_split_problems(job, joined, content_type, accept))
    if joined and (content_type == CSV_TYPE) != (accept == CSV_TYPE):
        why = f"a joined record is written in the input's format ({content_type}), so Accept must be of the same kind"
        found.append((("TransformOutput", "Accept"), f"{accept}: {why}"))
    return found


def _record_split_problems(
    job: Mapping[str, Any], joined: bool, content_type: str, accept: str
) -> list[DataProcessingProblem]:
    """A join pairs records one to one, and CSV is filtered line by line: both need SplitType and AssembleWith Line."""
    if joined:
        needs_lines = "JoinSource Input pairs each input record with its output record"
    elif CSV_TYPE in (content_type, accept):
        needs_lines = "text/csv records are filtered line by line"
    else:
        return []
    split = (job.get("TransformInput") or {}).get("SplitType", "None")
    assemble = (job.get("TransformOutput") or {}).get("AssembleWith", "None")
    found: list[DataProcessingProblem] = []
    if split != "Line":
        found.append((("TransformInput", "SplitType"), f"{split}: {needs_lines}, so SplitType must be Line"))
    if assemble != "Line":
        found.append((("TransformOutput", "AssembleWith"), f"{assemble}: {needs_lines}, so AssembleWith must be Line"))
    return found


# --- hyperparameter tuning ------------------------------------------------------------------------
# CreateHyperParameterTuningJob: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html
# "the sum of the number of hyperparameters for all the ranges can't exceed the maximum number specified" (30):
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ParameterRanges.html
MAX_PARAMETER_RANGES = 30
RANGE_KINDS = ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges")
# HyperbandStrategyConfig.MaxResource: "The maximum value is 20,000 epochs"; without it, Hyperband "attempts to
# infer MaxResource from the following keys (if present) in StaticsHyperParameters: epochs, numepochs, n-epochs,
# n_epochs, num_epochs", and fails validation when it cannot.
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperbandStrategyConfig.html
HYPERBAND_MAX_RESOURCE = 20000
HYPERBAND_EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
TuningProblem = tuple[tuple[str | int, ...], str]
CONFIG = "HyperParameterTuningJobConfig"


def scaling_problem(kind: str, scaling: str | None, low: float, high: float) -> str | None:
    """Why a range of ``kind`` (Integer/Continuous) cannot be searched with ``scaling`` (None when it can).

    "Logarithmic scaling works only for ranges that have only values greater than 0"; "Reverse logarithmic
    scaling works only for ranges that are entirely within the range 0<=x<1.0", and "is not supported for
    integer parameter ranges".
    https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-define-ranges.html#scaling-type
    """
    if scaling == "Logarithmic" and low <= 0:
        return f"Logarithmic scaling needs a range of values greater than 0 (this one starts at {low:g})"
    if scaling == "ReverseLogarithmic":
        if kind == "Integer":
            return "ReverseLogarithmic scaling is only for Continuous ranges, not Integer ones"
        if low < 0 or high >= 1:
            return f"ReverseLogarithmic scaling needs a range within 0 <= x < 1 (this one is {low:g} to {high:g})"
    return None


def hyperband_max_resource(config: Mapping[str, Any], static: Mapping[str, Any]) -> int | None:
    """The MaxResource Hyperband uses: StrategyConfig's, else inferred from the static hyperparameters."""
    hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    if isinstance(hyperband.get("MaxResource"), int):
        return int(hyperband["MaxResource"])
    for key in HYPERBAND_EPOCH_KEYS:
        value = str(static.get(key, ""))
        if value.isdigit():
            return int(value)
    return None


def grid_size(ranges: Mapping[str, Any]) -> int:
    """The number of distinct combinations of the categorical values: a Grid job's number of training jobs."""
    size = 1
    for item in ranges.get("CategoricalParameterRanges") or []:
        size *= max(1, len(item.get("Values") or []))
    return size


def _bounds_problem(kind: str, item: Mapping[str, Any]) -> tuple[tuple[str, ...], str] | None:
    """Min and Max of an Integer/Continuous range: numbers of its kind, in order, and a scaling they allow; the
    field at fault below the range (none: the bounds; ScalingType) and why."""
    pattern = INTEGER_TEXT if kind == "IntegerParameterRanges" else DECIMAL_TEXT
    low_text, high_text = str(item.get("MinValue", "")), str(item.get("MaxValue", ""))
    noun = "integers" if kind == "IntegerParameterRanges" else "numbers"
    if not (pattern.fullmatch(low_text) and pattern.fullmatch(high_text)):
        return (), f"MinValue {low_text!r} and MaxValue {high_text!r} must be {noun}"
    low, high = float(low_text), float(high_text)
    if low > high:
        return (), f"MinValue {low_text} is greater than MaxValue {high_text}"
    problem = scaling_problem(kind.removesuffix("ParameterRanges"), item.get("ScalingType"), low, high)
    return (("ScalingType",), problem) if problem else None


def _range_problems(ranges: Mapping[str, Any], static: Mapping[str, Any]) -> list[TuningProblem]:
    found: list[TuningProblem] = []
    base = (CONFIG, "ParameterRanges")
    total = sum(len(ranges.get(kind) or []) for kind in RANGE_KINDS)
    if total == 0:
        found.append((base, "a tuning job needs at least one hyperparameter range to search (a tunable "
                            "hyperparameter with min/max or values)"))  # fmt: skip
    elif total > MAX_PARAMETER_RANGES:
        found.append((base, f"{total} hyperparameter ranges; a tuning job searches at most {MAX_PARAMETER_RANGES} "
                            "(all kinds together)"))  # fmt: skip
    for kind in RANGE_KINDS:
        for index, item in enumerate(ranges.get(kind) or []):
            problem = _bounds_problem(kind, item) if kind != "CategoricalParameterRanges" else None
            if problem:
                found.append(((*base, kind, index, *problem[0]), problem[1]))
            if item.get("Name") in static:
                found.append(((*base, kind, index, "Name"), f"{item.get('Name')!r} is tuned and also a static "
                                                            "hyperparameter; give it one way only"))  # fmt: skip
    return found


def _strategy_problems(config: Mapping[str, Any], static: Mapping[str, Any]) -> list[TuningProblem]:
    """Grid and Hyperband's own requirements (https://docs.aws.amazon.com/sagemaker/latest/dg/
    automatic-model-tuning-how-it-works.html): Grid "only categorical parameters", with MaxNumberOfTrainingJobs
    left out or "equal to the total number of distinct categorical combinations possible"; Hyperband its
    HyperbandStrategyConfig, which no other strategy takes, and its own early stopping: TrainingJobEarlyStoppingType
    must be Off (https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-early-stopping.html)."""
    found: list[TuningProblem] = []
    strategy = config.get("Strategy")
    ranges = config.get("ParameterRanges") or {}
    limits = config.get("ResourceLimits") or {}
    if strategy == "Grid":
        for kind in ("IntegerParameterRanges", "ContinuousParameterRanges"):
            if ranges.get(kind):
                found.append(((CONFIG, "ParameterRanges", kind), "the Grid strategy searches Categorical ranges only; "
                              "use Bayesian or Random for Integer and Continuous ones"))  # fmt: skip
        maximum = limits.get("MaxNumberOfTrainingJobs")
        if maximum is not None and maximum != grid_size(ranges):
            found.append(((CONFIG, "ResourceLimits", "MaxNumberOfTrainingJobs"), f"{maximum}: a Grid job runs every "
                          f"combination of the categorical values ({grid_size(ranges)}); leave it out"))  # fmt: skip
    hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig")
    if strategy != "Hyperband" and config.get("StrategyConfig"):
        found.append(
            ((CONFIG, "StrategyConfig"), f"only the Hyperband strategy takes a StrategyConfig, not {strategy}")
        )
    if strategy == "Hyperband":
        if config.get("TrainingJobEarlyStoppingType") == "Auto":
            found.append(((CONFIG, "TrainingJobEarlyStoppingType"), "Auto: Hyperband stops training jobs by its own "
                          "rule; early stopping must be Off with it"))  # fmt: skip
        maximum_resource = hyperband_max_resource(config, static)
        minimum_resource = (hyperband or {}).get("MinResource")
        if maximum_resource is None:
            needs = (
                "Hyperband needs HyperbandStrategyConfig.MaxResource (the most epochs a training job runs), or a "
                f"static hyperparameter it can be read from ({', '.join(HYPERBAND_EPOCH_KEYS)})"
            )
            found.append(((CONFIG, "StrategyConfig", "HyperbandStrategyConfig", "MaxResource"), needs))
        elif maximum_resource > HYPERBAND_MAX_RESOURCE:
            found.append(((CONFIG, "StrategyConfig", "HyperbandStrategyConfig", "MaxResource"),
                          f"{maximum_resource}: at most {HYPERBAND_MAX_RESOURCE} epochs"))  # fmt: skip
        elif isinstance(minimum_resource, int) and minimum_resource > maximum_resource:
            found.append(((CONFIG, "StrategyConfig", "HyperbandStrategyConfig", "MinResource"),
                          f"{minimum_resource} is greater than MaxResource {maximum_resource}"))  # fmt: skip
    return found


def tuning_job_problems(request: Mapping[str, Any]) -> list[TuningProblem]:
    """What SageMaker refuses in a CreateHyperParameterTuningJob request that its service model does not say,
    as (request path, message) pairs."""
    config = request.get(CONFIG) or {}
    definition = request.get("TrainingJobDefinition") or {}
    static = definition.get("StaticHyperParameters") or {}
    found = _range_problems(config.get("ParameterRanges") or {}, static)
    found.extend(_strategy_problems(config, static))
    objective = config.get("HyperParameterTuningJobObjective")
    if not objective:
        found.append(((CONFIG, "HyperParameterTuningJobObjective"), "a tuning job needs an objective metric to "
                      "maximize or minimize (training.tuning_objective: {metric, type})"))  # fmt: skip
    algorithm = definition.get("AlgorithmSpecification") or {}
    metrics = {str(metric.get("Name")) for metric in algorithm.get("MetricDefinitions") or []}
    # With your own image, SageMaker reads the objective from the training log with the job's MetricDefinitions, so
    # the objective must be one of them (https://docs.aws.amazon.com/sagemaker/latest/dg/
    # automatic-model-tuning-define-metrics-variables.html); a published algorithm brings its own definitions.
    if objective and algorithm.get("TrainingImage") and objective.get("MetricName") not in metrics:
        known = ", ".join(sorted(metrics)) or "none"
        problem = f"{objective.get('MetricName')!r} is not one of the job's MetricDefinitions ({known})"
        found.append(((CONFIG, "HyperParameterTuningJobObjective", "MetricName"), problem))
    return found


# --- AWS Marketplace ML product listings (the Catalog API's MachineLearningProduct@1.0) ---------------
# AddDeliveryOptions: https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-add-version.html
# UpdateDeliveryOptions: https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-update-version.html
# RestrictDeliveryOptions: https://docs.aws.amazon.com/marketplace/latest/APIReference/ml-restrict-version.html
# UpdatePricingTerms: https://docs.aws.amazon.com/marketplace/latest/APIReference/update-pricing-terms.html

ML_PRODUCT = "MachineLearningProduct@1.0"
OFFER = "Offer@1.0"  # UpdatePricingTerms is a change of the product's offer, not of the product
ADD_VERSION, UPDATE_VERSION, RESTRICT_VERSION, UPDATE_PRICING = (
    "AddDeliveryOptions",
    "UpdateDeliveryOptions",
    "RestrictDeliveryOptions",
    "UpdatePricingTerms",
)
ENTITY_OF_CHANGE = {
    ADD_VERSION: ML_PRODUCT,
    UPDATE_VERSION: ML_PRODUCT,
    RESTRICT_VERSION: ML_PRODUCT,
    UPDATE_PRICING: OFFER,
}
# The details object and the ARN member per kind, as the AddDeliveryOptions request syntax spells them
# (note AWS's own "Sagemaker" casing for model packages).
DELIVERY_DETAILS = {
    "algorithm": "SageMakerAlgorithmDeliveryOptionDetails",
    "model-package": "SagemakerModelPackageDeliveryOptionDetails",
}
DELIVERY_ARN = {"algorithm": "SageMakerAlgorithmArn", "model-package": "SageMakerModelPackageArn"}
LISTING_MAX_RELEASE_NOTES = 30000  # "Must be under 30,000 characters"
SAMPLE_KEYS = ("RealtimeInferenceUrl", "RealtimeInferenceText", "BatchTransformUrl", "BatchTransformText")
# Pricing dimensions: <instance type>.a.t (training), .m.i.b (batch transform), .m.i.r (real-time, hourly), and
# m.i.c (real-time, per inference).
DIMENSION_SUFFIX = {"training": "a.t", "batch_transform": "m.i.b", "realtime_inference": "m.i.r"}
PER_INFERENCE_DIMENSION = "m.i.c"
DIMENSION_KEY = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+\.(a\.t|m\.i\.b|m\.i\.r)|m\.i\.c")
LISTING_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d+)?(/\S*)?")
LISTABLE_ARN = re.compile(
    r"arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z]{2}(-[a-z]+)+-\d):(?P<account>\d{12}):"
    r"(?P<resource>algorithm|model-package)/(?P<name>[A-Za-z0-9](-*[A-Za-z0-9]){0,62})(/\d+)?"
)


def listing_url_problem(value: str) -> str | None:
    """Why ``value`` cannot be a link on the listing page (None when it is an absolute http(s) URL)."""
    if LISTING_URL.fullmatch(value):
        return None
    return f"{value[:80]!r} is not an absolute http(s) URL (https://host/path, no spaces)"


def listable_arn(arn: str) -> dict[str, str] | None:
    """The parts of an algorithm or model package ARN (region, account, resource, name), None for anything else."""
    match = LISTABLE_ARN.fullmatch(arn)
    return None if match is None else {key: match.group(key) for key in ("region", "account", "resource", "name")}


def listing_arn_problem(arn: str) -> str | None:
    if listable_arn(arn) is None:
        return (
            f"{arn[:120]!r} is not the ARN of a SageMaker algorithm or model package "
            "(arn:aws:sagemaker:REGION:ACCOUNT:algorithm/NAME or .../model-package/NAME)"
        )
    return None


def dimension_key(instance_type: str, use: str) -> str:
    """The pricing dimension of ``instance_type`` for ``use`` (training, batch_transform, realtime_inference)."""
    return f"{instance_type}.{DIMENSION_SUFFIX[use]}"


def unpriced_dimensions(supported: Mapping[str, list[str]], priced: set[str]) -> list[str]:
    """The dimension keys of the supported instance types (use -> types) the rate card leaves unpriced:
    "You must price all supported instance types of your machine learning products" (update-pricing-terms)."""
    wanted = [dimension_key(kind, use) for use, kinds in supported.items() for kind in kinds]
    return [key for key in dict.fromkeys(wanted) if key not in priced]


ListingPath = tuple[str | int, ...]


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: a malformed request is judged, never crashed on."""
    return value if isinstance(value, dict) else {}


def _text_problem(value: Any, what: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"required: {what}"
    return None


def _sample_problems(sample: Any, path: ListingPath) -> list[tuple[ListingPath, str]]:
    if not isinstance(sample, dict) or not any(isinstance(sample.get(key), str) and sample[key] for key in SAMPLE_KEYS):
        return [(path, f"required: at least one of {', '.join(SAMPLE_KEYS)}")]
    return [
        ((*path, key), problem)
        for key in SAMPLE_KEYS
        if key.endswith("Url") and isinstance(sample.get(key), str) and (problem := listing_url_problem(sample[key]))
    ]


def _delivery_details_problems(details: Any, path: ListingPath, *, adding: bool) -> list[tuple[ListingPath, str]]:
    found: list[tuple[ListingPath, str]] = []
    kinds = [kind for kind, key in DELIVERY_DETAILS.items() if isinstance(details, dict) and key in details]
    if len(kinds) != 1:
        return [(path, f"exactly one of {', '.join(DELIVERY_DETAILS.values())}")]
    kind = kinds[0]
    base = (*path, DELIVERY_DETAILS[kind])
    item = details[DELIVERY_DETAILS[kind]]
    if not isinstance(item, dict):
        return [(base, "must be an object")]
    if adding:
        arn = item.get(DELIVERY_ARN[kind])
        problem = _text_problem(arn, "the ARN of the algorithm or model package") or listing_arn_problem(str(arn))
        if problem:
            found.append(((*base, DELIVERY_ARN[kind]), problem))
        role = item.get("AccessRoleArn")
        if problem := (_text_problem(role, "the role AWS Marketplace assumes") or role_problem(str(role))):
            found.append(((*base, "AccessRoleArn"), problem))
    for key in ("SampleNotebookUrl", "RepositoryUrl"):
        if problem := (_text_problem(item.get(key), "a URL") or listing_url_problem(str(item.get(key)))):
            found.append(((*base, key), problem))
    if problem := _text_problem(item.get("UsageInstructions"), "usage instructions"):
        found.append(((*base, "UsageInstructions"), problem))
    for side, sample in (("InputProperties", "SampleInput"), ("OutputProperties", "SampleOutput")):
        properties = item.get(side)
        if not isinstance(properties, dict):
            found.append(((*base, side), "required: Description and a sample"))
            continue
        if problem := _text_problem(properties.get("Description"), "a description"):
            found.append(((*base, side, "Description"), problem))
        found += _sample_problems(properties.get(sample), (*base, side, sample))
    found += _recommended_problems(item.get("RecommendedInstanceTypes"), (*base, "RecommendedInstanceTypes"), kind)
    return found


def _recommended_problems(types: Any, path: ListingPath, kind: str) -> list[tuple[ListingPath, str]]:
    needed = ["BatchTransform", "RealtimeInference"] + (["Training"] if kind == "algorithm" else [])
    if not isinstance(types, dict):
        return [(path, f"required: {', '.join(needed)}")]
    found: list[tuple[ListingPath, str]] = []
    for key in needed:
        value = types.get(key)
        if problem := (_text_problem(value, "an instance type") or instance_type_problem(str(value))):
            found.append(((*path, key), problem))
    return found


def _version_problems(details: dict[str, Any], base: ListingPath) -> list[tuple[ListingPath, str]]:
    version = details.get("Version")
    if not isinstance(version, dict):
        return [((*base, "Version"), "required: VersionTitle and ReleaseNotes")]
    found = [
        ((*base, "Version", key), problem)
        for key, what in (("VersionTitle", "the version's title"), ("ReleaseNotes", "release notes"))
        if (problem := _text_problem(version.get(key), what))
    ]
    notes = version.get("ReleaseNotes")
    if isinstance(notes, str) and len(notes) >= LISTING_MAX_RELEASE_NOTES:
        found.append(((*base, "Version", "ReleaseNotes"), f"is {len(notes)} characters; AWS takes under 30,000"))
    return found


def _delivery_options_problems(change: dict[str, Any], base: ListingPath) -> list[tuple[ListingPath, str]]:
    details = change.get("DetailsDocument")
    if not isinstance(details, dict):
        return [(base, "required: the version's details")]
    adding = change.get("ChangeType") == ADD_VERSION
    found = _version_problems(details, base)
    options = details.get("DeliveryOptions")
    if not isinstance(options, list) or len(options) != 1 or not isinstance(options[0], dict):
        return [*found, ((*base, "DeliveryOptions"), "exactly one delivery option per version")]
    option_path = (*base, "DeliveryOptions", 0)
    if not adding and (problem := _text_problem(options[0].get("Id"), "the delivery option id to update")):
        found.append(((*option_path, "Id"), problem))
    return found + _delivery_details_problems(options[0].get("Details"), (*option_path, "Details"), adding=adding)


def _pricing_problems(change: dict[str, Any], base: ListingPath) -> list[tuple[ListingPath, str]]:
    details = _object(change.get("DetailsDocument"))
    found: list[tuple[ListingPath, str]] = []
    if details.get("PricingModel") != "Usage":
        found.append(((*base, "PricingModel"), "smbyo sends usage pricing: PricingModel must be Usage"))
    terms = [t for t in details.get("Terms") or [] if isinstance(t, dict) and t.get("Type") == "UsageBasedPricingTerm"]
    if len(terms) != 1:
        return [*found, ((*base, "Terms"), "exactly one UsageBasedPricingTerm")]
    term_path = (*base, "Terms", details["Terms"].index(terms[0]))
    if terms[0].get("CurrencyCode") != "USD":
        found.append(((*term_path, "CurrencyCode"), "the only currency AWS takes is USD"))
    cards = terms[0].get("RateCards")
    if not isinstance(cards, list) or len(cards) != 1 or not isinstance(cards[0], dict):
        return [*found, ((*term_path, "RateCards"), "exactly one RateCard")]
    for index, rate in enumerate(cards[0].get("RateCard") or []):
        path = (*term_path, "RateCards", 0, "RateCard", index)
        key, price = (rate.get("DimensionKey"), rate.get("Price")) if isinstance(rate, dict) else (None, None)
        if not isinstance(key, str) or not DIMENSION_KEY.fullmatch(key):
            found.append(
                (
                    (*path, "DimensionKey"),
                    f"{key!r} is not an ML pricing dimension (ml.TYPE.a.t, ml.TYPE.m.i.b, ml.TYPE.m.i.r or m.i.c)",
                )
            )
        if isinstance(price, bool) or not isinstance(price, int | float) or not price >= 0 or price == float("inf"):
            found.append(((*path, "Price"), f"{price!r} is not a price (a number, 0 or more)"))
    return found


def change_set_problems(kwargs: Mapping[str, Any]) -> list[tuple[ListingPath, str]]:
    """The rules the Catalog API documents for an ML product's change set (see the pages above), as
    (request path, problem) pairs: what the service model's document-typed ``DetailsDocument`` cannot say."""
    found: list[tuple[ListingPath, str]] = []
    changes = kwargs.get("ChangeSet")
    for index, change in enumerate(changes if isinstance(changes, list) else []):
        base: ListingPath = ("ChangeSet", index)
        if not isinstance(change, dict):
            continue
        change_type = change.get("ChangeType")
        entity = _object(change.get("Entity"))
        wanted = ENTITY_OF_CHANGE.get(str(change_type))
        if wanted and entity.get("Type") != wanted:
            found.append(((*base, "Entity", "Type"), f"{change_type} is a change of a {wanted} entity"))
        if problem := _text_problem(entity.get("Identifier"), "the entity's id"):
            found.append(((*base, "Entity", "Identifier"), problem))
        details_path = (*base, "DetailsDocument")
        if change_type in (ADD_VERSION, UPDATE_VERSION):
            found += _delivery_options_problems(change, details_path)
        elif change_type == RESTRICT_VERSION:
            ids = _object(change.get("DetailsDocument")).get("DeliveryOptionIds")
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
                found.append(((*details_path, "DeliveryOptionIds"), "required: the delivery option ids to restrict"))
        elif change_type == UPDATE_PRICING:
            found += _pricing_problems(change, details_path)
    return found
