"""smbyo's command line: parse, call one function of the core, render the result.

This is the only module that imports click. Heavy libraries (boto3, docker, jinja2, pandas) are
imported inside the commands that need them, so ``smbyo --help`` stays fast. Errors become user
messages and exit codes at one boundary, :func:`main`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import click

from sm_byo import __version__, signals
from sm_byo.errors import Interrupted, SmByoError, UsageError
from sm_byo.local.health import (
    STARTUP_HEALTH_CHECK_DEFAULT_SECONDS,
    STARTUP_HEALTH_CHECK_MAX_SECONDS,
    STARTUP_HEALTH_CHECK_MIN_SECONDS,
)
from sm_byo.runtime.payload import TRANSFORM_MAX_PAYLOAD_MB

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
COMPLETE_VAR = "_SMBYO_COMPLETE"  # click's shell completion protocol: `_SMBYO_COMPLETE=bash_source smbyo`


@dataclass
class AppState:
    json_mode: bool = False
    verbose: bool = False
    _ui: Any = None

    @property
    def ui(self) -> Any:
        if self._ui is None:
            from sm_byo.ui import ConsoleUI

            self._ui = ConsoleUI(json_mode=self.json_mode, verbose=self.verbose)
        return self._ui


def _state() -> AppState:
    return click.get_current_context().ensure_object(AppState)


def _show(result: Any, title: str, *, as_json: bool = False) -> None:
    """Render the result; ``as_json`` prints it as JSON even without --json (a --dry-run request).

    ``to_dict`` is the --json document; ``human_view``, when a result has one, is what a terminal
    shows instead (doctor's checklist, init's next commands) while the JSON shape stays as it is.
    """
    data = result.to_dict() if hasattr(result, "to_dict") else result
    if as_json and not _state().json_mode:
        import json

        _state().ui.raw((json.dumps(data, indent=2) + "\n").encode())
        return
    view = result.human_view() if hasattr(result, "human_view") else None
    _state().ui.result(data, title=title, view=view)


def _version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"smbyo {__version__}", f"python {sys.version.split()[0]}"]
    for package in ("boto3", "botocore", "docker", "click", "jinja2", "pydantic", "rich"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} (not installed)")
    return "\n".join(parts)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version_text())
        ctx.exit(0)


# --- shared options -----------------------------------------------------------------------------


def _json_flag(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(AppState).json_mode = True


def _verbose_flag(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(AppState).verbose = True


def common_options(func: F) -> F:
    """--json and -v are accepted after the command too (`smbyo build --json`)."""
    func = click.option(
        "--json",
        "json_mode",
        is_flag=True,
        expose_value=False,
        callback=_json_flag,
        help="Print only the JSON result on stdout (progress goes to stderr).",
    )(func)
    func = click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_verbose_flag,
        help="More detail, and tracebacks for unexpected errors.",
    )(func)
    return func


def manifest_option(func: F) -> F:
    return click.option(
        "-f",
        "--manifest",
        "manifest_path",
        type=click.Path(path_type=Path),
        default=Path("smbyo.yaml"),
        show_default=True,
        help="The manifest to read.",
    )(func)


def _image_reference(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--base-image goes into the Dockerfile's FROM line: the manifest's rule for image.base applies."""
    from sm_byo.rules import image_reference_problem

    problem = image_reference_problem(value) if value is not None else None
    if problem:
        raise click.BadParameter(f"{value!r} {problem}", param=param)
    return value


def base_image_option(func: F) -> F:
    return click.option("--base-image", callback=_image_reference, help="Override image.base from the manifest.")(func)


def aws_options(func: F) -> F:
    func = click.option("--region", help="AWS region (default: AWS_REGION / AWS_DEFAULT_REGION / ~/.aws).")(func)
    func = click.option("--profile", help="AWS profile (default: AWS_PROFILE / ~/.aws).")(func)
    return func


def image_option(func: F) -> F:
    return click.option(
        "--image",
        help="Image to run or register, in every role (default: <name>:latest locally, the pushed ECR URI in the "
        "cloud; with image.inference, serving uses <name>:latest-inference).",
    )(func)


def isolation_option(func: F) -> F:
    """Buyers' conditions for a local serving container (sm_byo.local.serving): on unless a seller debugs."""
    return click.option(
        "--network-isolation/--no-network-isolation",
        default=True,
        show_default=True,
        help="Local: run the serving container as buyers' containers run (no network route out, no AWS "
        "credentials, no instance metadata; the host still reaches its port). Off only to debug: buyers "
        "cannot turn it off.",
    )(func)


def startup_timeout_option(func: F) -> F:
    """SageMaker's ContainerStartupHealthCheckTimeoutInSeconds: its range, its default (sm_byo.local.health)."""
    return click.option(
        "--container-startup-health-check-timeout",
        "startup_timeout",
        type=click.IntRange(STARTUP_HEALTH_CHECK_MIN_SECONDS, STARTUP_HEALTH_CHECK_MAX_SECONDS),
        default=STARTUP_HEALTH_CHECK_DEFAULT_SECONDS,
        show_default=True,
        metavar="SECONDS",
        help="Seconds the container has to answer /ping 200 (each within 2 s) after it starts, as an endpoint's "
        f"ContainerStartupHealthCheckTimeoutInSeconds ({STARTUP_HEALTH_CHECK_MIN_SECONDS}-"
        f"{STARTUP_HEALTH_CHECK_MAX_SECONDS}).",
    )(func)


