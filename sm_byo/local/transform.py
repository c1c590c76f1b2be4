"""``smbyo transform --local``: the CreateModel and CreateTransformJob requests SageMaker gets, run locally.

:func:`local_transform_plan` builds the same two requests as the cloud command
(``sm_byo.specs.transform``), the model, input and output named as ``file://`` URIs and the image as a
local tag, and checks them (pre-flight, exit 2 with what to fix) before Docker is contacted.
:func:`run_transform_job`, the local executor, reads nothing but those requests and does what
SageMaker's transform agent does: start the model's image with ``serve`` (the model's and the job's
Environment, and SAGEMAKER_BATCH set), wait for /ping, ask /execution-parameters (the request's
values win), split every input file (SplitType None or Line), pack records (MultiRecord up to
MaxPayloadInMB, or SingleRecord), send them with MaxConcurrentTransforms parallel requests and
assemble each file's answers in input order into ``<relative path>.out`` (AssembleWith Line or None).
Every file under the input is data, hidden ones too, as under an S3 prefix. Blank input lines are not
records and are skipped.

Each ``.out`` is written under a temporary name in its directory and renamed when its input file is
done, so a failed job leaves no partial ``.out`` (its temporary files are removed; the files finished
before the failure stay, as on SageMaker). A ``.out`` replaces an existing file only if an earlier
smbyo run wrote it (:class:`~sm_byo.local.outputs.OutputDirectory`; SageMaker replaces S3 objects of
the same name); any other file at an output's name is refused before the container starts (exit 2).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sm_byo.docker import DockerAdapter, connect
from sm_byo.errors import JobFailed, UsageError
from sm_byo.local.archive import model_directory
from sm_byo.local.containers import LogPump, container_name, cpu_share
from sm_byo.local.dataprocessing import RecordError, RecordProcessing, split_answer
from sm_byo.local.health import TRANSFORM_STARTUP_HEALTH_CHECK_SECONDS
from sm_byo.local.http import ContainerClient, NoAnswer
from sm_byo.local.layout import (
    data_files,
    hidden_files,
    host_name,
    local_path,
    local_source,
    output_dir,
    refuse_s3,
)
from sm_byo.local.outputs import OutputDirectory, temporary_beside
from sm_byo.local.serving import (
    ISOLATION_OFF_WARNING,
    ServingContainer,
    ServingStart,
    serving_containers,
    wait_until_healthy,
)
from sm_byo.manifest import LoadedManifest
from sm_byo.options import TransformCommand
from sm_byo.plan import Plan
from sm_byo.reporting import Reporter
from sm_byo.results import TransformResult
from sm_byo.rules import data_processing_problems
from sm_byo.runtime.payload import MB, TRANSFORM_DEFAULT_MAX_PAYLOAD_MB
from sm_byo.specs.names import local_image_tag, unique_name
from sm_byo.specs.training import LOCAL_ROLE
from sm_byo.specs.transform import (
    TRANSFORM_DEFAULT_INVOCATIONS_MAX_RETRIES,
    ModelOptions,
    model_request,
    transform_job_request,
    transform_options,
)

# A blank line after another line, and a blank first line (two patterns: each starts with a literal, fast).
BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")
BLANK_FIRST_LINE = re.compile(rb"[ \t\r\f\v]*\n")
STRATEGY_FROM_CONTAINER = {"MULTI_RECORD": "MultiRecord", "SINGLE_RECORD": "SingleRecord"}
STRATEGY_TO_CONTAINER = {value: key for key, value in STRATEGY_FROM_CONTAINER.items()}
DEFAULT_STRATEGY = "MultiRecord"
DEFAULT_MAX_PAYLOAD_MB = TRANSFORM_DEFAULT_MAX_PAYLOAD_MB
DEFAULT_CONCURRENCY = 1
REQUEST_TIMEOUT_MARGIN = 30
# ModelClientConfig.InvocationsTimeoutInSeconds and InvocationsMaxRetries when the request leaves them out
# (SageMaker's defaults: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ModelClientConfig.html).
DEFAULT_INVOCATION_TIMEOUT_SECONDS = 600
DEFAULT_INVOCATIONS_MAX_RETRIES = TRANSFORM_DEFAULT_INVOCATIONS_MAX_RETRIES
# Seconds before the 1st, 2nd, 3rd retry of a batch (SageMaker documents none): time for a crashed worker
# to be replaced and load the model again.
RETRY_BACKOFF_SECONDS = (1.0, 2.0, 4.0)
WAIT_POLL_SECONDS = 0.2
# nginx access lines of answered requests: one per request, thousands per job; failures still show.
SUCCESSFUL_ACCESS_LINE = re.compile(r'"(?:GET /ping|GET /execution-parameters|POST /invocations) HTTP/[0-9.]+" 2\d\d ')


@dataclass(frozen=True)
class TransformSettings:
    """What the job runs with, after merging the container's /execution-parameters and the flags."""

    content_type: str
    accept: str
    split_type: str
    strategy: str
    max_payload_mb: int
    concurrency: int

    @property
    def max_payload_bytes(self) -> int | None:
        """None when MaxPayloadInMB is 0: no limit (the whole file, or one record, per request)."""
        return self.max_payload_mb * MB if self.max_payload_mb else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "accept": self.accept,
            "split_type": self.split_type,
            "strategy": self.strategy,
            "max_payload_mb": self.max_payload_mb,
            "concurrency": self.concurrency,
        }


@dataclass(frozen=True)
class InputFile:
    path: Path
    relative: str

    def output_path(self, output_dir: Path) -> Path:
        return output_dir / f"{self.relative}.out"


