"""``smbyo validate --local``: AWS's listing validation, done first on this machine with the real image.

AWS validates an Algorithm by running the validation profile: a training job on the profile's data
and hyperparameters, then a batch transform of the transform data with the model it produced. It
takes hours and, when it fails, says little. This runs the same profile locally (through the local
runners, :func:`sm_byo.local.training.train_local` and :func:`sm_byo.local.transform.transform_local`)
and adds the checks that most often fail listings:

* every metric regex of the manifest matches the training log (the regexes are read from the
  manifest, so a changed regex needs no rebuild);
* the inference image loads the artifacts the training image wrote;
* ``/ping`` answers 200 within 2 s of the model being loaded;
* a 6 MB request is accepted (SageMaker's real-time payload limit);
* the batch transform writes one output line per input record.

The result is a table of checks; any failed check raises :class:`ChecksFailed` (exit 1) carrying it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from sm_byo.docker import DockerAdapter, connect
from sm_byo.errors import ChecksFailed, SmByoError, UsageError
from sm_byo.local.archive import model_directory
from sm_byo.local.containers import LogPump, container_name, running
from sm_byo.local.serving import loopback_port, model_volume, wait_until_healthy
from sm_byo.local.training import local_training_plan, run_training_job
from sm_byo.local.transform import list_inputs, transform_local
from sm_byo.manifest import MAX_PAYLOAD_BYTES, LoadedManifest, ValidationSpec
from sm_byo.metrics import MetricScanner
from sm_byo.options import TrainCommand
from sm_byo.reporting import Reporter
from sm_byo.specs.names import local_image_tag
from sm_byo.specs.validation import validation_channel

PING_WITHIN_SECONDS = 2.0
MODEL_LOADED_MARK = "model loaded from"
PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


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
        return {
            "passed": self.passed,
            "image": self.image,
            "checks": [check.to_dict() for check in self.checks],
            "metrics": self.metrics,
            "seconds": round(self.seconds, 1),
        }


class LogTee:
    """Forwards every report, and keeps the log lines of one source (the training container's)."""

    def __init__(self, reporter: Reporter, source: str):
        self.reporter, self.source = reporter, source
        self.lines: list[str] = []

    def step(self, message: str) -> None:
        self.reporter.step(message)

    def detail(self, message: str) -> None:
        self.reporter.detail(message)

    def log(self, source: str, line: str) -> None:
        if source == self.source:
            self.lines.append(line)
        self.reporter.log(source, line)

    def status(self, subject: str, status: str, elapsed_seconds: float | None = None) -> None:
        self.reporter.status(subject, status, elapsed_seconds)

    def progress(self, task: str, completed: int, total: int | None) -> None:
        self.reporter.progress(task, completed, total)

    def warn(self, message: str) -> None:
        self.reporter.warn(message)


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


def six_mb_payload(source: Path, limit: int = MAX_PAYLOAD_BYTES) -> tuple[bytes, int]:
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


@dataclass
class ServingProbe:
    """What one serving container showed: model load, time to a healthy /ping, the big request."""

    loaded: bool = False
    load_error: str = ""
    ping_after_load: float | None = None
    big_status: int | None = None
    big_lines: int = 0
    big_seconds: float = 0.0
    big_error: str = ""


def probe_serving(
    adapter: DockerAdapter,
    image: str,
    model_dir: Path,
    payload: bytes,
    content_type: str,
    accept: str,
    reporter: Reporter,
    clock: Callable[[], float] = time.monotonic,
) -> ServingProbe:
    """Start ``IMAGE serve`` on the trained model, time /ping after the model loads, send the 6 MB request."""
    probe = ServingProbe()
    loaded_at: list[float] = []

    def on_line(line: str) -> None:
        if MODEL_LOADED_MARK in line and not loaded_at:
            loaded_at.append(clock())

    with running(
        adapter,
        image,
        ["serve"],
        volumes=model_volume(model_dir),
        ports=loopback_port(None),
        name=container_name("validate"),
        labels={"dev.smbyo.kind": "validate"},
    ) as handle:
        pump = LogPump(handle, reporter, "serve", on_line).start()
        try:
            url = wait_until_healthy(handle, pump)
        except SmByoError as exc:
            probe.load_error = exc.message
            return probe
        healthy_at = clock()
        probe.loaded = True
        probe.ping_after_load = max(0.0, healthy_at - loaded_at[0]) if loaded_at else None
        if payload:
            _send_big_request(probe, url, payload, content_type, accept)
    return probe


def _send_big_request(probe: ServingProbe, url: str, payload: bytes, content_type: str, accept: str) -> None:
    started = time.monotonic()
    try:
        response = requests.post(
            f"{url}/invocations",
            data=payload,
            headers={"Content-Type": content_type, "Accept": accept},
            timeout=120,
        )
    except requests.RequestException as exc:
        probe.big_error = str(exc)
        return
    probe.big_seconds = time.monotonic() - started
    probe.big_status = response.status_code
    if response.ok:
        probe.big_lines = len([line for line in response.content.splitlines() if line.strip()])
    else:
        probe.big_error = response.text[:300]


def _serving_checks(probe: ServingProbe, records: int, size: int, report: ValidationReport, reporter: Reporter) -> None:
    if not probe.loaded:
        report.add("inference image loads the trained model", FAIL, probe.load_error, reporter)
        return
    report.add("inference image loads the trained model", PASS, "/ping answered 200", reporter)
    delay = probe.ping_after_load
    if delay is None:
        report.add("/ping healthy within 2 s of model load", PASS, "healthy (no load time in the log)", reporter)
    elif delay <= PING_WITHIN_SECONDS:
        report.add("/ping healthy within 2 s of model load", PASS, f"{delay:.2f} s after the model loaded", reporter)
    else:
        report.add(
            "/ping healthy within 2 s of model load",
            FAIL,
            f"{delay:.2f} s after the model loaded; answer /ping as soon as load_model returns",
            reporter,
        )
    name = "6 MB payload accepted"
    if records == 0:
        report.add(name, SKIPPED, "split type is not Line, or no records to build it from", reporter)
    elif probe.big_status != 200:
        why = f"HTTP {probe.big_status}" if probe.big_status else "no answer"
        report.add(name, FAIL, f"{size} bytes ({records} records): {why} {probe.big_error}".strip(), reporter)
    elif probe.big_lines != records:
        report.add(name, FAIL, f"{records} records sent, {probe.big_lines} lines answered", reporter)
    else:
        detail = f"{size} bytes, {records} records, answered in {probe.big_seconds:.2f} s"
        report.add(name, PASS, detail, reporter)


def _records(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


def _transform_checks(
    loaded: LoadedManifest,
    validation: ValidationSpec,
    model: Path,
    image: str,
    scratch: Path,
    adapter: DockerAdapter,
    report: ValidationReport,
    reporter: Reporter,
) -> None:
    source = _local_data(loaded, "transform_data", validation.transform_data)
    output = scratch / "transform"
    try:
        result = transform_local(
            loaded,
            reporter,
            image=image,
            model=model,
            input=source,
            output=output,
            content_type=validation.content_type,
            split_type=validation.split_type,
            strategy=validation.strategy,
            max_payload_mb=validation.max_payload_mb,
            docker=adapter,
        )
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


def _train(
    loaded: LoadedManifest,
    validation: ValidationSpec,
    image: str,
    scratch: Path,
    adapter: DockerAdapter,
    report: ValidationReport,
    reporter: Reporter,
) -> Path | None:
    """The profile's training job; returns model.tar.gz (None when training failed)."""
    found = validation_channel(loaded.manifest)
    channel = found[1].name if found else "training"
    data = {channel: str(_local_data(loaded, "training_data", validation.training_data))}
    values = {name: _text(value) for name, value in validation.hyperparameters.items()}
    tee = LogTee(reporter, "train")
    model: Path | None = None
    try:
        options = TrainCommand(local=True, image=image, data=data, hyperparameters=values, out=scratch / "train")
        plan = local_training_plan(loaded, options)
        result = run_training_job(plan.request("CreateTrainingJob").kwargs, tee, docker=adapter)
    except UsageError:
        raise
    except SmByoError as exc:
        report.add("training job", FAIL, exc.message.splitlines()[0], reporter)
    else:
        model = Path(str(result.model_artifacts))
        report.add("training job", PASS, f"{result.job_name} Completed in {result.elapsed_seconds:.1f} s", reporter)
    _metric_checks(loaded, tee.lines, report, reporter)
    return model


def validate_local(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    image: str | None = None,
    docker: DockerAdapter | None = None,
) -> ValidationReport:
    """Run the validation profile locally and check what AWS's validation checks; ChecksFailed if any fails."""
    validation = _profile(loaded)
    adapter = docker or connect()
    image = image or local_image_tag(loaded.manifest)
    adapter.inspect_image(image)
    report = ValidationReport(image=image)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smbyo-validate-") as scratch_name:
        scratch = Path(scratch_name)
        model = _train(loaded, validation, image, scratch, adapter, report, reporter)
        if model is None:
            for name in ("inference image loads the trained model", "batch transform"):
                report.add(name, SKIPPED, "no model: the training job failed", reporter)
        else:
            _serve_and_transform(loaded, validation, model, image, scratch, adapter, report, reporter)
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
        hint="AWS's validation would fail the same way: fix the failed checks above, rebuild if you changed "
        "code, and run `smbyo validate --local` again before publishing.",
        details=report.to_dict(),
        human_view={"checks": [check.to_dict() for check in report.checks]},
    )


def _serve_and_transform(
    loaded: LoadedManifest,
    validation: ValidationSpec,
    model: Path,
    image: str,
    scratch: Path,
    adapter: DockerAdapter,
    report: ValidationReport,
    reporter: Reporter,
) -> None:
    source_files = list_inputs(_local_data(loaded, "transform_data", validation.transform_data))
    payload, records = (b"", 0)
    if validation.split_type == "Line":
        payload, records = six_mb_payload(source_files[0].path)
    reporter.step("Serving the trained model: load, /ping, a 6 MB request")
    model_dir = model_directory(model, scratch)
    accept = loaded.manifest.serving.accept[0]
    probe = probe_serving(adapter, image, model_dir, payload, validation.content_type, accept, reporter)
    _serving_checks(probe, records, len(payload), report, reporter)
    if not probe.loaded:
        report.add("batch transform", SKIPPED, "the inference image cannot load the model", reporter)
        return
    _transform_checks(loaded, validation, model, image, scratch, adapter, report, reporter)