def wait_options(func: F) -> F:
    func = click.option("--timeout", type=click.FloatRange(min=1), help="Stop waiting after this many seconds.")(func)
    func = click.option("--wait/--no-wait", default=True, show_default=True, help="Poll until a terminal state.")(func)
    return func


def product_options(func: F) -> F:
    """A published product to serve instead of the image's model (transform, deploy): cloud only."""
    func = click.option(
        "--algorithm", metavar="NAME|ARN",
        help="Cloud: serve --model (s3://) with the published algorithm that trained it (a model package is made "
        "first).",
    )(func)  # fmt: skip
    return click.option(
        "--model-package", metavar="NAME|ARN",
        help="Cloud: serve a published (or subscribed) model package instead of --model; network isolation.",
    )(func)  # fmt: skip


def dry_run_option(func: F) -> F:
    return click.option(
        "--dry-run",
        is_flag=True,
        help="Print the plan (each request's boto3 kwargs, in order) after every check; run and send nothing.",
    )(func)


def _given_flags() -> frozenset[str]:
    """The options typed on the command line (not defaults), as their flags: ``--role``, ``--wait/--no-wait``."""
    ctx = click.get_current_context()
    given = set()
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        if ctx.get_parameter_source(param.name) is click.core.ParameterSource.COMMANDLINE:
            flags = [opt for opt in param.opts if opt.startswith("--")] or list(param.opts)
            given.add("/".join([flags[0], *param.secondary_opts]))
    return frozenset(given)


def _load(manifest_path: Path) -> Any:
    from sm_byo.manifest import load_manifest

    return load_manifest(manifest_path)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``("a=1", "b=2")`` -> ``{"a": "1", "b": "2"}``; a missing '=' is a usage error naming the option."""
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint=option)
        pairs[key.strip()] = value
    return pairs


def _read_body(body: str) -> bytes:
    if body == "-":
        return sys.stdin.buffer.read()
    path = Path(body)
    if not path.is_file():
        raise UsageError(f"--body {body}: file not found", hint="Pass a file with the request body, or - for stdin.")
    return path.read_bytes()


def _ids(value: str | None) -> tuple[str, ...] | None:
    """``"a,b"`` -> ``("a", "b")``; an empty item stays, for pre-flight to name (the service model's ID pattern)."""
    return None if value is None else tuple(item.strip() for item in value.split(","))


def training_job_options(func: F) -> F:
    """The training job's settings (CreateTrainingJob); each overrides its manifest default under training.job
    (a channel's distribution: training.channels[].distribution)."""
    options = [
        click.option(
            "--instance-count", type=int, metavar="N",
            help="ResourceConfig.InstanceCount (default: training.job, else 1).",
        ),
        click.option(
            "--distribution", multiple=True, metavar="CHANNEL=TYPE",
            help="A channel's S3DataDistributionType: FullyReplicated or ShardedByS3Key (repeatable).",
        ),
        click.option("--spot/--no-spot", default=None, help="EnableManagedSpotTraining (needs --max-wait)."),
        click.option("--max-wait", type=int, metavar="SECONDS", help="StoppingCondition.MaxWaitTimeInSeconds (spot)."),
        click.option(
            "--max-runtime", type=int, metavar="SECONDS",
            help="StoppingCondition.MaxRuntimeInSeconds (default: training.job, else 86400).",
        ),
        click.option(
            "--checkpoint-uri", metavar="URI",
            help="CheckpointConfig.S3Uri: s3://... on SageMaker; a local directory with --local (resumable).",
        ),
        click.option(
            "--checkpoint-local-path", metavar="PATH", help="CheckpointConfig.LocalPath (default /opt/ml/checkpoints)."
        ),
        click.option("--vpc-subnets", metavar="ID,ID", help="Cloud: VpcConfig.Subnets (with --vpc-security-groups)."),
        click.option("--vpc-security-groups", metavar="ID,ID", help="Cloud: VpcConfig.SecurityGroupIds."),
        click.option("--volume-kms-key", metavar="KEY", help="Cloud: ResourceConfig.VolumeKmsKeyId."),
        click.option("--output-kms-key", metavar="KEY", help="Cloud: OutputDataConfig.KmsKeyId."),
        click.option(
            "--env", "environment", multiple=True, metavar="KEY=VALUE",
            help="Environment variable of the training container (repeatable).",
        ),
        click.option(
            "--volume-size", type=int, metavar="GB",
            help="ResourceConfig.VolumeSizeInGB (default: training.job, else 30).",
        ),
        click.option("--network-isolation/--no-network-isolation", default=None, help="EnableNetworkIsolation."),
        click.option(
            "--inter-container-encryption/--no-inter-container-encryption", default=None,
            help="Cloud: EnableInterContainerTrafficEncryption.",
        ),
        click.option(
            "--job-tag", "job_tags", multiple=True, metavar="KEY=VALUE", help="A tag of the job (repeatable)."
        ),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _training_job_settings(
    *,
    instance_count: int | None,
    distribution: tuple[str, ...],
    spot: bool | None,
    max_wait: int | None,
    max_runtime: int | None,
    checkpoint_uri: str | None,
    checkpoint_local_path: str | None,
    vpc_subnets: str | None,
    vpc_security_groups: str | None,
    volume_kms_key: str | None,
    output_kms_key: str | None,
    environment: tuple[str, ...],
    volume_size: int | None,
    network_isolation: bool | None,
    inter_container_encryption: bool | None,
    job_tags: tuple[str, ...],
) -> Any:
    from sm_byo.options import TrainingJobSettings

    return TrainingJobSettings(
        instance_count=instance_count,
        volume_size_gb=volume_size,
        max_runtime_seconds=max_runtime,
        spot=spot,
        max_wait_seconds=max_wait,
        checkpoint_uri=checkpoint_uri,
        checkpoint_local_path=checkpoint_local_path,
        vpc_subnets=_ids(vpc_subnets),
        vpc_security_group_ids=_ids(vpc_security_groups),
        volume_kms_key=volume_kms_key,
        output_kms_key=output_kms_key,
        network_isolation=network_isolation,
        inter_container_encryption=inter_container_encryption,
        environment=_pairs(environment, "--env"),
        tags=_pairs(job_tags, "--job-tag"),
        distribution=_pairs(distribution, "--distribution"),
    )


# --- the group ----------------------------------------------------------------------------------


@click.group(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--json", "json_mode", is_flag=True, help="Print only the JSON result on stdout (progress goes to stderr)."
)
@click.option("-v", "--verbose", is_flag=True, help="More detail, and tracebacks for unexpected errors.")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show smbyo's version and its key libraries' versions.",
)
@click.pass_context
def cli(ctx: click.Context, json_mode: bool, verbose: bool) -> None:
    """smbyo: from an algorithm to an AWS SageMaker Algorithm or Model Package on AWS Marketplace.

    One manifest (smbyo.yaml), one CLI: build the container, run it locally under the SageMaker
    contract, push it, train/transform/host it on SageMaker, and publish it.
    """
    state = ctx.ensure_object(AppState)
    state.json_mode = state.json_mode or json_mode
    state.verbose = state.verbose or verbose


# --- project and image --------------------------------------------------------------------------


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--name", help="Algorithm name (default: the directory's name).")
@common_options
def init(directory: Path, name: str | None) -> None:
    """Scaffold an algorithm project in DIRECTORY (a working decision-tree example)."""
    from sm_byo.scaffold import init_project

    _show(init_project(directory, name), "Project created")


@cli.command()
@manifest_option
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Output directory (default: build/ next to the manifest)."
)
@base_image_option
@click.option(
    "--ca-bundle", type=click.Path(path_type=Path), help="PEM with extra CA certificates for pip inside the build."
)
@common_options
def render(manifest_path: Path, output: Path | None, base_image: str | None, ca_bundle: Path | None) -> None:
    """Render the build context (Dockerfile, nginx.conf, serve, train, wsgi.py, your code)."""
    from sm_byo.render import render_context

    loaded = _load(manifest_path)
    _show(
        render_context(loaded, output or loaded.root / "build", base_image=base_image, ca_bundle=ca_bundle), "Rendered"
    )


@cli.command()
@manifest_option
@click.option("--tag", help="Image tag (default: <name>:latest; with image.inference also <tag>-inference).")
@base_image_option
@click.option("--network", help="Network mode for RUN steps (e.g. host).")
@click.option(
    "--ca-bundle",
    type=click.Path(path_type=Path),
    help="PEM with extra CA certificates for pip inside the build (TLS proxies).",
)
@click.option("--no-cache", is_flag=True, help="Build every layer again.")
@common_options
def build(
    manifest_path: Path,
    tag: str | None,
    base_image: str | None,
    network: str | None,
    ca_bundle: Path | None,
    no_cache: bool,
) -> None:
    """Render and build the image with docker-py, streaming the build steps (both images with image.inference)."""
    from sm_byo.build import build_image

    loaded = _load(manifest_path)
    result = build_image(
        loaded, _state().ui, tag=tag, base_image=base_image, network=network, ca_bundle=ca_bundle, no_cache=no_cache
    )
    _show(result, "Image built")


@cli.command()
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
def schema(output: Path | None) -> None:
    """Print the manifest's JSON Schema (for editor completion)."""
    import json

    from sm_byo.manifest import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if output:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"-o/--output {output}: cannot write it: {exc.strerror or exc}", hint="Pass a file path you can write."
            ) from None
    else:
        click.echo(text, nl=False)