@dataclass
class Batch:
    """One request: records ``first_line``..``last_line`` (1-based input lines) of one input file."""

    file_index: int
    first_line: int
    last_line: int
    records: int
    body: bytes  # the records as read (blank lines left out)
    filtered: bytes | None = None  # what is sent instead when DataProcessing.InputFilter rewrote the records

    @property
    def payload(self) -> bytes:
        """The request's body."""
        return self.body if self.filtered is None else self.filtered

    def records_read(self, split_line: bool) -> list[bytes]:
        """The batch's input records: one per line (SplitType Line), or the whole file (None)."""
        if not split_line:
            return [self.body]
        lines = self.body.split(b"\n")
        return lines[:-1] if lines and lines[-1] == b"" else lines

    def describe(self, inputs: list[InputFile]) -> str:
        where = inputs[self.file_index].relative
        if self.first_line == self.last_line:
            return f"{where} line {self.first_line}"
        return f"{where} lines {self.first_line}-{self.last_line}"


# --- inputs and batches -------------------------------------------------------------------------


def list_inputs(input_path: Path) -> list[InputFile]:
    """Every input file: a file, or every file under a directory (hidden ones too, as under an S3
    prefix), sorted by relative path."""
    if input_path.is_file():
        return [InputFile(input_path, input_path.name)]
    if not input_path.is_dir():
        raise UsageError(
            f"--input {input_path}: no such file or directory", hint="Pass a local input file or directory."
        )
    files = [InputFile(path, path.relative_to(input_path).as_posix()) for path in data_files(input_path)]
    if not files:
        raise UsageError(
            f"--input {input_path}: the directory holds no files", hint="Put the records to transform in it."
        )
    return files


def _too_large(inputs: list[InputFile], index: int, line: int, limit: int) -> JobFailed:
    return JobFailed(
        f"{inputs[index].relative} line {line}: a record is larger than MaxPayloadInMB ({limit / MB:g} MB)",
        hint="Raise --max-payload-mb, or split the input into smaller records (--split-type Line).",
    )


def _is_blank(line: bytes) -> bool:
    return not line.strip()


def _single_record_batches(
    index: int, stream: IO[bytes], limit: int | None, inputs: list[InputFile]
) -> Iterator[Batch]:
    """Line split, SingleRecord: one request per non-blank line."""
    for number, line in enumerate(stream, start=1):
        if _is_blank(line):
            continue
        if limit is not None and len(line) > limit:
            raise _too_large(inputs, index, number, limit)
        yield Batch(index, number, number, 1, line if line.endswith(b"\n") else line + b"\n")


def _without_blank_lines(body: bytes) -> tuple[bytes, int]:
    """``body`` (whole lines) minus blank ones, and its record count; a C-speed scan when none is blank."""
    if not BLANK_LINE.search(body) and not BLANK_FIRST_LINE.match(body):
        return body, body.count(b"\n")
    lines = [line for line in body.splitlines(keepends=True) if not _is_blank(line)]
    return b"".join(lines), len(lines)


def _fill(stream: IO[bytes], data: bytes, limit: int | None) -> tuple[bytes, bool]:
    """Read until ``data`` holds ``limit`` bytes (or the whole rest); True when the stream is exhausted."""
    while limit is None or len(data) < limit:
        chunk = stream.read(-1 if limit is None else limit - len(data))
        if not chunk:
            return data, True
        data += chunk
    return data, False


def _multi_record_batches(index: int, stream: IO[bytes], limit: int | None, inputs: list[InputFile]) -> Iterator[Batch]:
    """Line split, MultiRecord: as many whole lines as fit in ``limit`` bytes per request.

    Works on blocks of bytes cut at the last newline rather than line by line: a 100 MB file is a
    handful of ``read``/``rfind`` calls instead of millions of Python-level iterations.
    """
    consumed = 0  # input lines already packed
    pending = b""
    while True:
        data, at_end = _fill(stream, pending, limit)
        if not data:
            return
        if not at_end and limit is not None:  # (without a limit, _fill always reads to the end)
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                raise _too_large(inputs, index, consumed + 1, limit)
            data, pending = data[:cut], data[cut:]
        else:
            pending = b""
        if not data.endswith(b"\n"):
            data += b"\n"
        lines = data.count(b"\n")
        body, records = _without_blank_lines(data)
        if records:
            yield Batch(index, consumed + 1, consumed + lines, records, body)
        consumed += lines
        if at_end:
            return


def _line_batches(
    index: int, stream: IO[bytes], settings: TransformSettings, inputs: list[InputFile]
) -> Iterator[Batch]:
    if settings.strategy == "SingleRecord":
        return _single_record_batches(index, stream, settings.max_payload_bytes, inputs)
    return _multi_record_batches(index, stream, settings.max_payload_bytes, inputs)


def batches(inputs: list[InputFile], settings: TransformSettings) -> Iterator[Batch]:
    """Every request of the job, in input order."""
    for index, item in enumerate(inputs):
        with item.path.open("rb") as stream:
            if settings.split_type == "Line":
                yield from _line_batches(index, stream, settings, inputs)
                continue
            body = stream.read()
            limit = settings.max_payload_bytes
            if limit is not None and len(body) > limit:
                raise _too_large(inputs, index, 1, limit)
            if body:
                yield Batch(index, 1, body.count(b"\n") or 1, 1, body)


# --- sending ------------------------------------------------------------------------------------


class BatchFailed(Exception):
    def __init__(self, batch: Batch, status: int | None, message: str, attempts: int = 1):
        super().__init__(message)
        self.batch, self.status, self.message, self.attempts = batch, status, message, attempts


