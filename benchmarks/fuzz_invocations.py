"""Fuzz /invocations of the real serving container with hostile requests; count every 5xx.

The rule under test: bad input gets a 4xx JSON answer (``{"error": ..., "status": ...}``) naming what is
wrong, never a 5xx, never a traceback or an exception's class name; the container's memory stays bounded
and /ping stays healthy throughout. The generator (:func:`hostile_requests`, seeded, no dependencies)
mixes valid bodies, byte-level mutations of valid CSV and JSON, and generators for each known class of
hostile body: deep nesting, huge integers, exponents beyond float64, NaN/Infinity, booleans, strings,
null, nested rows, ragged and empty rows, duplicate keys, huge widths, long lines, BOMs, CRLF, NUL
bytes, invalid UTF-8, unicode digits, CSV values over the csv module's field limit; with random
Content-Type, Accept and custom-attribute headers.

    python3 benchmarks/fuzz_invocations.py [--requests 100000] [--image TAG] [--skip-build] [--seed 1]
    python3 benchmarks/fuzz_invocations.py --in-process [--requests 20000]   # Flask test client, no Docker

The container run builds ``--image`` (default smbyo-bench/fuzz-invocations:latest) from the example on the
local base image unless ``--skip-build``, trains the model with the image's own ``train``, serves it, and
removes the container (and the image it built) at the end. It prints the status counts, the 5xx count
(target 0), responses that broke the error contract, the container's peak memory (cgroup) and /ping's
record (a /ping every 100 ms on a fresh connection, each within SageMaker's 2 s). Exit 1 when any 5xx,
broken error answer or failed /ping was seen.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import itertools
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import BASE_IMAGE, CA_BUNDLE, EXAMPLE

DEFAULT_IMAGE = "smbyo-bench/fuzz-invocations:latest"
IRIS = [row.encode() for row in (EXAMPLE / "data" / "transform" / "iris.csv").read_text().split()]
CONTENT_TYPES = [
    "text/csv", "application/json", "text/csv; charset=utf-8", "application/json; charset=UTF-8",
    "text/csv; charset=latin-1", "text/plain", "application/x-protobuf", "", "text/csv;;;", "*/*",
    "application/json; charset=\"utf-8\"", "TEXT/CSV", "text/csv; q=0", "x" * 3000,
]  # fmt: skip
ACCEPTS = [
    None, "*/*", "text/csv", "application/json", "image/png", "application/*", "text/*;q=0.5, */*;q=0.1",
    "application/json;q=nan", "application/json;q=inf", "text/csv;q=0", ",,,", "a" * 3000, "\u00e9",
]  # fmt: skip
# Tokens spliced into bodies: each one a member of a class the decoders must refuse (or take) cleanly.
TOKENS = [
    b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"-inf", b"1e400", b"-1e400", b"1e-400", b"-0", b"1E5",
    b"true", b"false", b"null", b'"', b"'", b"[", b"]", b"{", b"}", b",", b":", b"\x00", b"\r", b"\n", b"\r\n",
    b"\xef\xbb\xbf", b"\t", b" ", b"\\", b"9" * 400, b"1" * 5000, b"0x10", b"1_000", "\uff11".encode(),
    "\u0661".encode(), "\u2028".encode(), b"\xc2\x85", b"\x0b", b"e", b"E", b"+", b"-", b".", b'"instances"',
    b'{"instances":', b"]]", b"[[", b"\xff", b"\xc3", b"\xed\xa0\x80", b'"\\ud800"', b"{}", b"[]", b'"1"',
    b'"a,b"', b'""', b'"""', b"#", b"%s", b"\x1b[31m",
]  # fmt: skip
# What an answer to a request must never show: a traceback, or an exception's class name.
LEAK = re.compile(r"Traceback|File \"|\b[A-Z][A-Za-z]*(Error|Exception|Warning)\b|(?i:<html)")


# --- the generator ------------------------------------------------------------------------------


def _rows(rng: random.Random, count: int) -> list[bytes]:
    return [rng.choice(IRIS) for _ in range(count)]