@cli.command()
@manifest_option
@click.option(
    "--tag", help="Local image to push (default: <name>:latest; with image.inference also <tag>-inference)."
)
@aws_options
@common_options
def push(manifest_path: Path, tag: str | None, profile: str | None, region: str | None) -> None:
    """Create the ECR repository if missing and push the image (or both, with image.inference) to it."""
    from sm_byo.cloud.push import push_image

    loaded = _load(manifest_path)
    _show(push_image(loaded, _state().ui, tag=tag, profile=profile, region=region), "Pushed")


# --- training, transform, hosting ---------------------------------------------------------------


@cli.command()
@manifest_option
@click.option("--local", "local", is_flag=True, help="Run the training container in local Docker.")
@click.option(
    "--data",
    "data",
    multiple=True,
    metavar="CHANNEL=PATH",
    help="Channel data: a local path (or s3:// URI in the cloud).",
)
@click.option(
    "-H", "--hyperparameter", "hyperparameters", multiple=True, metavar="NAME=VALUE", help="Hyperparameter value."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("output"),
    show_default=True,
    help="Local: where model.tar.gz goes.",
)
@click.option("--input-mode", type=click.Choice(["File", "Pipe"]), help="Override every channel's input mode.")
@click.option("--instance-type", help="Instance type of the request (default: the manifest's first).")
@click.option("--role", help="Cloud: IAM role ARN SageMaker assumes (default: validation.role).")
@click.option("--logs/--no-logs", default=True, show_default=True, help="Cloud: stream CloudWatch logs.")
@click.option(
    "--algorithm", metavar="NAME|ARN",
    help="Cloud: train a published (or subscribed) algorithm instead of the image, checked against its "
    "TrainingSpecification; runs with network isolation.",
)  # fmt: skip
@training_job_options
@dry_run_option
@image_option
@wait_options
@aws_options
@common_options
def train(
    manifest_path: Path,
    local: bool,
    data: tuple[str, ...],
    hyperparameters: tuple[str, ...],
    out: Path,
    input_mode: str | None,
    instance_type: str | None,
    role: str | None,
    logs: bool,
    algorithm: str | None,
    dry_run: bool,
    image: str | None,
    wait: bool,
    timeout: float | None,
    profile: str | None,
    region: str | None,
    **job: Any,
) -> None:
    """Train: locally in Docker (--local) or as a SageMaker training job; the same request either way."""
    from sm_byo.options import CloudOptions, TrainCommand

    loaded = _load(manifest_path)
    options = TrainCommand(
        local=local,
        dry_run=dry_run,
        image=image,
        cloud=CloudOptions(profile=profile, region=region, wait=wait, timeout=timeout, logs=logs),
        given=_given_flags(),
        data=_pairs(data, "--data"),
        hyperparameters=_pairs(hyperparameters, "-H"),
        input_mode=input_mode,
        instance_type=instance_type,
        role=role,
        out=out,
        job=_training_job_settings(**job),
        algorithm=algorithm,
    )
    if local:
        from sm_byo.local.training import train_local

        result: Any = train_local(loaded, _state().ui, options)
    else:
        from sm_byo.cloud.training import train_cloud

        result = train_cloud(loaded, _state().ui, options)
    _show(result, "Training", as_json=dry_run)