def _retryable(status: int | None) -> bool:
    """No answer (refused, reset, timed out) or a 5xx: the container failed, the input may be fine. A 4xx is
    the container refusing the input, which another attempt would not change."""
    return status is None or status >= 500


class Sender:
    """POSTs batches to /invocations through the container client (one keep-alive session per worker).

    A batch that gets no answer or a 5xx is sent again, up to ``max_retries`` more times
    (ModelClientConfig.InvocationsMaxRetries, SageMaker's default 3) after a short backoff, each retry
    reported; a 4xx fails it at once. Only the answer of the attempt that succeeded is returned, so an
    attempt cut off half-way (a connection reset mid-answer) never reaches the output.
    """

    def __init__(
        self,
        client: ContainerClient,
        settings: TransformSettings,
        timeout: float,
        *,
        max_retries: int = DEFAULT_INVOCATIONS_MAX_RETRIES,
        backoff: tuple[float, ...] = RETRY_BACKOFF_SECONDS,
        reporter: Reporter | None = None,
        inputs: list[InputFile] | None = None,
    ):
        self.client = client
        self.content_type = settings.content_type
        self.accept = settings.accept or None
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff or (0.0,)
        self.reporter = reporter
        self.inputs = inputs
        self.retries = 0  # retries made, all batches together
        self._stopped = threading.Event()
        self._counting = threading.Lock()

    def stop(self) -> None:
        """The job is ending: no more retries, and backoff waits end now."""
        self._stopped.set()

    def _attempt(self, batch: Batch, attempts: int) -> bytes | BatchFailed:
        try:
            answer = self.client.invoke(
                batch.payload, content_type=self.content_type, accept=self.accept, timeout=self.timeout
            )
        except NoAnswer as exc:
            return BatchFailed(batch, None, f"the request failed: {exc}", attempts)
        if not answer.ok:
            return BatchFailed(batch, answer.status, answer.error(limit=500), attempts)
        return answer.body

    def send(self, batch: Batch) -> bytes:
        attempts = 0
        while True:
            attempts += 1
            outcome = self._attempt(batch, attempts)
            if not isinstance(outcome, BatchFailed):
                return outcome
            if not _retryable(outcome.status) or attempts > self.max_retries or self._stopped.is_set():
                raise outcome
            delay = self.backoff[min(attempts, len(self.backoff)) - 1]
            self._report_retry(outcome, attempts, delay)
            if self._stopped.wait(delay):
                raise outcome

    def _report_retry(self, failure: BatchFailed, attempts: int, delay: float) -> None:
        with self._counting:  # workers retry concurrently
            self.retries += 1
        if self.reporter is None:
            return
        batch = failure.batch
        where = batch.describe(self.inputs) if self.inputs else f"lines {batch.first_line}-{batch.last_line}"
        status = f"HTTP {failure.status}" if failure.status else "no answer"
        why = failure.message.splitlines()[0] if failure.message else ""
        self.reporter.warn(
            f"{where}: {status} ({why}); retry {attempts} of {self.max_retries} in {delay:g} s "
            "(ModelClientConfig.InvocationsMaxRetries)"
        )


class OrderedWriter:
    """Writes answers to ``<file>.out`` in input order, whatever order the requests finish in.

    AssembleWith ``Line`` ends every answer with a newline (adding one when it has none); ``None``
    writes the answers exactly as received, one after another. Each ``.out`` is written under a
    temporary name and renamed once its file is done (:meth:`finish`, or the next file's first
    answer); :meth:`close` before that discards the unfinished one.
    """

    def __init__(
        self,
        inputs: list[InputFile],
        output_dir: Path,
        assemble_with: str = "Line",
        results: OutputDirectory | None = None,
    ):
        self.inputs = inputs
        self.output_dir = output_dir
        self.results = results or OutputDirectory(output_dir, "--output")  # shared by the instances of a job
        self.by_line = assemble_with == "Line"
        self.outputs: list[Path] = []
        self._done = 0  # inputs whose .out is in place
        self._current: tuple[int, IO[bytes], Path] | None = None  # index, handle, temporary path

    def _name(self, index: int) -> str:
        return self.inputs[index].output_path(self.output_dir).relative_to(self.output_dir).as_posix()

    def _open_through(self, index: int) -> IO[bytes]:
        """The .out of file ``index``, the files before it completed (empty .out files for inputs
        without records)."""
        if self._current and self._current[0] == index:
            return self._current[1]
        self._complete()
        while self._done < index:
            self._start(self._done)
            self._complete()
        return self._start(index)

    def _start(self, index: int) -> IO[bytes]:
        descriptor, temporary = temporary_beside(self.inputs[index].output_path(self.output_dir))
        handle = os.fdopen(descriptor, "wb")
        self._current = (index, handle, temporary)
        return handle

    def _complete(self) -> None:
        """Close the current .out and rename it to its final name."""
        if self._current is None:
            return
        index, handle, temporary = self._current
        self._current = None
        handle.close()
        self.outputs.append(self.results.publish(temporary, self._name(index)))
        self._done = index + 1

    def write(self, batch: Batch, answer: bytes) -> None:
        handle = self._open_through(batch.file_index)
        handle.write(answer)
        if self.by_line and answer and not answer.endswith(b"\n"):
            handle.write(b"\n")

    def finish(self) -> list[Path]:
        if self._done < len(self.inputs):
            self._open_through(len(self.inputs) - 1)
        self._complete()
        return self.outputs

    def close(self) -> None:
        """Discard the unfinished .out, if any (a failed job leaves no partial file under a final name)."""
        if self._current is None:
            return
        _, handle, temporary = self._current
        self._current = None
        handle.close()
        temporary.unlink(missing_ok=True)