def valid_csv(rng: random.Random) -> bytes:
    return b"\n".join(_rows(rng, rng.choice([1, 2, 10, 100, 1000]))) + rng.choice([b"\n", b"", b"\r\n"])


def valid_json(rng: random.Random) -> bytes:
    rows = [[float(v) for v in row.split(b",")] for row in _rows(rng, rng.choice([1, 2, 10, 100]))]
    body: Any = rows if rng.random() < 0.5 else {"instances": rows}
    return json.dumps(body).encode()


def mutate(rng: random.Random, body: bytes) -> bytes:
    """1-8 edits: a byte replaced, inserted or deleted, a token spliced in, a slice duplicated or cut."""
    data = bytearray(body)
    for _ in range(rng.randint(1, 8)):
        where = rng.randint(0, len(data))
        kind = rng.random()
        if kind < 0.35:
            data[where:where] = rng.choice(TOKENS)
        elif kind < 0.5 and data:
            data[min(where, len(data) - 1)] = rng.randrange(256)
        elif kind < 0.65:
            data[where:where] = bytes([rng.randrange(256)])
        elif kind < 0.8 and data:
            del data[where : where + rng.randint(1, 16)]
        elif kind < 0.9 and data:
            start = rng.randint(0, len(data) - 1)
            data[where:where] = data[start : start + rng.randint(1, 64)]
        else:
            data = data[: rng.randint(0, len(data))]
    return bytes(data)


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, numbers most often (rows mixed with everything else)."""
    kind = rng.random()
    if kind < 0.55 or depth > 3:
        return rng.choice([rng.uniform(-10, 10), rng.randint(-5, 5), 0, -0.0, 1e308, 5e-324])
    if kind < 0.63:
        return rng.choice([True, False, None])
    if kind < 0.73:
        return rng.choice(["1", "a", "", "nan", "\u00e9", "\x00", "1,2"])
    if kind < 0.88:
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["instances", "a", ""]): _json_value(rng, depth + 1) for _ in range(rng.randint(0, 2))}


SHORT_BODIES = [
    b"", b" ", b"\n\n", b"\r\n", b"\xef\xbb\xbf", b"[]", b"{}", b"[[]]", b'""', b"null", b"0", b"[[],[]]", b"\n,\n",
    b",", b'"', b"[1,]", b"[,1]",
]  # fmt: skip
CSV_EDGES = [
    b"1e400,1,1,1", b"-1e400,1,1,1", b"nan,1,1,1", b"inf,1,1,1", b"-0,1,1,1", b"1E5,1,1,1", b"1e-400,1,1,1",
    b"+1,-1,.5,5.", b"1_000,1,1,1", "\uff11,1,1,1".encode(),
]  # fmt: skip
JSON_EDGES = [
    b"[[1e400,1,1,1]]", b"[[NaN,1,1,1]]", b"[[Infinity,1,1,1]]", b"[[-Infinity,1,1,1]]", b"[[true,1,1,1]]",
    b"[[null,1,1,1]]", b'[["1",1,1,1]]', b"[[[1],1,1,1]]", b"[[{},1,1,1]]", b"[[1,1,1,1],[1,1,1]]", b"[[1,1,1,1],1]",
    b'{"instances":[[1,1,1,1]],"x":1}',
]  # fmt: skip
EITHER = ["text/csv", "application/json"]
LIMIT = 6 * 1024 * 1024 - 64  # just under the real-time body limit


def _big_bodies() -> list[tuple[bytes, str]]:
    """Bodies just under 6 MB that cost the decoders most (Python objects per byte, the slow path's walk)."""
    rows = b"5.1,3.5,1.4,0.2\n" * (LIMIT // 16 - 1)
    return [
        (b"[" + b",".join([b"[0]"] * (LIMIT // 4 - 1)) + b"]", "application/json"),
        (b"[" + b",".join([b"[]"] * (LIMIT // 3 - 1)) + b"]", "application/json"),
        (b"[" + b",".join([b"{}"] * (LIMIT // 3 - 1)) + b"]", "application/json"),
        (b"[" + b",".join([b"0"] * (LIMIT // 2 - 1)) + b"]", "application/json"),
        (rows + b"5.1,3.5,1.4,x\n", "text/csv"),
        (rows + b"5.1,3.5,1.4\n", "text/csv"),
        (b",".join([b"0"] * (LIMIT // 2 - 1)) + b",x", "text/csv"),
        (rows.replace(b"5.1", b'"5.1"')[: LIMIT - 16] + b'\n"x",1,1,1\n', "text/csv"),
    ]


BIG_BODIES: list[tuple[bytes, str]] = []


def structural(rng: random.Random) -> tuple[bytes, str]:
    """One body from a class generator; returns (body, the content type it is meant for)."""
    width = rng.choice([1, 4, 5, 100, 10_000, 200_000])
    depth = rng.choice([10, 100, 999, 1000, 1001, 5000, 100_000])
    digits = rng.choice([20, 309, 310, 400, 4300, 4301, 10_000, 1_000_000])
    json_rows = [[_json_value(rng) for _ in range(4)] for _ in range(rng.randint(1, 5))]
    noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
    text = "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randint(1, 200))).encode()
    choices: list[Callable[[], tuple[bytes, str]]] = [
        lambda: (b"[" * depth + b"1" + b"]" * depth, "application/json"),
        lambda: (b"[" * depth, "application/json"),
        lambda: (b'{"instances":' * depth + b"[[1]]" + b"}" * depth, "application/json"),
        lambda: (b"[[" + b"9" * digits + b", 1, 2, 3]]", "application/json"),
        lambda: (b"[[-" + b"1" * digits + b".5e3, 1, 2, 3]]", "application/json"),
        lambda: (b"5.1,3.5," + b"9" * digits + b",0.2\n", "text/csv"),
        lambda: (b'"' + b"1" * digits + b'",3.5,1.4,0.2\n', "text/csv"),
        lambda: (b'"' + b"x" * digits + b'",3.5,1.4,0.2\n', "text/csv"),
        lambda: (b"5.1," + b"2" * digits + rng.choice([b"x", b".", b"e", b"..", b"e+"]) + b",1.4,0.2\n", "text/csv"),
        lambda: (json.dumps(json_rows).encode(), "application/json"),
        lambda: (json.dumps({"instances": _json_value(rng)}).encode(), "application/json"),
        lambda: (b'{"instances": [[1,2,3,4]], "instances": [[5,6,7,8]]}', "application/json"),
        lambda: (b"[" + b",".join([b"1"] * width) + b"]", "application/json"),
        lambda: (b",".join([b"1.5"] * width) + b"\n", "text/csv"),
        lambda: (b"1,2,3,4\n" * rng.randint(1, 10) + b"1,2,3\n", "text/csv"),
        lambda: (b"\xef\xbb\xbf" + valid_csv(rng), "text/csv"),
        lambda: (valid_csv(rng).replace(b"\n", b"\r\n"), "text/csv"),
        lambda: (valid_csv(rng).replace(b",", b"\x00,", 1), "text/csv"),
        lambda: (noise, rng.choice(EITHER)),
        lambda: (text, rng.choice(EITHER)),
        lambda: (rng.choice(SHORT_BODIES), rng.choice(EITHER)),
        lambda: (rng.choice(CSV_EDGES), "text/csv"),
        lambda: (rng.choice(JSON_EDGES), "application/json"),
    ]
    return rng.choice(choices)()


@dataclass(frozen=True)
class Request:
    body: bytes
    headers: dict[str, str]
    kind: str


def hostile_requests(seed: int) -> Iterator[Request]:
    """An endless, reproducible stream of requests: 10 % valid (0.3 % bodies of 6 MB that cost the decoders
    most), 45 % mutated, 45 % from a class generator."""
    rng = random.Random(seed)
    while True:
        roll = rng.random()
        if roll < 0.003:
            if not BIG_BODIES:
                BIG_BODIES.extend(_big_bodies())
            kind, (body, content_type) = "6 MB", rng.choice(BIG_BODIES)
        elif roll < 0.1:
            kind, (body, content_type) = (
                "valid",
                rng.choice([(valid_csv(rng), "text/csv"), (valid_json(rng), "application/json")]),
            )
        elif roll < 0.55:
            csv_body = rng.random() < 0.5
            kind = "mutated"
            body = mutate(rng, valid_csv(rng) if csv_body else valid_json(rng))
            content_type = "text/csv" if csv_body else "application/json"
        else:
            kind = "class"
            body, content_type = structural(rng)
        headers = {"Content-Type": rng.choice(CONTENT_TYPES) if rng.random() < 0.1 else content_type}
        accept = rng.choice(ACCEPTS) if rng.random() < 0.2 else None
        if accept is not None:
            headers["Accept"] = accept
        if rng.random() < 0.05:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = rng.choice(["a=1", "", "x" * 1024, "\u00e9"])
        # http.client sends header values as latin-1: keep what it can send (a value it cannot is not a request).
        headers = {k: v for k, v in headers.items() if v.isascii() or all(ord(c) < 256 for c in v)}
        yield Request(body, headers, kind)


# --- checking answers ---------------------------------------------------------------------------


@dataclass
class Tally:
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    by_kind: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    server_errors: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)  # non-200 answers that are not clean JSON errors
    transport: collections.Counter[str] = field(default_factory=collections.Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Request, status: int, body: bytes) -> None:
        problem = None if status == 200 else error_problem(status, body)
        with self.lock:
            self.statuses[status] += 1
            self.by_kind[(request.kind, status)] += 1
            if status >= 500 and len(self.server_errors) < 20:
                self.server_errors.append(f"{status} {body[:300]!r} <- {request.headers} {request.body[:200]!r}")
            if problem and len(self.broken) < 20:
                self.broken.append(f"{problem}: {status} {body[:300]!r} <- {request.body[:120]!r}")
            if problem:
                self.statuses[-1] += 1  # counted apart: "broken error answers"

    @property
    def five_hundreds(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


def error_problem(status: int, body: bytes) -> str | None:
    """Why an error answer breaks the contract (None: JSON with the status and a message, nothing leaked)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return "not JSON"
    if not isinstance(answer, dict) or answer.get("status") != status or not answer.get("error"):
        return "not {error, status}"
    if LEAK.search(str(answer["error"])):
        return "leaks internals"
    return None


# --- in-process: the Flask app with a stand-in predictor, no Docker -----------------------------

STAND_IN_PREDICTOR = """
import numpy as np

def load_model(model_dir):
    return 4

def predict(model, rows, context):
    if rows.shape[1] != model:
        raise ValueError(f"expected {model} features per row, got {rows.shape[1]}")
    return np.where(rows.sum(axis=1) > 10, "big", "small")
"""


def run_in_process(requests: int, seed: int) -> Tally:
    work = Path(tempfile.mkdtemp(prefix="smbyo-fuzz-"))
    try:
        (work / "code").mkdir()
        (work / "code" / "predictor.py").write_text(STAND_IN_PREDICTOR)
        (work / "model").mkdir()
        spec = {
            "name": "fuzz",
            "code": {"train": None, "predict": "predictor.py"},
            "serving": {"content_types": ["text/csv", "application/json"], "accept": ["text/csv", "application/json"]},
        }
        (work / "spec.json").write_text(json.dumps(spec))
        os.environ.update(SMBYO_SPEC=str(work / "spec.json"), SMBYO_CODE_DIR=str(work / "code"))
        from sm_byo.runtime.serving import create_app

        client = create_app(work / "model").test_client()
        tally = Tally()
        for request in itertools.islice(hostile_requests(seed), requests):
            reply = client.post("/invocations", data=request.body, headers=request.headers)
            tally.record(request, reply.status_code, reply.data)
        return tally
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- against the real container -----------------------------------------------------------------


@dataclass
class PingRecord:
    pings: int = 0
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0


def watch_ping(port: int, stop: threading.Event, record: PingRecord) -> None:
    """GET /ping every 100 ms on a fresh connection; a failure is no 200 within SageMaker's 2 s."""
    while not stop.is_set():
        began = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/ping")
            status = connection.getresponse().status
            if status != 200:
                record.failures.append(f"/ping answered {status}")
        except (OSError, http.client.HTTPException) as exc:
            record.failures.append(f"/ping: {type(exc).__name__}")
        finally:
            connection.close()
        elapsed = time.perf_counter() - began
        record.pings += 1
        record.slowest = max(record.slowest, elapsed)
        stop.wait(0.1)


@dataclass
class MemoryRecord:
    samples: int = 0
    peak_rss: int = 0  # sampled: cgroup v1 total_rss, or v2 anon
    peak_usage: int = 0  # cgroup v1 max_usage_in_bytes (includes page cache); v2: sampled usage


def watch_memory(container: Any, stop: threading.Event, record: MemoryRecord) -> None:
    while not stop.is_set():
        try:
            memory = container.stats(stream=False, one_shot=True).get("memory_stats", {})
        except Exception:  # the container went away: nothing more to sample
            return
        stats = memory.get("stats", {})
        rss = int(stats.get("total_rss", stats.get("rss", stats.get("anon", 0))))
        record.peak_rss = max(record.peak_rss, rss)
        record.peak_usage = max(record.peak_usage, int(memory.get("max_usage", memory.get("usage", 0))))
        record.samples += 1
        stop.wait(0.25)


def send_all(port: int, requests: Iterator[Request], lock: threading.Lock, tally: Tally) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while True:
        with lock:
            request = next(requests, None)
        if request is None:
            break
        for attempt in range(2):
            try:
                connection.request("POST", "/invocations", body=request.body, headers=request.headers)
                response = connection.getresponse()
                tally.record(request, response.status, response.read())
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                break
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                if attempt:
                    with tally.lock:
                        tally.transport[type(exc).__name__] += 1
    connection.close()


def run_container(args: argparse.Namespace) -> tuple[Tally, PingRecord, MemoryRecord, float]:
    from sm_byo.build import build_image
    from sm_byo.docker import connect
    from sm_byo.local.archive import model_directory
    from sm_byo.local.containers import LogPump, container_name
    from sm_byo.local.health import STARTUP_HEALTH_CHECK_DEFAULT_SECONDS
    from sm_byo.local.serving import ServingStart, serving_containers, wait_until_healthy
    from sm_byo.local.training import local_training_plan, run_training_job
    from sm_byo.local.transform import is_routine_access_line
    from sm_byo.manifest import load_manifest
    from sm_byo.options import TrainCommand
    from sm_byo.reporting import RecordingReporter

    adapter = connect()
    work = Path(tempfile.mkdtemp(prefix="smbyo-fuzz-"))
    try:
        if not args.skip_build:
            print(f"building {args.image} ...", file=sys.stderr)
            build_image(
                load_manifest(EXAMPLE / "smbyo.yaml"), RecordingReporter(), tag=args.image, base_image=BASE_IMAGE,
                network="host", ca_bundle=CA_BUNDLE if CA_BUNDLE.is_file() else None, docker=adapter,
            )  # fmt: skip
        options = TrainCommand(
            local=True, image=args.image, data={"training": str(EXAMPLE / "data" / "training")}, out=work / "train"
        )
        plan = local_training_plan(load_manifest(EXAMPLE / "smbyo.yaml"), options)
        trained = run_training_job(plan.request("CreateTrainingJob").kwargs, RecordingReporter(), docker=adapter)
        model_dir = model_directory(Path(str(trained.model_artifacts)), work)
        # The model server's own port (no relay): what is measured is the server, not the way in.
        start = ServingStart(args.image, model_dir, container_name("bench-fuzz"), {"dev.smbyo.kind": "benchmark"})
        with serving_containers(adapter, [start], isolated=False) as containers:
            handle = containers[0].handle
            pump = LogPump(handle, RecordingReporter(), "serve", quiet=is_routine_access_line).start()
            url = wait_until_healthy(containers[0], pump, STARTUP_HEALTH_CHECK_DEFAULT_SECONDS)
            port = int(url.rsplit(":", 1)[1])
            tally, ping, memory = Tally(), PingRecord(), MemoryRecord()
            stop = threading.Event()
            watchers = [
                threading.Thread(target=watch_ping, args=(port, stop, ping), daemon=True),
                threading.Thread(target=watch_memory, args=(handle.container, stop, memory), daemon=True),
            ]
            for watcher in watchers:
                watcher.start()
            requests = itertools.islice(hostile_requests(args.seed), args.requests)
            lock = threading.Lock()
            senders = [
                threading.Thread(target=send_all, args=(port, requests, lock, tally), daemon=True)
                for _ in range(args.concurrency)
            ]
            began = time.perf_counter()
            for sender in senders:
                sender.start()
            while any(sender.is_alive() for sender in senders):
                time.sleep(5)
                done = sum(tally.statuses.values()) - tally.statuses[-1]
                print(f"  {done:,} requests, {tally.five_hundreds} 5xx, {len(ping.failures)} failed pings",
                      file=sys.stderr)  # fmt: skip
            seconds = time.perf_counter() - began
            stop.set()
            for watcher in watchers:
                watcher.join(timeout=10)
            if not handle.running():
                ping.failures.append("the container exited")
            if tally.five_hundreds:
                tail = [line for line in handle.logs().splitlines() if "error id" in line or "Error" in line]
                print("container log (errors):\n" + "\n".join(tail[-40:]), file=sys.stderr)
            return tally, ping, memory, seconds
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.skip_build and not args.keep_image:
            adapter.remove_image(args.image)


def report(tally: Tally, seconds: float) -> None:
    total = sum(tally.statuses.values()) - tally.statuses[-1]
    print(f"requests: {total:,} in {seconds:.0f} s ({total / seconds:,.0f}/s)")
    print("status counts: " + ", ".join(f"{s}: {n:,}" for s, n in sorted(tally.statuses.items()) if s >= 0))
    kinds = sorted({kind for kind, _ in tally.by_kind})
    for kind in kinds:
        counts = {s: n for (k, s), n in tally.by_kind.items() if k == kind}
        print(f"  {kind}: " + ", ".join(f"{s}: {n:,}" for s, n in sorted(counts.items())))
    print(f"5xx: {tally.five_hundreds}")
    print(f"error answers breaking the contract (not JSON, no status/error, leaked internals): {tally.statuses[-1]}")
    if tally.transport:
        print(f"transport errors (no HTTP answer): {dict(tally.transport)}")
    for line in tally.server_errors + tally.broken:
        print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="requests to send (default 100,000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--concurrency", type=int, default=2 * (os.cpu_count() or 1), help="clients (2 x CPUs)")
    parser.add_argument("--in-process", action="store_true", help="Flask's test client and a stand-in model")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"image tag (default {DEFAULT_IMAGE})")
    parser.add_argument("--skip-build", action="store_true", help="use --image as it is (and keep it)")
    parser.add_argument("--keep-image", action="store_true", help="keep the image this run built")
    args = parser.parse_args()
    if args.in_process:
        began = time.perf_counter()
        tally = run_in_process(args.requests, args.seed)
        report(tally, time.perf_counter() - began)
        sys.exit(1 if tally.five_hundreds or tally.statuses[-1] else 0)
    tally, ping, memory, seconds = run_container(args)
    report(tally, seconds)
    print(f"/ping: {ping.pings:,} pings, {len(ping.failures)} failed, slowest {ping.slowest * 1000:.0f} ms")
    for failure in ping.failures[:10]:
        print("  " + failure)
    print(
        f"container memory ({memory.samples} samples): peak RSS {memory.peak_rss / 2**20:,.0f} MiB (sampled), "
        f"peak usage {memory.peak_usage / 2**20:,.0f} MiB (cgroup, page cache included)"
    )
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()}")
    sys.exit(1 if tally.five_hundreds or tally.statuses[-1] or ping.failures else 0)


if __name__ == "__main__":
    main()
