"""``smbyo transform --local``: a SageMaker batch transform job against a local serving container.

The runner does what SageMaker's transform agent does: start ``IMAGE serve`` with SAGEMAKER_BATCH
set, wait for /ping, ask /execution-parameters (the user's flags win), split every input file
(SplitType None or Line), pack records (MultiRecord up to MaxPayloadInMB, or SingleRecord), send
them with MaxConcurrentTransforms parallel requests and assemble each file's answers in input order
into ``<relative path>.out`` (AssembleWith Line). Blank input lines are not records and are skipped.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from sm_byo.docker import DockerAdapter, connect
from sm_byo.errors import JobFailed, UsageError
from sm_byo.local.archive import model_directory
from sm_byo.local.containers import LogPump, container_name, job_name, running
from sm_byo.local.health import TRANSFORM_STARTUP_HEALTH_CHECK_SECONDS
from sm_byo.local.serving import (
    container_error,
    loopback_port,
    model_volume,
    wait_until_healthy,
)
from sm_byo.manifest import LoadedManifest
from sm_byo.reporting import Reporter
from sm_byo.runtime.payload import MB, TRANSFORM_DEFAULT_MAX_PAYLOAD_MB
from sm_byo.specs.names import local_image_tag

# A blank line after another line, and a blank first line (two patterns: each starts with a literal, fast).
BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")
BLANK_FIRST_LINE = re.compile(rb"[ \t\r\f\v]*\n")
STRATEGY_FROM_CONTAINER = {"MULTI_RECORD": "MultiRecord", "SINGLE_RECORD": "SingleRecord"}
STRATEGY_TO_CONTAINER = {value: key for key, value in STRATEGY_FROM_CONTAINER.items()}
DEFAULT_STRATEGY = "MultiRecord"
DEFAULT_MAX_PAYLOAD_MB = TRANSFORM_DEFAULT_MAX_PAYLOAD_MB
DEFAULT_CONCURRENCY = 1
REQUEST_TIMEOUT_MARGIN = 30
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
    body: bytes

    def describe(self, inputs: list[InputFile]) -> str:
        where = inputs[self.file_index].relative
        if self.first_line == self.last_line:
            return f"{where} line {self.first_line}"
        return f"{where} lines {self.first_line}-{self.last_line}"


@dataclass
class LocalTransformResult:
    job_name: str
    status: str
    image: str
    outputs: list[Path]
    records: int
    requests: int
    input_bytes: int
    settings: TransformSettings
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_name": self.job_name,
            "status": self.status,
            "image": self.image,
            "outputs": [str(path) for path in self.outputs],
            "records": self.records,
            "requests": self.requests,
            "input_bytes": self.input_bytes,
            "strategy": self.settings.strategy,
            "split_type": self.settings.split_type,
            "max_payload_mb": self.settings.max_payload_mb,
            "concurrency": self.settings.concurrency,
            "content_type": self.settings.content_type,
            "accept": self.settings.accept,
            "seconds": round(self.seconds, 2),
            "records_per_second": round(self.records_per_second, 1),
        }


# --- inputs and batches -------------------------------------------------------------------------


def list_inputs(input_path: Path) -> list[InputFile]:
    """Every input file (a file, or a directory's files sorted by relative path, hidden ones skipped)."""
    if input_path.is_file():
        return [InputFile(input_path, input_path.name)]
    if not input_path.is_dir():
        raise UsageError(
            f"--input {input_path}: no such file or directory", hint="Pass a local input file or directory."
        )
    files = [
        InputFile(path, path.relative_to(input_path).as_posix())
        for path in sorted(input_path.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(input_path).parts)
    ]
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
    def __init__(self, batch: Batch, status: int | None, message: str):
        super().__init__(message)
        self.batch, self.status, self.message = batch, status, message


class Sender:
    """POSTs batches to /invocations with one HTTP session per worker thread (keep-alive)."""

    def __init__(self, url: str, settings: TransformSettings, timeout: float):
        self.url = f"{url}/invocations"
        self.headers = {"Content-Type": settings.content_type, "Accept": settings.accept}
        self.timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(self, batch: Batch) -> bytes:
        try:
            response = self._session().post(self.url, data=batch.body, headers=self.headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise BatchFailed(batch, None, f"the request failed: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise BatchFailed(batch, response.status_code, container_error(response, limit=500))
        return response.content


class OrderedWriter:
    """Writes answers to ``<file>.out`` in input order, whatever order the requests finish in."""

    def __init__(self, inputs: list[InputFile], output_dir: Path):
        self.inputs = inputs
        self.output_dir = output_dir
        self.outputs: list[Path] = []
        self._current: tuple[int, IO[bytes]] | None = None

    def _open_through(self, index: int) -> IO[bytes]:
        """Open the .out of file ``index`` (creating empty .out files for inputs without records)."""
        if self._current and self._current[0] == index:
            return self._current[1]
        start = self._current[0] + 1 if self._current else 0
        self.close()
        handle: IO[bytes] | None = None
        for position in range(start, index + 1):
            path = self.inputs[position].output_path(self.output_dir)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.outputs.append(path)
            handle = path.open("wb")
            if position < index:
                handle.close()
        assert handle is not None
        self._current = (index, handle)
        return handle

    def write(self, batch: Batch, answer: bytes) -> None:
        handle = self._open_through(batch.file_index)
        handle.write(answer)
        if answer and not answer.endswith(b"\n"):
            handle.write(b"\n")

    def finish(self) -> list[Path]:
        if len(self.outputs) < len(self.inputs):
            self._open_through(len(self.inputs) - 1)
        self.close()
        return self.outputs

    def close(self) -> None:
        if self._current:
            self._current[1].close()
        self._current = None


# --- the job ------------------------------------------------------------------------------------


def _execution_parameters(url: str) -> dict[str, Any]:
    """The container's preferences; a container without the endpoint gets SageMaker's defaults."""
    try:
        response = requests.get(f"{url}/execution-parameters", timeout=5)
        if response.status_code == 200 and isinstance(response.json(), dict):
            return dict(response.json())
    except (requests.RequestException, ValueError):
        pass
    return {}


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
    """Flags win over /execution-parameters, which win over SageMaker's defaults."""
    from_container = STRATEGY_FROM_CONTAINER.get(str(container.get("BatchStrategy", "")).upper())
    return TransformSettings(
        content_type=content_type,
        accept=accept,
        split_type=split_type or "Line",
        strategy=strategy or from_container or DEFAULT_STRATEGY,
        max_payload_mb=int(container.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB))
        if max_payload_mb is None
        else max_payload_mb,
        concurrency=max(1, int(concurrency or container.get("MaxConcurrentTransforms") or DEFAULT_CONCURRENCY)),
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
    total_bytes: int
    sent_bytes: int = 0
    records: int = 0
    requests: int = 0


def _run_batches(
    inputs: list[InputFile],
    output_dir: Path,
    settings: TransformSettings,
    sender: Sender,
    reporter: Reporter,
    progress: _Progress,
) -> list[Path]:
    """Send every batch with ``concurrency`` requests in flight; write answers in input order."""
    writer = OrderedWriter(inputs, output_dir)
    pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="transform")
    pending: deque[tuple[Batch, Future[bytes]]] = deque()

    def settle_first() -> None:
        batch, future = pending.popleft()
        writer.write(batch, future.result())
        progress.sent_bytes += len(batch.body)
        progress.records += batch.records
        progress.requests += 1
        reporter.progress("transform", progress.sent_bytes, progress.total_bytes)

    try:
        for batch in batches(inputs, settings):
            pending.append((batch, pool.submit(sender.send, batch)))
            while len(pending) > settings.concurrency * 2 or (pending and pending[0][1].done()):
                settle_first()
        while pending:
            settle_first()
        return writer.finish()
    finally:
        writer.close()
        pool.shutdown(wait=False, cancel_futures=True)


def _refuse_s3(**locations: str | Path) -> None:
    for flag, value in locations.items():
        if str(value).startswith("s3://"):
            raise UsageError(
                f"--{flag} {value}: a local transform reads and writes local paths, not S3",
                hint="Drop --local to run a SageMaker batch transform job, or download the files first.",
            )


def transform_local(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    image: str | None = None,
    model: str | Path,
    input: str | Path,
    output: str | Path,
    content_type: str | None = None,
    accept: str | None = None,
    split_type: str = "Line",
    strategy: str | None = None,
    max_payload_mb: int | None = None,
    concurrency: int | None = None,
    startup_timeout: float = TRANSFORM_STARTUP_HEALTH_CHECK_SECONDS,
    docker: DockerAdapter | None = None,
) -> LocalTransformResult:
    """Run a batch transform of ``input`` with ``model`` in a local serving container.

    ``startup_timeout``: how long the container has to answer /ping 200 (SageMaker documents no
    start-up limit for batch transform; smbyo uses hosting's default, see ``local.serving``).
    """
    _refuse_s3(model=model, input=input, output=output)
    inputs = list_inputs(Path(input))
    output_dir = Path(output)
    serving = loaded.manifest.serving
    adapter = docker or connect()
    image = image or local_image_tag(loaded.manifest)
    adapter.inspect_image(image)
    name = job_name(loaded.manifest.name, "transform")
    started = time.monotonic()
    reporter.step(f"Batch transform {name} locally with {image}")
    with tempfile.TemporaryDirectory(prefix="smbyo-local-transform-", ignore_cleanup_errors=True) as scratch:
        model_dir = model_directory(Path(model), Path(scratch))
        with running(
            adapter,
            image,
            ["serve"],
            volumes=model_volume(model_dir),
            environment=_batch_environment(strategy, max_payload_mb, concurrency),
            ports=loopback_port(None),
            name=container_name("transform"),
            labels={"dev.smbyo.job": name, "dev.smbyo.kind": "transform"},
        ) as handle:
            pump = LogPump(handle, reporter, "transform", quiet=is_routine_access_line).start()
            url = wait_until_healthy(handle, pump, startup_timeout)
            settings = merge_settings(
                _execution_parameters(url),
                content_type=content_type or serving.content_types[0],
                accept=accept or serving.accept[0],
                split_type=split_type,
                strategy=strategy,
                max_payload_mb=max_payload_mb,
                concurrency=concurrency,
            )
            reporter.detail(
                f"{settings.strategy}, {settings.max_payload_mb} MB payloads, {settings.concurrency} in flight, "
                f"{len(inputs)} file(s)"
            )
            progress = _Progress(total_bytes=sum(item.path.stat().st_size for item in inputs))
            sender = Sender(url, settings, timeout=serving.timeout_seconds + REQUEST_TIMEOUT_MARGIN)
            try:
                outputs = _run_batches(inputs, output_dir, settings, sender, reporter, progress)
            except BatchFailed as exc:
                raise _batch_failure(name, exc, inputs, pump) from None
    seconds = time.monotonic() - started
    reporter.status(name, "Completed", seconds)
    return LocalTransformResult(
        job_name=name,
        status="Completed",
        image=image,
        outputs=outputs,
        records=progress.records,
        requests=progress.requests,
        input_bytes=progress.total_bytes,
        settings=settings,
        seconds=seconds,
    )


def _batch_failure(name: str, exc: BatchFailed, inputs: list[InputFile], pump: LogPump) -> JobFailed:
    status = f"HTTP {exc.status}" if exc.status else "no answer"
    tail = pump.tail_text() if exc.status is None or exc.status >= 500 else ""
    return JobFailed(
        f"transform job {name} failed at {exc.batch.describe(inputs)} ({status}): {exc.message}"
        + (f"\n--- last lines of the container's log ---\n{tail}" if tail else ""),
        hint="Fix those records (or the content type / split type), then run the transform again.",
        details={
            "job_name": name,
            "file": inputs[exc.batch.file_index].relative,
            "first_line": exc.batch.first_line,
            "last_line": exc.batch.last_line,
            "status": exc.status,
            "error": exc.message,
        },
    )