def refuse_foreign_outputs(inputs: list[InputFile], output_dir: Path) -> None:
    """Exit 2 before the job starts when an output's name holds a file smbyo did not write."""
    OutputDirectory(output_dir, "--output").refuse_foreign(
        item.output_path(output_dir).relative_to(output_dir).as_posix() for item in inputs
    )


# --- the job ------------------------------------------------------------------------------------


# What a container may answer in /execution-parameters: SageMaker's own bounds for these job fields
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html).
CONTAINER_BOUNDS = {"MaxPayloadInMB": (0, 100), "MaxConcurrentTransforms": (1, 1024)}


def _container_number(container: dict[str, Any], key: str, default: int) -> int:
    """A number from /execution-parameters, or the default; an answer outside SageMaker's bounds fails the job."""
    if key not in container:
        return default
    value = container[key]
    low, high = CONTAINER_BOUNDS[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise JobFailed(
            f"the container's GET /execution-parameters answered {key}={value!r}; SageMaker takes an integer "
            f"from {low} to {high}",
            hint="Fix the container's /execution-parameters (or its SAGEMAKER_* environment), or set the "
            "value on the command line (--max-payload-mb / --concurrency).",
        )
    return value


def _container_strategy(container: dict[str, Any]) -> str | None:
    if "BatchStrategy" not in container:
        return None
    strategy = STRATEGY_FROM_CONTAINER.get(str(container["BatchStrategy"]).upper())
    if strategy is None:
        raise JobFailed(
            f"the container's GET /execution-parameters answered BatchStrategy={container['BatchStrategy']!r}; "
            f"SageMaker takes {' or '.join(STRATEGY_FROM_CONTAINER)}",
            hint="Fix the container's /execution-parameters, or pass --strategy.",
        )
    return strategy


def merge_settings(
    container: dict[str, Any],
    *,
    content_type: str,
    accept: str,
    split_type: str,
    strategy: str | None,
    max_payload_mb: int | None,
    concurrency: int | None,
) -> TransformSettings:
    """The request's values win over /execution-parameters, which win over SageMaker's defaults.

    A container's answer is only read for what the request leaves out, and checked like a request value.
    """
    return TransformSettings(
        content_type=content_type,
        accept=accept,
        split_type=split_type or "Line",
        strategy=strategy or _container_strategy(container) or DEFAULT_STRATEGY,
        max_payload_mb=max_payload_mb
        if max_payload_mb is not None
        else _container_number(container, "MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB),
        concurrency=concurrency
        if concurrency is not None
        else _container_number(container, "MaxConcurrentTransforms", DEFAULT_CONCURRENCY),
    )


def is_routine_access_line(line: str) -> bool:
    return SUCCESSFUL_ACCESS_LINE.search(line) is not None


def _batch_environment(strategy: str | None, max_payload_mb: int | None, concurrency: int | None) -> dict[str, str]:
    """What SageMaker sets in a transform container: SAGEMAKER_BATCH always, the other three only when the
    job sets them (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-batch-code.html). The
    container's body limit follows SAGEMAKER_MAX_PAYLOAD_IN_MB (``sm_byo.runtime.payload``), so a
    ``--max-payload-mb`` over 6 is accepted by the container exactly as on SageMaker."""
    env = {"SAGEMAKER_BATCH": "true"}
    if strategy:
        env["SAGEMAKER_BATCH_STRATEGY"] = STRATEGY_TO_CONTAINER[strategy]
    if max_payload_mb is not None:
        env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(max_payload_mb)
    if concurrency is not None:
        env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(concurrency)
    return env


@dataclass
class _Progress:
    """Bytes, records and requests done, all instances together (each instance's thread adds its own)."""

    total_bytes: int
    sent_bytes: int = 0
    records: int = 0
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, batch: Batch, reporter: Reporter, counts: _Counts) -> None:
        with self._lock:
            self.sent_bytes += len(batch.body)
            self.records += batch.records
            self.requests += 1
            counts.records += batch.records
            counts.requests += 1
            reporter.progress("transform", self.sent_bytes, self.total_bytes)


class _JobStopped(Exception):
    """Another instance failed (or the job is being stopped): this one ends without finishing its files."""


@dataclass(frozen=True)
class _Work:
    """What the instances share besides sending: where they write, how records are processed, when to stop
    (``stop``: set by the first failure, or when the job ends), and the failures."""

    output_dir: Path
    assemble_with: str
    split_line: bool
    processing: RecordProcessing | None
    results: OutputDirectory
    stop: threading.Event = field(default_factory=threading.Event)
    changed: threading.Event = field(default_factory=threading.Event)  # an instance ended
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures: list[tuple[Any, BaseException]] = field(default_factory=list)


@dataclass
class _Counts:
    """Records and requests one instance answered."""

    records: int = 0
    requests: int = 0


def _record_failure(batch: Batch, number: int, why: str, inputs: list[InputFile]) -> JobFailed:
    exact = batch.last_line - batch.first_line + 1 == batch.records  # no blank line inside: lines are records
    where = (
        f"{inputs[batch.file_index].relative} line {batch.first_line + number - 1}"
        if exact
        else f"{batch.describe(inputs)}, record {number}"
    )
    return JobFailed(
        f"{where}: {why}",
        hint="Fix the record, or the DataProcessing filters (--input-filter, --output-filter) so that they fit "
        "every record (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html).",
        details={"file": inputs[batch.file_index].relative, "first_line": batch.first_line, "record": number},
    )


def _filtered(batch: Batch, work: _Work, inputs: list[InputFile]) -> Batch:
    """The batch with what DataProcessing.InputFilter sends of each record (the batch itself without a filter)."""
    processing = work.processing
    if processing is None or processing.input_filter is None:
        return batch
    sent = []
    for number, record in enumerate(batch.records_read(work.split_line), start=1):
        try:
            sent.append(processing.to_send(record))
        except RecordError as exc:
            raise _record_failure(batch, number, str(exc), inputs) from None
    batch.filtered = b"\n".join(sent) + b"\n" if work.split_line else sent[0]
    return batch


def _assembled(batch: Batch, answer: bytes, work: _Work, inputs: list[InputFile]) -> bytes:
    """The answer as written: each output record joined and filtered (DataProcessing), or as received."""
    processing = work.processing
    if processing is None or not processing.per_output_record:
        return answer
    records = batch.records_read(work.split_line)
    outputs = split_answer(answer, len(records)) if work.split_line else [answer]
    if outputs is None:
        answered = len(answer.rstrip(b"\n").split(b"\n"))
        raise JobFailed(
            f"{batch.describe(inputs)}: the container answered {answered} line(s) for "
            f"{len(records)} record(s); joining and output filters need one output line per input record",
            hint="Answer one line per record (with Accept application/json, send one record per request: "
            "--strategy SingleRecord), or drop --join-source/--output-filter.",
        )
    lines = []
    for number, (record, output) in enumerate(zip(records, outputs, strict=True), start=1):
        try:
            lines.append(processing.to_write(record, output))
        except RecordError as exc:
            raise _record_failure(batch, number, f"its output: {exc}", inputs) from None
    return b"\n".join(lines) + b"\n"


def _run_batches(
    inputs: list[InputFile],
    settings: TransformSettings,
    sender: Sender,
    reporter: Reporter,
    progress: _Progress,
    work: _Work,
    counts: _Counts,
) -> list[Path]:
    """Send every batch of ``inputs`` with ``concurrency`` requests in flight; write answers in input order.

    Ends with :class:`_JobStopped` (its unfinished .out discarded) as soon as ``work.stop`` is set."""
    writer = OrderedWriter(inputs, work.output_dir, work.assemble_with, work.results)
    pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="transform")
    pending: deque[tuple[Batch, Future[bytes]]] = deque()

    def settle_first() -> None:
        batch, future = pending.popleft()
        writer.write(batch, _assembled(batch, future.result(), work, inputs))
        progress.add(batch, reporter, counts)

    def check() -> None:
        if work.stop.is_set():
            raise _JobStopped()

    try:
        for batch in batches(inputs, settings):
            check()
            pending.append((batch, pool.submit(sender.send, _filtered(batch, work, inputs))))
            while len(pending) > settings.concurrency * 2 or (pending and pending[0][1].done()):
                settle_first()
                check()
        while pending:
            settle_first()
            check()
        return writer.finish()
    finally:
        sender.stop()  # requests still retrying give up: the job is over (or being stopped)
        writer.close()
        pool.shutdown(wait=False, cancel_futures=True)