def _ranges(values: tuple[str, ...]) -> dict[str, str]:
    """``--range NAME=SPEC`` (repeatable); a name given twice is a mistake, not a silent override."""
    ranges: dict[str, str] = {}
    for item in values:
        name, spec = next(iter(_pairs((item,), "--range").items()))
        if name in ranges:
            raise click.BadParameter(f"{name} is given twice", param_hint="--range")
        ranges[name] = spec
    return ranges


@cli.command()
@manifest_option
@click.option("--local", "local", is_flag=True, help="Run the trials as training jobs in local Docker.")
@click.option(
    "--data",
    "data",
    multiple=True,
    metavar="CHANNEL=PATH",
    help="Channel data: a local path (or s3:// URI in the cloud).",
)
@click.option(
    "-H",
    "--hyperparameter",
    "hyperparameters",
    multiple=True,
    metavar="NAME=VALUE",
    help="A static hyperparameter: fixed for every trial, and not tuned (repeatable).",
)
@click.option(
    "--range",
    "ranges",
    multiple=True,
    metavar="NAME=MIN:MAX[:SCALING]|NAME=A,B,C",
    help="Narrow a tunable hyperparameter's range (Integer/Continuous MIN:MAX with an optional Auto, Linear, "
    "Logarithmic or ReverseLogarithmic scaling; Categorical values); repeatable.",
)
@click.option(
    "--strategy",
    type=click.Choice(["Bayesian", "Random", "Hyperband", "Grid"]),
    default="Bayesian",
    show_default=True,
    help="HyperParameterTuningJobConfig.Strategy.",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(min=1),
    metavar="N",
    help="ResourceLimits.MaxNumberOfTrainingJobs (default 10; Grid: every combination).",
)
@click.option(
    "--max-parallel-jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="ResourceLimits.MaxParallelTrainingJobs (locally also at most this machine's cores).",
)
@click.option(
    "--early-stopping",
    type=click.Choice(["Off", "Auto"]),
    default="Off",
    show_default=True,
    help="TrainingJobEarlyStoppingType.",
)
@click.option(
    "--hyperband-min-resource",
    type=click.IntRange(min=1),
    metavar="EPOCHS",
    help="HyperbandStrategyConfig.MinResource (default 1).",
)
@click.option(
    "--hyperband-max-resource",
    type=click.IntRange(min=1),
    metavar="EPOCHS",
    help="HyperbandStrategyConfig.MaxResource (default: the epochs static hyperparameter).",
)
@click.option(
    "--random-seed",
    type=click.IntRange(min=0),
    metavar="N",
    help="HyperParameterTuningJobConfig.RandomSeed: the same seed, a more consistent search (locally: the same "
    "hyperparameters, trial by trial).",
)
@click.option(
    "--warm-start-from", multiple=True, metavar="NAME", help="Cloud: a parent tuning job (repeatable, at most 5)."
)
@click.option(
    "--warm-start-type",
    type=click.Choice(["IdenticalDataAndAlgorithm", "TransferLearning"]),
    default="IdenticalDataAndAlgorithm",
    show_default=True,
    help="Cloud: WarmStartConfig.WarmStartType.",
)
@click.option("--algorithm", metavar="NAME|ARN", help="Cloud: tune a published algorithm instead of the image.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("tuning"),
    show_default=True,
    help="Local: the study (resumable), the trials, trials.json/.csv and the best model.tar.gz.",
)
@click.option("--input-mode", type=click.Choice(["File", "Pipe"]), help="Override every channel's input mode.")
@click.option("--instance-type", help="Instance type of each trial (default: the manifest's first).")
@click.option("--role", help="Cloud: IAM role ARN SageMaker assumes (default: validation.role).")
@click.option("--logs/--no-logs", default=True, show_default=True, help="Cloud: stream CloudWatch logs.")
@training_job_options
@dry_run_option
@image_option
@wait_options
@aws_options
@common_options
def tune(
    manifest_path: Path,
    local: bool,
    data: tuple[str, ...],
    hyperparameters: tuple[str, ...],
    ranges: tuple[str, ...],
    strategy: str,
    max_jobs: int | None,
    max_parallel_jobs: int,
    early_stopping: str,
    hyperband_min_resource: int | None,
    hyperband_max_resource: int | None,
    random_seed: int | None,
    warm_start_from: tuple[str, ...],
    warm_start_type: str,
    algorithm: str | None,
    out: Path,
    input_mode: str | None,
    instance_type: str | None,
    role: str | None,
    logs: bool,
    dry_run: bool,
    image: str | None,
    wait: bool,
    timeout: float | None,
    profile: str | None,
    region: str | None,
    **job: Any,
) -> None:
    """Tune hyperparameters: trials as local training jobs (--local) or a SageMaker tuning job; the same request."""
    from sm_byo.options import CloudOptions, TuneCommand

    loaded = _load(manifest_path)
    options = TuneCommand(
        local=local,
        dry_run=dry_run,
        image=image,
        cloud=CloudOptions(profile=profile, region=region, wait=wait, timeout=timeout, logs=logs),
        given=_given_flags(),
        data=_pairs(data, "--data"),
        hyperparameters=_pairs(hyperparameters, "-H"),
        input_mode=input_mode,
        instance_type=instance_type,
        role=role,
        job=_training_job_settings(**job),
        strategy=strategy,
        max_jobs=max_jobs,
        max_parallel_jobs=max_parallel_jobs,
        ranges=_ranges(ranges),
        early_stopping=early_stopping,
        warm_start_from=warm_start_from,
        warm_start_type=warm_start_type,
        algorithm=algorithm,
        out=out,
        hyperband_min_resource=hyperband_min_resource,
        hyperband_max_resource=hyperband_max_resource,
        random_seed=random_seed,
    )
    if local:
        from sm_byo.local.tuning import tune_local

        result: Any = tune_local(loaded, _state().ui, options)
    else:
        from sm_byo.cloud.tuning import tune_cloud  # type: ignore[import-not-found,unused-ignore]

        result = tune_cloud(loaded, _state().ui, options)
    _show(result, "Tuning", as_json=dry_run)


@cli.command()
@manifest_option
@click.option("--local", "local", is_flag=True, help="Run the batch transform against a local container.")
@click.option(
    "--model", default="",
    help="model.tar.gz or directory (local); S3 URI or model name (cloud; with --algorithm, the model it trained).",
)
@product_options
@click.option(
    "--input", "input_path", required=True, help="Input file or directory (local); S3 URI or local path (cloud)."
)
@click.option("--output", "output_path", required=True, help="Output directory (local) or S3 URI (cloud).")
@click.option("--content-type", help="Content type of the input (default: the manifest's first).")
@click.option("--accept", help="Accept type of the output (default: the manifest's first).")
@click.option("--split-type", type=click.Choice(["None", "Line"]), default="Line", show_default=True)
@click.option(
    "--strategy", type=click.Choice(["MultiRecord", "SingleRecord"]), help="Batch strategy (default: the container's)."
)
@click.option(
    "--max-payload-mb",
    type=click.IntRange(min=0, max=TRANSFORM_MAX_PAYLOAD_MB),
    help="Max request size in MB (default: the container's, 6).",
)
@click.option("--concurrency", type=click.IntRange(min=1, max=64), help="Parallel requests (default: the container's).")
@click.option(
    "--invocations-max-retries",
    type=click.IntRange(min=0, max=3),  # sm_byo.specs.transform: SageMaker's range and default
    metavar="N",
    help="ModelClientConfig.InvocationsMaxRetries: send a request that got no answer or a 5xx up to N more "
    "times (0-3; default 3, SageMaker's).",
)
@click.option("--instance-type", help="Instance type of the request (default: the manifest's first transform type).")
@click.option(
    "--instance-count",
    type=click.IntRange(min=1),
    metavar="N",
    help="TransformResources.InstanceCount: the input files are spread over N instances (locally, N containers "
    "sharing this machine's CPUs; default: inference.transform_instance_count, 1).",
)
@click.option(
    "--env", "environment", multiple=True, metavar="KEY=VALUE", help="Environment of the job's container (repeatable)."
)
@click.option("--output-kms-key", metavar="KEY", help="TransformOutput.KmsKeyId: KMS key of the .out files on S3.")
@click.option("--volume-kms-key", metavar="KEY", help="TransformResources.VolumeKmsKeyId: KMS key of the volumes.")
@click.option(
    "--assemble-with",
    type=click.Choice(["None", "Line"]),
    default="Line",
    show_default=True,
    help="TransformOutput.AssembleWith: end each answer with a newline (Line) or join them as received (None).",
)
@click.option("--input-filter", metavar="JSONPATH", help="DataProcessing.InputFilter: what of each record to send.")
@click.option(
    "--join-source",
    type=click.Choice(["None", "Input"]),
    help="DataProcessing.JoinSource: Input joins each input record with its output record.",
)
@click.option("--output-filter", metavar="JSONPATH", help="DataProcessing.OutputFilter: what of each result to keep.")
@click.option("--role", help="Cloud: IAM role ARN for the model (when given a model artifact).")
@click.option("--download", type=click.Path(path_type=Path), help="Cloud: download the .out files here.")
@isolation_option
@dry_run_option
@image_option
@wait_options
@aws_options
@common_options
def transform(
    manifest_path: Path,
    local: bool,
    model: str,
    model_package: str | None,
    algorithm: str | None,
    input_path: str,
    output_path: str,
    content_type: str | None,
    accept: str | None,
    split_type: str,
    strategy: str | None,
    max_payload_mb: int | None,
    concurrency: int | None,
    invocations_max_retries: int | None,
    instance_type: str | None,
    instance_count: int | None,
    environment: tuple[str, ...],
    output_kms_key: str | None,
    volume_kms_key: str | None,
    assemble_with: str,
    input_filter: str | None,
    join_source: str | None,
    output_filter: str | None,
    role: str | None,
    download: Path | None,
    network_isolation: bool,
    dry_run: bool,
    image: str | None,
    wait: bool,
    timeout: float | None,
    profile: str | None,
    region: str | None,
) -> None:
    """Batch transform: writes <file>.out for every input file; the same two requests either way."""
    from sm_byo.options import CloudOptions, DataProcessing, TransformCommand

    loaded = _load(manifest_path)
    options = TransformCommand(
        local=local,
        dry_run=dry_run,
        image=image,
        cloud=CloudOptions(profile=profile, region=region, wait=wait, timeout=timeout),
        given=_given_flags(),
        model=model,
        input=input_path,
        output=output_path,
        content_type=content_type,
        accept=accept,
        split_type=split_type,
        strategy=strategy,
        max_payload_mb=max_payload_mb,
        concurrency=concurrency,
        invocations_max_retries=invocations_max_retries,
        instance_type=instance_type,
        instance_count=instance_count,
        environment=_pairs(environment, "--env"),
        output_kms_key=output_kms_key,
        volume_kms_key=volume_kms_key,
        assemble_with=assemble_with,
        data_processing=DataProcessing(input_filter, join_source, output_filter),
        role=role,
        download=download,
        model_package=model_package,
        algorithm=algorithm,
        network_isolation=network_isolation,
    )
    if local:
        from sm_byo.local.transform import transform_local_command

        result: Any = transform_local_command(loaded, _state().ui, options)
    else:
        from sm_byo.cloud.transform import transform_cloud

        result = transform_cloud(loaded, _state().ui, options)
    _show(result, "Transform", as_json=dry_run)


@cli.command()
@manifest_option
@click.option(
    "--local", "local", is_flag=True, required=True, help="Serve from local Docker (the only mode; see deploy)."
)
@click.option("--model", required=True, type=click.Path(path_type=Path), help="model.tar.gz or a model directory.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@startup_timeout_option
@isolation_option
@image_option
@common_options
def serve(
    manifest_path: Path,
    local: bool,
    model: Path,
    port: int,
    startup_timeout: int,
    network_isolation: bool,
    image: str | None,
) -> None:
    """Run the serving container in the foreground until Ctrl-C."""
    from sm_byo.local.hosting import serve_local

    loaded = _load(manifest_path)
    result = serve_local(
        loaded,
        _state().ui,
        image=image,
        model=model,
        port=port,
        startup_timeout=startup_timeout,
        network_isolation=network_isolation,
    )
    _show(result, "Served")


@cli.command()
@manifest_option
@click.option(
    "--model", "model_data", default="", help="S3 URI of model.tar.gz (with --algorithm: the model it trained)."
)
@product_options
@click.option("--name", help="Endpoint name, also the model's and endpoint config's (default: <name>-<timestamp>).")
@click.option("--instance-type", help="Instance type (default: the manifest's first real-time type).")
@click.option("--instance-count", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--role", help="IAM role ARN for the model (default: validation.role).")
@dry_run_option
@image_option
@wait_options
@aws_options
@common_options
def deploy(
    manifest_path: Path,
    model_data: str,
    model_package: str | None,
    algorithm: str | None,
    name: str | None,
    instance_type: str | None,
    instance_count: int,
    role: str | None,
    dry_run: bool,
    image: str | None,
    wait: bool,
    timeout: float | None,
    profile: str | None,
    region: str | None,
) -> None:
    """CreateModel + CreateEndpointConfig + CreateEndpoint (undone if a step fails), then wait for InService."""
    from sm_byo.cloud.hosting import deploy_endpoint
    from sm_byo.options import CloudOptions, DeployCommand

    loaded = _load(manifest_path)
    options = DeployCommand(
        dry_run=dry_run,
        image=image,
        cloud=CloudOptions(profile=profile, region=region, wait=wait, timeout=timeout),
        given=_given_flags(),
        model_data=model_data,
        name=name,
        instance_type=instance_type,
        instance_count=instance_count,
        role=role,
        model_package=model_package,
        algorithm=algorithm,
    )
    _show(deploy_endpoint(loaded, _state().ui, options), "Endpoint", as_json=dry_run)


@cli.command()
@click.argument("endpoint", required=False)
@click.option("--local", "local_url", metavar="URL", help="Invoke a local container, e.g. http://localhost:8080.")
@click.option("--body", required=True, help="File with the request body, or - for stdin.")
@click.option("--content-type", default="text/csv", show_default=True)
@click.option("--accept", help="Accept header (default: the container's first).")
@click.option("--custom-attributes", help="X-Amzn-SageMaker-Custom-Attributes value.")
@aws_options
@common_options
def invoke(
    endpoint: str | None,
    local_url: str | None,
    body: str,
    content_type: str,
    accept: str | None,
    custom_attributes: str | None,
    profile: str | None,
    region: str | None,
) -> None:
    """Send one inference request; the response body goes to stdout."""
    if bool(endpoint) == bool(local_url):
        raise UsageError(
            "give either an ENDPOINT name or --local URL (exactly one)",
            hint="e.g. `smbyo invoke my-endpoint --body row.csv` or "
            "`smbyo invoke --local http://localhost:8080 --body row.csv`.",
        )
    payload = _read_body(body)
    if local_url:
        from sm_byo.local.invoke import invoke_url

        response: Any = invoke_url(
            local_url, payload, content_type=content_type, accept=accept, custom_attributes=custom_attributes
        )
    else:
        from sm_byo.cloud.hosting import invoke_endpoint

        response = invoke_endpoint(
            str(endpoint),
            payload,
            content_type=content_type,
            accept=accept,
            custom_attributes=custom_attributes,
            profile=profile,
            region=region,
        )
    if _state().json_mode:
        _show(response, "Response")
    else:
        _state().ui.raw(response.body)


@cli.command()
@click.argument("arguments", nargs=-1, metavar="KIND NAME|ARN...")
@click.option("--dry-run", is_flag=True, help="List what would be deleted (kind, name); delete nothing.")
@click.option("--data", is_flag=True, help="project: also the S3 objects smbyo uploaded for the project.")
@click.option("--images", is_flag=True, help="project: also the ECR image tags the project's resources run.")
@manifest_option
@aws_options
@common_options
def delete(
    arguments: tuple[str, ...],
    dry_run: bool,
    data: bool,
    images: bool,
    manifest_path: Path,
    profile: str | None,
    region: str | None,
) -> None:
    """Delete what smbyo created: KIND is endpoint (with its config and models), model, algorithm,
    model-package, or project (every resource tagged with the manifest's name). `smbyo delete ENDPOINT`
    is the endpoint form."""
    from sm_byo.cloud.delete import delete_command, delete_resources
    from sm_byo.options import CloudOptions

    cloud = CloudOptions(profile=profile, region=region)
    options = delete_command(arguments, dry_run=dry_run, data=data, images=images, cloud=cloud)
    loaded = _load(manifest_path) if options.kind == "project" else None
    _show(delete_resources(options, _state().ui, loaded), "Would delete" if dry_run else "Deleted")


@cli.command()
@click.argument(
    "kind",
    type=click.Choice(
        ["training-job", "transform-job", "tuning-job", "endpoint", "algorithm", "model-package", "change-set"]
    ),
)
@click.argument("name")
@click.option("--logs/--no-logs", default=True, show_default=True, help="Stream CloudWatch logs (jobs, endpoints).")
@click.option("--timeout", type=click.FloatRange(min=1), help="Stop waiting after this many seconds.")
@aws_options
@common_options
def wait(kind: str, name: str, logs: bool, timeout: float | None, profile: str | None, region: str | None) -> None:
    """Resume polling something already submitted, until it reaches a terminal state (a tuning job: with
    the table of its trials)."""
    from sm_byo.cloud.wait import wait_for

    _show(wait_for(kind, name, _state().ui, logs=logs, timeout=timeout, profile=profile, region=region), "Finished")


# --- publishing ---------------------------------------------------------------------------------


@cli.group()
def publish() -> None:
    """Create an Algorithm or a Model Package, or list a version on AWS Marketplace (checked first; --dry-run
    sends nothing)."""


def _publish_options(
    dry_run: bool, image: str | None, wait: bool, timeout: float | None, profile: str | None, region: str | None
) -> Any:
    from sm_byo.options import CloudOptions, PublishCommand

    cloud = CloudOptions(profile=profile, region=region, wait=wait, timeout=timeout)
    return PublishCommand(dry_run=dry_run, image=image, cloud=cloud, given=_given_flags())


@publish.command("algorithm")
@manifest_option
@dry_run_option
@image_option
@wait_options
@aws_options
@common_options
def publish_algorithm_command(
    manifest_path: Path,
    dry_run: bool,
    image: str | None,
    wait: bool,
    timeout: float | None,
    profile: str | None,
    region: str | None,
) -> None:
    """CreateAlgorithm from the manifest, then poll DescribeAlgorithm to Completed/Failed."""
    from sm_byo.cloud.publish import publish_algorithm

    options = _publish_options(dry_run, image, wait, timeout, profile, region)
    _show(publish_algorithm(_load(manifest_path), _state().ui, options), "Algorithm", as_json=dry_run)


@publish.command("model-package")
@manifest_option
@click.option("--model-data", required=True, help="S3 URI of the model.tar.gz the package serves.")
@dry_run_option
@image_option
@wait_options
@aws_options
@common_options
def publish_model_package_command(
    manifest_path: Path,
    model_data: str,
    dry_run: bool,
    image: str | None,
    wait: bool,
    timeout: float | None,
    profile: str | None,
    region: str | None,
) -> None:
    """CreateModelPackage from the manifest, then poll DescribeModelPackage to Completed/Failed."""
    from sm_byo.cloud.publish import publish_model_package

    options = replace(_publish_options(dry_run, image, wait, timeout, profile, region), model_data=model_data)
    _show(publish_model_package(_load(manifest_path), _state().ui, options), "Model package", as_json=dry_run)


@publish.command("listing")
@manifest_option
@click.option(
    "--arn", metavar="ARN", help="The algorithm or model package to list (default: the manifest's fixed name)."
)
@click.option("--validate", is_flag=True, help="Send the change set with Intent VALIDATE: checked by AWS, not applied.")
@click.option(
    "--update",
    metavar="VERSION",
    help="Change this version's details (UpdateDeliveryOptions): its delivery option id or its title.",
)
@click.option(
    "--restrict",
    multiple=True,
    metavar="VERSION",
    help="Withdraw this version (RestrictDeliveryOptions): its delivery option id or its title (repeatable).",
)
@dry_run_option
@wait_options
@aws_options
@common_options
def publish_listing_command(
    manifest_path: Path,
    arn: str | None,
    validate: bool,
    update: str | None,
    restrict: tuple[str, ...],
    dry_run: bool,
    wait: bool,
    timeout: float | None,
    profile: str | None,
    region: str | None,
) -> None:
    """Add a version to an AWS Marketplace ML product (Catalog API StartChangeSet), then poll DescribeChangeSet."""
    from sm_byo.cloud.listing import publish_listing
    from sm_byo.options import CloudOptions, ListingCommand

    options = ListingCommand(
        dry_run=dry_run,
        cloud=CloudOptions(profile=profile, region=region, wait=wait, timeout=timeout),
        given=_given_flags(),
        arn=arn,
        validate=validate,
        update=update,
        restrict=restrict,
    )
    _show(publish_listing(_load(manifest_path), _state().ui, options), "Listing", as_json=dry_run)


@cli.command()
@manifest_option
@click.option("--local", "local", is_flag=True, required=True, help="Run the validation profile in local Docker.")
@startup_timeout_option
@isolation_option
@image_option
@common_options
def validate(
    manifest_path: Path, local: bool, startup_timeout: int, network_isolation: bool, image: str | None
) -> None:
    """Run the manifest's validation profile locally (train, metrics, serve, /ping, 6 MB, transform)."""
    from sm_byo.local.validate import validate_local

    loaded = _load(manifest_path)
    report = validate_local(
        loaded, _state().ui, image=image, startup_timeout=startup_timeout, network_isolation=network_isolation
    )
    _show(report, "Validation")


@cli.command()
@click.option(
    "-f",
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path),
    help="Manifest to check (default: ./smbyo.yaml).",
)
@aws_options
@common_options
def doctor(manifest_path: Path | None, profile: str | None, region: str | None) -> None:
    """Check Docker, AWS credentials and region, ECR access and the manifest; say how to fix what is missing."""
    from sm_byo.doctor import run_doctor

    _show(run_doctor(_state().ui, manifest_path=manifest_path, profile=profile, region=region), "smbyo doctor")


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for bash, zsh or fish.

    Enable it with `eval "$(smbyo completion bash)"` in ~/.bashrc (zsh: ~/.zshrc; fish:
    `smbyo completion fish > ~/.config/fish/completions/smbyo.fish`).
    """
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    if completer is None:
        raise UsageError(f"no completion for {shell}", hint="Use bash, zsh or fish.")
    click.echo(completer(cli, {}, "smbyo", COMPLETE_VAR).source())


# --- the error boundary -------------------------------------------------------------------------


def _usage_hint(exc: click.ClickException) -> str:
    """Name the exact help command (`smbyo serve --help`), not just 'the command'."""
    context = getattr(exc, "ctx", None)
    where = context.command_path if context is not None else "smbyo"
    return f"Run `{where} --help` to see what it accepts."


def _report(app: AppState, error: SmByoError) -> int:
    app.ui.error(error)
    return error.exit_code


def _interrupted(exc: BaseException) -> Interrupted:
    signum = signals.signum_of(exc)
    return Interrupted(f"interrupted by {signals.describe(signum)}", signum=signum)


def _run(app: AppState, args: list[str]) -> int:
    """Run the command; every way it can end becomes an exit code (and a message). Once it has ended, stop
    signals are only recorded (``settle``), so that reporting the outcome is never cut in two."""
    try:
        with cli.make_context("smbyo", args, obj=app) as ctx:
            cli.invoke(ctx)
        signals.settle()
        return 0
    except click.exceptions.Exit as exc:
        signals.settle()
        return exc.exit_code
    except click.ClickException as exc:
        signals.settle()
        return _report(app, UsageError(exc.format_message(), hint=_usage_hint(exc)))
    except click.exceptions.Abort:
        signals.settle()
        return _report(app, Interrupted("interrupted"))
    except KeyboardInterrupt as exc:  # also SIGTERM and SIGHUP (sm_byo.signals.Stopped): 128 + the signal
        signals.settle()
        return _report(app, _interrupted(exc))
    except SmByoError as exc:
        signals.settle()
        return _report(app, exc)
    except Exception as exc:
        signals.settle()
        app.ui.unexpected(exc)
        return 1


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every failure into a message and the contract's exit code.

    SIGINT, SIGTERM and SIGHUP are handled here, for every command (``sm_byo.signals``): what the command
    started is stopped and removed on the way out, and the exit code is 128 + the signal's number."""
    args = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get(COMPLETE_VAR):
        from click.shell_completion import shell_complete

        sys.exit(shell_complete(cli, {}, "smbyo", COMPLETE_VAR, os.environ[COMPLETE_VAR]))
    app = AppState(json_mode="--json" in args)
    with signals.stop_on_signals():
        try:
            code = _run(app, args)
        except KeyboardInterrupt as exc:  # a signal between the command's end and settle(): still reported
            signals.settle()
            code = _report(app, _interrupted(exc))
        finally:
            if app._ui is not None:
                app.ui.close()
    sys.exit(code)
