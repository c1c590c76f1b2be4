"""``smbyo validate --local``: the validation profile AWS runs for a listing, run first on this machine.

AWS validates an Algorithm by running the validation profile: a training job on the profile's data
and hyperparameters, then a batch transform of the transform data with the model it produced. It
takes hours and, when it fails, says little. This runs the same profile locally, with the real image in
local Docker (through the local runners, :func:`sm_byo.local.training.train_local` and
:func:`sm_byo.local.transform.transform_local`), and checks:

* the training job completes;
* every metric regex of the manifest matches the training log (the regexes are read from the
  manifest, so a changed regex needs no rebuild);
* the inference image loads the artifacts the training image wrote;
* ``/ping`` answers 200 (each answer within 2 s) before the start-up health check timeout
  (``--container-startup-health-check-timeout``, SageMaker's ContainerStartupHealthCheckTimeoutInSeconds);
* a request of just under 6 MB (SageMaker's real-time limit), built from the transform data, is answered
  with one line per record;
* ``/ping`` answers within 2 s under load: while 2 x CPUs clients keep /invocations busy with the
  transform data for a few seconds, every /ping is timed; any /ping over 2 s or not 200 fails (p50, p99
  and max are reported);
* the batch transform completes and writes one output line per input record;
* the model works with no network access: every serving container runs as buyers' do, with network
  isolation (``sm_byo.local.serving``), and a predictor that tried to open a connection fails this check,
  naming the endpoint it tried (``--no-network-isolation`` skips it, for a seller's own debugging).

What AWS does besides, and this cannot reproduce: it runs the jobs on SageMaker instances of the
profile's instance types (their CPUs, memory and GPUs), reads the data from S3 and writes to S3, applies
the service's own limits, timeouts and retries, and for a Marketplace listing adds its own reviews of
the listing and the image. A local pass makes a failure there much less likely; it does not prove success.

The result is a table of checks; any failed check raises :class:`ChecksFailed` (exit 1) carrying it.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sm_byo.docker import DockerAdapter, connect
from sm_byo.errors import ChecksFailed, Interrupted, SmByoError, UsageError
from sm_byo.local.archive import model_directory
from sm_byo.local.containers import LogPump, container_name
from sm_byo.local.health import PING_TIMEOUT_SECONDS, STARTUP_HEALTH_CHECK_DEFAULT_SECONDS
from sm_byo.local.http import ContainerClient, NoAnswer
from sm_byo.local.ping_load import PingUnderLoad, default_concurrency, measure_ping_under_load
from sm_byo.local.serving import (
    ISOLATION_OFF_WARNING,
    ServingStart,
    StartupTimedOut,
    serving_containers,
    wait_until_healthy,
)
from sm_byo.local.training import local_training_plan, run_training_job
from sm_byo.local.transform import is_routine_access_line, list_inputs, transform_local
from sm_byo.manifest import LoadedManifest, ValidationSpec
from sm_byo.metrics import MetricScanner
from sm_byo.options import TrainCommand, TrainingJobSettings
from sm_byo.reporting import Forwarding, Reporter, WarnOnce
from sm_byo.runtime.network import ISOLATION_PHRASE
from sm_byo.runtime.payload import REALTIME_MAX_PAYLOAD_BYTES
from sm_byo.specs.names import local_image_tag
from sm_byo.specs.validation import training_instance_count, validation_channel

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
LOADS = "inference image loads the trained model"
STARTUP = "/ping healthy within the start-up health check timeout"
SIX_MB = "6 MB payload accepted"
PING_UNDER_LOAD = "/ping answers within 2 s under load"
NO_NETWORK = "works with no network access (network isolation)"
LOAD_SECONDS = 5.0


@dataclass
class Check:
    """One row of the report."""

    name: str
    status: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


@dataclass
class ValidationReport:
    """Every check, in the order AWS would meet them, and what the run produced."""

    image: str
    checks: list[Check] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    network_isolation: bool = True
    # The image that served and transformed, when it is not ``image`` (image.inference's own image).
    inference_image: str | None = None

    @property
    def passed(self) -> bool:
        return all(check.status != FAIL for check in self.checks)

    def add(self, name: str, status: str, detail: str, reporter: Reporter) -> Check:
        check = Check(name, status, detail)
        self.checks.append(check)
        reporter.status(f"check: {name}", status.upper())
        return check

    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.status == FAIL]

    def table(self) -> str:
        width = max(len(check.name) for check in self.checks) if self.checks else 0
        return "\n".join(f"  {c.status.upper():7} {c.name:{width}}  {c.detail}" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "passed": self.passed,
            "image": self.image,
            "checks": [check.to_dict() for check in self.checks],
            "metrics": self.metrics,
            "network_isolation": self.network_isolation,
            "seconds": round(self.seconds, 1),
        }
        if self.inference_image is not None:
            result["inference_image"] = self.inference_image
        return result


class LogTee(Forwarding):
    """Forwards every report, and keeps the log lines of some sources (the training container's)."""

    def __init__(self, reporter: Reporter, sources: tuple[str, ...]):
        super().__init__(reporter)
        self.sources = sources
        self.lines: list[str] = []

    def log(self, source: str, line: str) -> None:
        if source in self.sources:
            self.lines.append(line)
        self.reporter.log(source, line)


# --- the profile's inputs ---------------------------------------------------------------------------


def _profile(loaded: LoadedManifest) -> ValidationSpec:
    validation = loaded.manifest.validation
    if validation is None:
        raise UsageError(
            f"{loaded.path}: no `validation:` section, so there is no validation profile to run",
            hint="Add validation.training_data, validation.transform_data (local paths) and "
            "validation.instance_type to smbyo.yaml.",
        )
    if loaded.manifest.training is None:
        raise UsageError(
            f"{loaded.path}: validate --local runs an algorithm's profile (training then transform); "
            "this manifest has no training section",
            hint="Add a training section, or test a model-only image with `smbyo transform --local`.",
        )
    return validation


def _local_data(loaded: LoadedManifest, field_name: str, value: str | None) -> Path:
    if not value or value.startswith("s3://"):
        raise UsageError(
            f"validation.{field_name} is {value or 'not set'}: validate --local needs local data",
            hint=f"Set validation.{field_name} in smbyo.yaml to a local file or directory "
            "(publish uploads it to S3 for AWS's own validation).",
        )
    return loaded.resolve(value)


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# --- the checks -------------------------------------------------------------------------------------


def _metric_checks(loaded: LoadedManifest, lines: list[str], report: ValidationReport, reporter: Reporter) -> None:
    """Each metric regex must match the training log at least once (AWS shows nothing otherwise)."""
    specs = loaded.manifest.training.metrics if loaded.manifest.training else []
    scanner = MetricScanner(specs).feed_all(lines)
    finals = scanner.finals()
    report.metrics = finals
    for spec in specs:
        name = f"metric {spec.name}"
        if spec.name in finals:
            report.add(name, PASS, f"regex {spec.regex!r} matched: {finals[spec.name]:g}", reporter)
        else:
            report.add(
                name,
                FAIL,
                f"regex {spec.regex!r} never matched the training log ({len(lines)} lines); "
                "print the metric in exactly that form from train.py or fix training.metrics[].regex",
                reporter,
            )


def six_mb_payload(source: Path, limit: int = REALTIME_MAX_PAYLOAD_BYTES) -> tuple[bytes, int]:
    """Records of ``source`` repeated into the largest payload within ``limit`` bytes; (payload, records)."""
    records = [line for line in source.read_bytes().splitlines(keepends=True) if line.strip()]
    if not records:
        return b"", 0
    records = [line if line.endswith(b"\n") else line + b"\n" for line in records]
    chunks, size, count = [], 0, 0
    while True:
        line = records[count % len(records)]
        if size + len(line) > limit:
            break
        chunks.append(line)
        size += len(line)
        count += 1
    return b"".join(chunks), count


def load_body(source: Path, split_type: str, limit: int = REALTIME_MAX_PAYLOAD_BYTES) -> bytes:
    """The body the /ping-under-load check sends: the transform file's records once each (whole records
    within ``limit``), or the whole file when it is not split by line (nothing when it is over ``limit``)."""
    data = source.read_bytes()
    if split_type != "Line":
        return data if len(data) <= limit else b""
    records = [line if line.endswith(b"\n") else line + b"\n" for line in data.splitlines(keepends=True)]
    chunks, size = [], 0
    for line in (record for record in records if record.strip()):
        if size + len(line) > limit:
            break
        chunks.append(line)
        size += len(line)
    return b"".join(chunks)


@dataclass
class ServingProbe:
    """What one serving container showed: model load, time to a healthy /ping, the big request, /ping
    under load."""

    startup_timeout: float
    loaded: bool = False
    load_error: str = ""
    timed_out: bool = False
    healthy_after: float | None = None
    big_status: int | None = None
    big_lines: int = 0
    big_seconds: float = 0.0
    big_error: str = ""
    ping_load: PingUnderLoad | None = None


def probe_serving(
    adapter: DockerAdapter,
    image: str,
    model_dir: Path,
    payload: bytes,
    content_type: str,
    accept: str,
    reporter: Reporter,
    *,
    startup_timeout: float = STARTUP_HEALTH_CHECK_DEFAULT_SECONDS,
    body_under_load: bytes = b"",
    load_seconds: float = LOAD_SECONDS,
    network_isolation: bool = True,
) -> ServingProbe:
    """Start ``IMAGE serve`` on the trained model, time it to a healthy /ping, send the 6 MB request, then
    time /ping while /invocations runs at saturation with ``body_under_load``."""
    probe = ServingProbe(startup_timeout=startup_timeout)
    start = ServingStart(image, model_dir, container_name("validate"), {"dev.smbyo.kind": "validate"})
    with serving_containers(adapter, [start], isolated=network_isolation, reporter=reporter) as containers:
        handle = containers[0].handle
        started = time.monotonic()
        pump = LogPump(handle, reporter, "serve", quiet=is_routine_access_line).start()
        try:
            url = wait_until_healthy(containers[0], pump, startup_timeout)
        except SmByoError as exc:
            probe.load_error = exc.message
            probe.timed_out = isinstance(exc, StartupTimedOut)
            return probe
        probe.healthy_after = time.monotonic() - started
        probe.loaded = True
        if payload:
            _send_big_request(probe, url, payload, content_type, accept)
        if body_under_load:
            reporter.step(
                f"Timing /ping for {load_seconds:g} s while {default_concurrency()} clients keep /invocations busy"
            )
            probe.ping_load = measure_ping_under_load(
                url, body_under_load, content_type=content_type, accept=accept, seconds=load_seconds
            )
    return probe


def _send_big_request(probe: ServingProbe, url: str, payload: bytes, content_type: str, accept: str) -> None:
    try:
        answer = ContainerClient(url).invoke(payload, content_type=content_type, accept=accept, timeout=120)
    except NoAnswer as exc:
        probe.big_error = str(exc)
        return
    probe.big_seconds = answer.seconds
    probe.big_status = answer.status
    if answer.ok:
        probe.big_lines = len([line for line in answer.body.splitlines() if line.strip()])
    else:
        probe.big_error = answer.error()


def _serving_checks(probe: ServingProbe, records: int, size: int, report: ValidationReport, reporter: Reporter) -> None:
    window = f"ContainerStartupHealthCheckTimeoutInSeconds {probe.startup_timeout:.0f} s"
    if not probe.loaded:
        if probe.timed_out:
            report.add(LOADS, SKIPPED, "not known: /ping never answered 200 in time", reporter)
            report.add(STARTUP, FAIL, f"{probe.load_error.splitlines()[0]} ({window})", reporter)
        else:
            report.add(LOADS, FAIL, probe.load_error, reporter)
            report.add(STARTUP, SKIPPED, "the model could not be loaded", reporter)
        return
    report.add(LOADS, PASS, "/ping answered 200", reporter)
    detail = (
        f"healthy {probe.healthy_after:.2f} s after the container started ({window}; "
        f"each /ping within {PING_TIMEOUT_SECONDS:g} s)"
    )
    report.add(STARTUP, PASS, detail, reporter)
    if records == 0:
        report.add(SIX_MB, SKIPPED, "split type is not Line, or no records to build it from", reporter)
    elif probe.big_status != 200:
        why = f"HTTP {probe.big_status}" if probe.big_status else "no answer"
        report.add(SIX_MB, FAIL, f"{size} bytes ({records} records): {why} {probe.big_error}".strip(), reporter)
    elif probe.big_lines != records:
        report.add(SIX_MB, FAIL, f"{records} records sent, {probe.big_lines} lines answered", reporter)
    else:
        detail = f"{size} bytes, {records} records, answered in {probe.big_seconds:.2f} s"
        report.add(SIX_MB, PASS, detail, reporter)
    _ping_under_load_check(probe.ping_load, report, reporter)


def _network_check(probe: ServingProbe, isolated: bool, report: ValidationReport, reporter: Reporter) -> None:
    """Whether the model loaded and answered with no network access, as a buyer's container must
    (https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html). The container's own
    answer names a network call (``sm_byo.runtime.network``); its message is the detail."""
    if not isolated:
        report.add(NO_NETWORK, SKIPPED, "network isolation was off (--no-network-isolation)", reporter)
        return
    called = next((text for text in (probe.load_error, probe.big_error) if ISOLATION_PHRASE in text), None)
    if called is not None:
        report.add(NO_NETWORK, FAIL, called.splitlines()[0], reporter)
    elif probe.loaded and probe.big_status == 200:
        report.add(NO_NETWORK, PASS, "loaded and answered the 6 MB request with no route out", reporter)
    else:
        report.add(NO_NETWORK, SKIPPED, "no request was answered to tell", reporter)


def _ping_under_load_check(load: PingUnderLoad | None, report: ValidationReport, reporter: Reporter) -> None:
    if load is None:
        report.add(PING_UNDER_LOAD, SKIPPED, "no transform data of at most 6 MB to send as the load", reporter)
        return
    measured = load.summary(PING_TIMEOUT_SECONDS)
    if load.passed(PING_TIMEOUT_SECONDS):
        report.add(PING_UNDER_LOAD, PASS, measured, reporter)
    else:
        report.add(
            PING_UNDER_LOAD,
            FAIL,
            f"{measured}; SageMaker counts a /ping slower than {PING_TIMEOUT_SECONDS:g} s as failed: keep /ping "
            "free of work and leave it a worker (or a thread) that predictions cannot all occupy",
            reporter,
        )


def _records(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


def _transform_checks(run: _Run, model: Path) -> None:
    loaded, validation, report, reporter = run.loaded, run.validation, run.report, run.reporter
    source = _local_data(loaded, "transform_data", validation.transform_data)
    output = run.scratch / "transform"
    try:
        result = transform_local(
            loaded,
            reporter,
            image=run.inference_image,
            model=model,
            input=source,
            output=output,
            content_type=validation.content_type,
            split_type=validation.split_type,
            strategy=validation.strategy,
            max_payload_mb=validation.max_payload_mb,
            startup_timeout=run.startup_timeout,
            network_isolation=run.network_isolation,
            docker=run.adapter,
        )
    except Interrupted:
        raise  # a stop signal ends the whole profile, not just this check
    except SmByoError as exc:
        report.add("batch transform", FAIL, exc.message.splitlines()[0], reporter)
        return
    detail = f"{result.records} records in {result.requests} request(s), {validation.strategy}"
    report.add("batch transform", PASS, detail, reporter)
    if validation.split_type != "Line":
        report.add("one output line per input record", SKIPPED, f"split type {validation.split_type}", reporter)
        return
    mismatches = []
    for item in list_inputs(source):
        expected, produced = _records(item.path), _records(item.output_path(output))
        if expected != produced:
            mismatches.append(f"{item.relative}: {expected} records in, {produced} lines out")
    if mismatches:
        report.add("one output line per input record", FAIL, "; ".join(mismatches), reporter)
    else:
        report.add("one output line per input record", PASS, "every .out file matches its input", reporter)


# --- the command ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One `validate --local`: what every step of the profile works with."""

    loaded: LoadedManifest
    validation: ValidationSpec
    image: str
    scratch: Path
    adapter: DockerAdapter
    report: ValidationReport
    reporter: Reporter
    startup_timeout: float
    network_isolation: bool = True
    serving_image: str = ""  # the inference image: serves and transforms what ``image`` trained

    @property
    def inference_image(self) -> str:
        return self.serving_image or self.image


def _train(run: _Run) -> Path | None:
    """The profile's training job; returns model.tar.gz (None when training failed)."""
    loaded, validation, report, reporter = run.loaded, run.validation, run.report, run.reporter
    found = validation_channel(loaded.manifest)
    channel = found[1].name if found else "training"
    data = {channel: str(_local_data(loaded, "training_data", validation.training_data))}
    values = {name: _text(value) for name, value in validation.hyperparameters.items()}
    tee = LogTee(reporter, ("train", "algo-1"))  # one host's log, or the first host's of several
    model: Path | None = None
    try:
        options = TrainCommand(
            local=True,
            image=run.image,
            data=data,
            hyperparameters=values,
            out=run.scratch / "train",
            # As many hosts as the published profile: two for an algorithm that supports distributed training.
            job=TrainingJobSettings(instance_count=training_instance_count(loaded.manifest)),
        )
        plan = local_training_plan(loaded, options)
        result = run_training_job(plan.request("CreateTrainingJob").kwargs, tee, docker=run.adapter)
    except (UsageError, Interrupted):
        raise  # a stop signal ends the whole profile, not just this check
    except SmByoError as exc:
        report.add("training job", FAIL, exc.message.splitlines()[0], reporter)
    else:
        model = Path(str(result.model_artifacts))
        hosts = f" on {result.instance_count} hosts" if result.instance_count > 1 else ""
        detail = f"{result.job_name} Completed{hosts} in {result.elapsed_seconds:.1f} s"
        report.add("training job", PASS, detail, reporter)
    _metric_checks(loaded, tee.lines, report, reporter)
    return model


def validate_local(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    image: str | None = None,
    startup_timeout: float = STARTUP_HEALTH_CHECK_DEFAULT_SECONDS,
    network_isolation: bool = True,
    docker: DockerAdapter | None = None,
) -> ValidationReport:
    """Run the validation profile locally and the checks listed in the module doc; ChecksFailed if any fails.

    ``startup_timeout``: the seconds every serving container (the probe's and the transform's) has to
    answer /ping 200, as ContainerStartupHealthCheckTimeoutInSeconds gives an endpoint's container.
    ``network_isolation``: serve and transform as buyers' containers run (training always runs so).
    """
    validation = _profile(loaded)
    reporter = WarnOnce(reporter)  # the transform repeats what the run already warned about (isolation off)
    adapter = docker or connect()
    # AWS's validation trains with the training image and serves what it made with the inference image:
    # --image stands for both; otherwise each role's own (one image unless image.inference).
    serving = image or local_image_tag(loaded.manifest, "inference")
    image = image or local_image_tag(loaded.manifest)
    adapter.inspect_image(image)
    adapter.inspect_image(serving)
    report = ValidationReport(
        image=image, network_isolation=network_isolation, inference_image=serving if serving != image else None
    )
    if not network_isolation:
        reporter.warn(ISOLATION_OFF_WARNING)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smbyo-validate-") as scratch_name:
        run = _Run(loaded, validation, image, Path(scratch_name), adapter, report, reporter, startup_timeout,
                   network_isolation, serving)  # fmt: skip
        model = _train(run)
        if model is None:
            for name in (LOADS, "batch transform"):
                report.add(name, SKIPPED, "no model: the training job failed", reporter)
        else:
            _serve_and_transform(run, model)
    report.seconds = time.monotonic() - started
    raise_for_failures(report)
    return report


def raise_for_failures(report: ValidationReport) -> None:
    """ChecksFailed (exit 1) when any check failed. The message keeps the text table (--json readers and
    logs have it); a terminal shows the checks as a ✓/✗ table instead (``human_view``), not both."""
    if report.passed:
        return
    failed = ", ".join(check.name for check in report.failed())
    raise ChecksFailed(
        f"{len(report.failed())} of {len(report.checks)} validation checks failed ({failed}):\n{report.table()}",
        hint="AWS's validation runs the same profile and would most likely fail on this too: fix the failed "
        "checks above, rebuild if you changed code, and run `smbyo validate --local` again before publishing.",
        details=report.to_dict(),
        human_view={"checks": [check.to_dict() for check in report.checks]},
    )


def _serve_and_transform(run: _Run, model: Path) -> None:
    loaded, validation, report, reporter = run.loaded, run.validation, run.report, run.reporter
    source_files = list_inputs(_local_data(loaded, "transform_data", validation.transform_data))
    payload, records = (b"", 0)
    if validation.split_type == "Line":
        payload, records = six_mb_payload(source_files[0].path)
    reporter.step("Serving the trained model: load, /ping, a 6 MB request, /ping under load")
    model_dir = model_directory(model, run.scratch)
    accept = loaded.manifest.serving.accept[0]
    probe = probe_serving(
        run.adapter,
        run.inference_image,
        model_dir,
        payload,
        validation.content_type,
        accept,
        reporter,
        startup_timeout=run.startup_timeout,
        body_under_load=load_body(source_files[0].path, validation.split_type),
        network_isolation=run.network_isolation,
    )
    _serving_checks(probe, records, len(payload), report, reporter)
    _network_check(probe, run.network_isolation, report, reporter)
    if not probe.loaded:
        report.add("batch transform", SKIPPED, "the inference image cannot load the model", reporter)
        return
    _transform_checks(run, model)