# --- the plan -----------------------------------------------------------------------------------


def _uri(path: Path) -> str:
    """``file://`` URI of ``path`` made absolute, links not followed (a linked input file keeps its name,
    and so does its ``.out``)."""
    return Path(os.path.abspath(path.expanduser())).as_uri()


def local_transform_plan(loaded: LoadedManifest, options: TransformCommand) -> Plan:
    """CreateModel + CreateTransformJob for local Docker, checked (exit 2 naming what to fix)."""
    s3_hint = "Drop --local to run a SageMaker batch transform job, or download the files first."
    refuse_s3(f"--output {options.output}", options.output, "transform", s3_hint)
    model = local_source(
        f"--model {options.model}",
        options.model,
        "transform",
        s3_hint=s3_hint,
        missing_hint="Pass the model.tar.gz written by `smbyo train --local --out DIR` (DIR/model.tar.gz) or a "
        "directory.",
    )
    source = local_source(
        f"--input {options.input}",
        options.input,
        "transform",
        s3_hint=s3_hint,
        missing_hint="Pass a local input file or directory.",
    )
    list_inputs(source)  # an empty directory is refused now, not after the container started
    manifest = loaded.manifest
    name = unique_name(manifest.name)
    create_model = model_request(
        manifest,
        ModelOptions(
            model_name=name,
            image=options.image or local_image_tag(manifest, "inference"),
            model_data=_uri(model),
            role=LOCAL_ROLE,
            network_isolation=options.network_isolation,
            flags={"image": "--image", "model_data": "--model", "network_isolation": "--network-isolation"},
        ),
    )
    create_job = transform_job_request(
        manifest,
        transform_options(
            options, job_name=name, model_name=name, input_uri=_uri(source), output_uri=_uri(Path(options.output))
        ),
    )
    return Plan("local", (create_model, create_job)).check(loaded)


def transform_local_command(
    loaded: LoadedManifest, reporter: Reporter, options: TransformCommand, *, docker: DockerAdapter | None = None
) -> TransformResult | Plan:
    """``smbyo transform --local``: the plan (``--dry-run``), or its result once local Docker ran it."""
    options.refuse_other_mode()
    plan = local_transform_plan(loaded, options)
    if options.dry_run:
        return plan
    return run_transform_job(
        plan.request("CreateTransformJob").kwargs, plan.request("CreateModel").kwargs, reporter, docker=docker
    )


def transform_local(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    model: str | Path,
    input: str | Path,
    output: str | Path,
    image: str | None = None,
    content_type: str | None = None,
    accept: str | None = None,
    split_type: str = "Line",
    strategy: str | None = None,
    max_payload_mb: int | None = None,
    concurrency: int | None = None,
    startup_timeout: float = TRANSFORM_STARTUP_HEALTH_CHECK_SECONDS,
    network_isolation: bool = True,
    docker: DockerAdapter | None = None,
) -> TransformResult:
    """A local batch transform given as keywords (what ``smbyo validate --local`` runs): the same plan
    and executor as ``smbyo transform --local``."""
    options = TransformCommand(
        local=True,
        image=image,
        model=str(model),
        input=str(input),
        output=str(output),
        content_type=content_type,
        accept=accept,
        split_type=split_type,
        strategy=strategy,
        max_payload_mb=max_payload_mb,
        concurrency=concurrency,
        network_isolation=network_isolation,
    )
    plan = local_transform_plan(loaded, options)
    return run_transform_job(
        plan.request("CreateTransformJob").kwargs,
        plan.request("CreateModel").kwargs,
        reporter,
        docker=docker,
        startup_timeout=startup_timeout,
    )


# --- the executor -------------------------------------------------------------------------------


def _unsupported(field: str, value: Any, why: str) -> UsageError:
    return UsageError(
        f"{field} {value!r}: {why}",
        hint="Run this transform on SageMaker (drop --local), or change the request's value.",
    )


@dataclass(frozen=True)
class _Job:
    """What the executor takes from the two requests (and checks it can do locally)."""

    name: str
    model_name: str
    image: str
    model: Path
    input: Path
    output: Path
    content_type: str
    accept: str
    split_type: str
    assemble_with: str
    strategy: str | None
    max_payload_mb: int | None
    concurrency: int | None
    instance_type: str
    instance_count: int
    timeout: float
    max_retries: int
    environment: dict[str, str]
    processing: RecordProcessing | None
    kms_fields: tuple[str, ...]  # the KMS keys the request names (nothing is encrypted locally)
    network_isolation: bool  # CreateModel.EnableNetworkIsolation: buyers' conditions (sm_byo.local.serving)


def _processing(transform: Mapping[str, Any], content_type: str, accept: str) -> RecordProcessing | None:
    """The request's DataProcessing, checked by the rules pre-flight applies (a request that did not come
    through a plan is held to them too), compiled for the records."""
    processing = transform.get("DataProcessing")
    if not processing:
        return None
    problems = data_processing_problems(transform)
    if problems:
        path, message = problems[0]
        raise UsageError(
            f"{'.'.join(path)}: {message}",
            hint="Fix the request's DataProcessing (https://docs.aws.amazon.com/sagemaker/latest/dg/"
            "batch-transform-data-processing.html).",
        )
    return RecordProcessing.from_request(processing, content_type, accept)


def _read_requests(transform: Mapping[str, Any], model: Mapping[str, Any]) -> _Job:
    if transform.get("ModelName") != model.get("ModelName"):
        raise UsageError(
            f"CreateTransformJob.ModelName {transform.get('ModelName')!r} is not the model of the plan "
            f"({model.get('ModelName')!r})",
            hint="Give run_transform_job the CreateModel request of the model the job names.",
        )
    container = model.get("PrimaryContainer") or {}
    job_input = transform["TransformInput"]
    source = job_input["DataSource"]["S3DataSource"]
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise _unsupported(
            "TransformInput.DataSource.S3DataSource.S3DataType", source["S3DataType"], "locally only S3Prefix"
        )
    compression = job_input.get("CompressionType", "None")
    if compression != "None":
        raise _unsupported("TransformInput.CompressionType", compression, "a local transform reads uncompressed input")
    split_type = str(job_input.get("SplitType", "None"))
    if split_type not in ("None", "Line"):
        raise _unsupported("TransformInput.SplitType", split_type, "locally only None and Line")
    output = transform["TransformOutput"]
    resources = transform.get("TransformResources") or {}
    client = transform.get("ModelClientConfig") or {}
    strategy = transform.get("BatchStrategy")
    max_payload = transform.get("MaxPayloadInMB")
    concurrency = transform.get("MaxConcurrentTransforms")
    environment = {str(key): str(value) for key, value in (container.get("Environment") or {}).items()}
    environment.update({str(key): str(value) for key, value in (transform.get("Environment") or {}).items()})
    environment.update(_batch_environment(strategy, max_payload, concurrency))
    return _Job(
        name=str(transform["TransformJobName"]),
        model_name=str(model["ModelName"]),
        image=str(container["Image"]),
        model=local_path(
            str(container["ModelDataUrl"]),
            "PrimaryContainer.ModelDataUrl",
            hint="Pass --model with an existing model.tar.gz or model directory.",
        ),
        input=local_path(
            str(source["S3Uri"]),
            "TransformInput.DataSource.S3DataSource.S3Uri",
            hint="Pass --input with an existing local file or directory.",
        ),
        output=output_dir(str(output["S3OutputPath"]), "TransformOutput.S3OutputPath", "--output"),
        content_type=str(job_input.get("ContentType") or ""),
        accept=str(output.get("Accept") or ""),
        split_type=split_type,
        assemble_with=str(output.get("AssembleWith") or "None"),
        strategy=strategy,
        max_payload_mb=max_payload,
        concurrency=concurrency,
        instance_type=str(resources.get("InstanceType", "")),
        instance_count=int(resources.get("InstanceCount", 1)),
        timeout=float(client.get("InvocationsTimeoutInSeconds") or DEFAULT_INVOCATION_TIMEOUT_SECONDS),
        max_retries=int(
            DEFAULT_INVOCATIONS_MAX_RETRIES
            if client.get("InvocationsMaxRetries") is None
            else client["InvocationsMaxRetries"]
        ),
        environment=environment,
        processing=_processing(transform, str(job_input.get("ContentType") or ""), str(output.get("Accept") or "")),
        kms_fields=_kms_fields(output, resources),
        network_isolation=bool(model.get("EnableNetworkIsolation", False)),  # SageMaker's default: off
    )


def _kms_fields(output: Mapping[str, Any], resources: Mapping[str, Any]) -> tuple[str, ...]:
    keys = {"TransformOutput.KmsKeyId": output.get("KmsKeyId"),
            "TransformResources.VolumeKmsKeyId": resources.get("VolumeKmsKeyId")}  # fmt: skip
    return tuple(name for name, value in keys.items() if value)


def _warn_about_inputs(job: _Job, reporter: Reporter) -> None:
    hidden = hidden_files(job.input)
    if hidden:
        reporter.warn(
            f"input {job.input}: {len(hidden)} hidden file(s) (e.g. {hidden[0].relative_to(job.input)}) are data too: "
            "SageMaker transforms every file under the input prefix. Remove them if they are not data."
        )
    if job.kms_fields:
        reporter.warn(
            f"{' and '.join(job.kms_fields)}: a local job encrypts nothing (there is no KMS locally); "
            "the .out files are written as plain local files (docs/local.md)"
        )


def distribute(inputs: list[InputFile], instances: int) -> list[list[int]]:
    """Which input files each instance transforms (indexes into ``inputs``, in input order).

    "SageMaker distributes the objects ... among the instances": a file is never split, and with fewer files
    than instances some instances get none (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html,
    "Speed up a batch transform job"). How it assigns them is not documented; here the largest file goes
    first, each to the instance with the fewest bytes so far (ties: the lowest instance), so the instances
    finish at about the same time.
    """
    sizes = [item.path.stat().st_size for item in inputs]
    loads = [0] * instances
    shares: list[list[int]] = [[] for _ in range(instances)]
    for index in sorted(range(len(inputs)), key=lambda i: (-sizes[i], i)):
        instance = min(range(instances), key=lambda n: (loads[n], n))
        shares[instance].append(index)
        loads[instance] += sizes[index]
    return [sorted(share) for share in shares]


@dataclass
class _Instance:
    """One instance of the job: its container, its files, and what it did."""

    name: str
    container: ServingContainer
    pump: LogPump
    inputs: list[InputFile]
    settings: TransformSettings | None = None
    sender: Sender | None = None
    outputs: list[Path] = field(default_factory=list)
    counts: _Counts = field(default_factory=_Counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "files": [item.relative for item in self.inputs],
            "records": self.counts.records,
            "requests": self.counts.requests,
        }


def _serving_start(job: _Job, model_dir: Path, number: int, cpus: float | None) -> ServingStart:
    """How instance ``number``'s container is started (reached on a loopback port, as with one instance)."""
    labels = {"dev.smbyo.job": job.name, "dev.smbyo.kind": "transform", "dev.smbyo.instance": host_name(number)}
    return ServingStart(job.image, model_dir, container_name("transform"), labels, job.environment, cpus=cpus)


def _run_instance(
    instance: _Instance, job: _Job, work: _Work, reporter: Reporter, progress: _Progress, startup_timeout: float
) -> None:
    """An instance's whole life after its container started: healthy, its settings, its files."""
    client = ContainerClient(wait_until_healthy(instance.container, instance.pump, startup_timeout))
    instance.settings = merge_settings(
        client.execution_parameters(),
        content_type=job.content_type,
        accept=job.accept,
        split_type=job.split_type,
        strategy=job.strategy,
        max_payload_mb=job.max_payload_mb,
        concurrency=job.concurrency,
    )
    settings = instance.settings
    reporter.detail(
        f"{instance.name}: {settings.strategy}, {settings.max_payload_mb} MB payloads, {settings.concurrency} in "
        f"flight, {len(instance.inputs)} file(s), up to {job.max_retries} retries per request"
    )
    instance.sender = Sender(
        client,
        instance.settings,
        timeout=job.timeout + REQUEST_TIMEOUT_MARGIN,
        max_retries=job.max_retries,
        reporter=reporter,
        inputs=instance.inputs,
    )
    if work.stop.is_set():
        raise _JobStopped()
    instance.outputs = _run_batches(
        instance.inputs, instance.settings, instance.sender, reporter, progress, work, instance.counts
    )


def _start_instances(
    instances: list[_Instance], job: _Job, work: _Work, reporter: Reporter, progress: _Progress, startup_timeout: float
) -> list[threading.Thread]:
    """One thread per instance; the first failure stops the others (``work.stop``) and is kept."""

    def life(instance: _Instance) -> None:
        try:
            _run_instance(instance, job, work, reporter, progress, startup_timeout)
        except BaseException as exc:  # kept for the main thread, which raises it
            with work.lock:
                if not work.stop.is_set():  # later failures are the stop's consequences (containers removed)
                    work.failures.append((instance, exc))
                    work.stop.set()
        finally:
            work.changed.set()

    threads = [
        threading.Thread(target=life, args=(instance,), name=instance.name, daemon=True) for instance in instances
    ]
    for thread in threads:
        thread.start()
    return threads


def _halt(instances: list[_Instance], work: _Work) -> None:
    """Stop every instance's sending now (no new request, no retry): the job failed or is being stopped."""
    work.stop.set()
    for instance in instances:
        if instance.sender is not None:
            instance.sender.stop()


def _wait_for_instances(instances: list[_Instance], threads: list[threading.Thread], work: _Work) -> None:
    """Until every instance is done, or one failed (then the others are halted before their containers go)."""
    try:
        while any(thread.is_alive() for thread in threads) and not work.stop.is_set():
            work.changed.wait(WAIT_POLL_SECONDS)
            work.changed.clear()
    finally:
        if work.stop.is_set() or any(thread.is_alive() for thread in threads):
            _halt(instances, work)


def _raise_first_failure(job: _Job, instances: list[_Instance], work: _Work) -> None:
    """The job's error: the first instance failure (a refused record names its file, lines and instance)."""
    if not work.failures:
        return
    instance, exc = work.failures[0]
    if isinstance(exc, BatchFailed):
        several = instance.name if len(instances) > 1 else None
        raise _batch_failure(job.name, exc, instance.inputs, instance.pump, several) from None
    raise exc


def run_transform_job(
    transform_request: Mapping[str, Any],
    model_request: Mapping[str, Any],
    reporter: Reporter,
    *,
    docker: DockerAdapter | None = None,
    startup_timeout: float = TRANSFORM_STARTUP_HEALTH_CHECK_SECONDS,
) -> TransformResult:
    """Run one CreateTransformJob request, with the CreateModel request of its model, in local Docker.

    One serving container per instance (TransformResources.InstanceCount), each with its share of the
    machine's CPUs and its share of the input files (:func:`distribute`), sending them with the job's
    MaxConcurrentTransforms. The .out files land where TransformOutput.S3OutputPath (a file:// URI) says; a
    record a container refuses fails the job (JobFailed, exit 1) naming the file and its lines, and stops
    the other instances (their unfinished .out files are discarded). ``startup_timeout``: how long each
    container has to answer /ping 200 (SageMaker documents no start-up limit for batch transform; smbyo
    uses hosting's default, see ``local.health``).
    """
    job = _read_requests(transform_request, model_request)
    inputs = list_inputs(job.input)
    refuse_foreign_outputs(inputs, job.output)
    _warn_about_inputs(job, reporter)
    adapter = docker or connect()
    adapter.inspect_image(job.image)
    started = time.monotonic()
    shares = distribute(inputs, job.instance_count)
    cpus = cpu_share(adapter, job.instance_count)
    reporter.step(
        f"Batch transform {job.name} locally with {job.image} (as {job.instance_count} x {job.instance_type}"
        + (f", {cpus:g} CPUs each" if cpus else "")
        + (", network isolation" if job.network_isolation else ", WITHOUT network isolation")
        + ")"
    )
    if not job.network_isolation:
        reporter.warn(ISOLATION_OFF_WARNING)
    progress = _Progress(total_bytes=sum(item.path.stat().st_size for item in inputs))
    work = _Work(job.output, job.assemble_with, job.split_type == "Line", job.processing,
                 OutputDirectory(job.output, "--output"))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="smbyo-local-transform-", ignore_cleanup_errors=True) as scratch:
        model_dir = model_directory(job.model, Path(scratch))
        starts = [_serving_start(job, model_dir, number, cpus) for number in range(1, job.instance_count + 1)]
        threads: list[threading.Thread] = []
        try:
            with serving_containers(adapter, starts, isolated=job.network_isolation, reporter=reporter) as containers:
                instances = [
                    _Instance(
                        name=host_name(number),
                        container=container,
                        pump=LogPump(
                            container.handle, reporter, host_name(number), quiet=is_routine_access_line
                        ).start(),
                        inputs=[inputs[index] for index in share],
                    )
                    for number, (container, share) in enumerate(zip(containers, shares, strict=True), start=1)
                ]
                threads = _start_instances(instances, job, work, reporter, progress, startup_timeout)
                _wait_for_instances(instances, threads, work)
        finally:
            work.stop.set()  # the containers are gone: every instance's thread ends now
            for thread in threads:
                thread.join()
        _raise_first_failure(job, instances, work)
    seconds = time.monotonic() - started
    reporter.status(job.name, "Completed", seconds)
    settings = next(instance.settings for instance in instances if instance.settings is not None)
    order = {item.output_path(job.output): index for index, item in enumerate(inputs)}
    return TransformResult(
        job_name=job.name,
        where="local",
        status="Completed",
        model_name=job.model_name,
        input=str(job.input),
        output=str(job.output),
        image=job.image,
        settings={
            **settings.to_dict(),
            "assemble_with": job.assemble_with,
            "instance_type": job.instance_type,
            "instance_count": job.instance_count,
        },
        outputs=[str(path) for path in sorted((p for i in instances for p in i.outputs), key=order.__getitem__)],
        records=progress.records,
        requests=progress.requests,
        input_bytes=progress.total_bytes,
        elapsed_seconds=seconds,
        instances=[instance.to_dict() for instance in instances],
        network_isolation=job.network_isolation,
    )


def _batch_failure(
    name: str, exc: BatchFailed, inputs: list[InputFile], pump: LogPump, instance: str | None = None
) -> JobFailed:
    """The job's error for a batch that failed (``instance``: which one, when the job has several)."""
    status = f"HTTP {exc.status}" if exc.status else "no answer"
    retryable = _retryable(exc.status)
    tail = pump.tail_text() if retryable else ""
    tries = f" after {exc.attempts} attempts" if exc.attempts > 1 else ""
    where = f" on {instance}" if instance else ""
    return JobFailed(
        f"transform job {name} failed{where} at {exc.batch.describe(inputs)} ({status}{tries}): {exc.message}"
        + (f"\n--- last lines of the container's log ---\n{tail}" if tail else ""),
        hint="The container failed on these records (it crashed, timed out or answered 5xx) every time: see its "
        "log above, fix predictor.py, rebuild, and run the transform again."
        if retryable
        else "Fix those records (or the content type / split type), then run the transform again.",
        details={
            "job_name": name,
            "instance": instance,
            "file": inputs[exc.batch.file_index].relative,
            "first_line": exc.batch.first_line,
            "last_line": exc.batch.last_line,
            "status": exc.status,
            "attempts": exc.attempts,
            "error": exc.message,
        },
    )
