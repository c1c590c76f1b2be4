"""smbyo's serving stack against the classic sample stack and the in-process limit, side by side.

Builds both images on the same base (``benchmarks/baseline/`` is the classic sample, rebuilt from its
description), trains the example model once with the image's own ``train``, starts both stacks (smbyo's
from the example's inference image, which is what `smbyo serve` runs), and
drives them alternately with wrk (2 threads, 8 connections) so that a machine shared with other work
affects both equally. Besides wrk's throughput and latency it reads each container's CPU time from
its cgroup: CPU per request is far less sensitive to other load on the machine than requests/s.
``--soak`` adds the reliability checks (60 s at 32 connections, a SIGKILLed worker, bad requests
mixed into the load). Prints one table of ratios.

    python3 benchmarks/serving.py [--duration 15] [--rounds 2] [--soak] [--against IMAGE]

``--against IMAGE`` drives a third stack in the same rounds: another build of the example (for instance
from ``main``, to measure a change side by side with the code before it), reported against the baseline.

Needs Docker and wrk (Debian/Ubuntu: ``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "algorithms" / "decision_trees"
BASELINE_DIR = Path(__file__).resolve().parent / "baseline"
BASE_IMAGE = os.environ.get("SMBYO_TEST_BASE_IMAGE", "smbyo-test/debian:bookworm")
SMBYO_IMAGE = "smbyo-perf-smbyo:latest"
BASELINE_IMAGE = "smbyo-perf-baseline:latest"
CA_BUNDLE = Path(os.environ.get("SMBYO_TEST_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
WRK_LUA = """
local f = io.open(os.getenv("SMBYO_BODY"), "rb"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body; wrk.headers["Content-Type"] = "text/csv"
"""
IN_PROCESS = r"""
import json, multiprocessing, os, sys, time
import numpy as np
sys.path.insert(0, "/opt/program/code")
import predictor

def worker(args):
    rows_file, seconds = args
    model = predictor.load_model("/opt/ml/model")
    rows = np.loadtxt(rows_file, delimiter=",", ndmin=2)
    calls, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        predictor.predict(model, rows, {})
        calls += 1
    return calls / seconds

rows_file, seconds = sys.argv[1], float(sys.argv[2])
with multiprocessing.Pool(os.cpu_count()) as pool:
    print(json.dumps(sum(pool.map(worker, [(rows_file, seconds)] * os.cpu_count()))))
"""


def sh(*command: str, check: bool = True, capture: bool = True) -> str:
    result = subprocess.run(command, capture_output=capture, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout if capture else ""


def require_tools() -> None:
    if not shutil.which("wrk"):
        raise SystemExit(
            "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) or build it from github.com/wg/wrk"
        )
    if not shutil.which("docker"):
        raise SystemExit("the docker CLI is needed (and a running Docker Engine)")


# --- images and model ---------------------------------------------------------------------------------


def build_smbyo() -> None:
    from sm_byo.build import build_image
    from sm_byo.manifest import load_manifest
    from sm_byo.reporting import RecordingReporter

    build_image(
        load_manifest(EXAMPLE / "smbyo.yaml"),
        RecordingReporter(),
        tag=SMBYO_IMAGE,
        base_image=BASE_IMAGE,
        network="host",
        ca_bundle=CA_BUNDLE if CA_BUNDLE.is_file() else None,
        docker=None,
    )


def build_baseline(work: Path, tag: str = BASELINE_IMAGE, packages: str | None = None) -> None:
    """The classic sample stack on the local base; ``packages`` replaces its pip packages (PACKAGES)."""
    context = work / ("baseline" if packages is None else f"baseline-{len(list(work.iterdir()))}")
    shutil.copytree(BASELINE_DIR, context)
    shutil.copyfile(EXAMPLE / "predictor.py", context / "predictor.py")
    ca = context / "ca.pem"
    if CA_BUNDLE.is_file():
        shutil.copyfile(CA_BUNDLE, ca)
    else:
        ca.write_text("")
    sh(
        "docker",
        "build",
        "-q",
        "--network",
        "host",
        "--build-arg",
        f"BASE_IMAGE={BASE_IMAGE}",
        *(["--build-arg", f"PACKAGES={packages}"] if packages else []),
        "-t",
        tag,
        str(context),
    )


def serving_image() -> str:
    """The image the example serves from: its inference image (``image.inference``), as `smbyo serve` uses."""
    from sm_byo.manifest import load_manifest
    from sm_byo.specs.names import role_tag

    return role_tag(SMBYO_IMAGE, "inference", load_manifest(EXAMPLE / "smbyo.yaml").manifest)


def train_model(work: Path, image: str = SMBYO_IMAGE) -> Path:
    """A model from the smbyo image's own `train`, used by both stacks."""
    ml = work / "ml"
    config = ml / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"max_leaf_nodes": "10"}))
    (config / "inputdataconfig.json").write_text(json.dumps({"training": {"ContentType": "text/csv"}}))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    shutil.copytree(EXAMPLE / "data" / "training", ml / "input" / "data" / "training")
    (ml / "model").mkdir()
    for path in [ml, *ml.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    sh("docker", "run", "--rm", "--name", "smbyo-perf-bench-train", "-v", f"{ml}:/opt/ml", image, "train")
    return ml / "model"


def write_payloads(work: Path) -> dict[str, Path]:
    rows = (EXAMPLE / "data" / "transform" / "iris.csv").read_text().split()
    payloads = {}
    for count in (1, 1000):
        path = work / f"rows-{count}.csv"
        path.write_text("\n".join(row for row, _ in zip(itertools.cycle(rows), range(count), strict=False)) + "\n")
        payloads[str(count)] = path
    return payloads


def container_floor(image: str, times: int) -> float:
    """Median seconds for `docker run --rm IMAGE true`: the Engine's own share of any start-up time."""
    seconds = []
    for _ in range(times):
        begun = time.perf_counter()
        sh("docker", "run", "--rm", "--name", "smbyo-perf-bench-floor", "--entrypoint", "/bin/true", image)
        seconds.append(time.perf_counter() - begun)
    return statistics.median(seconds)


def image_size(image: str) -> int:
    return int(sh("docker", "image", "inspect", "-f", "{{.Size}}", image).strip())


# --- running stacks -----------------------------------------------------------------------------------


@dataclass
class Stack:
    name: str
    image: str
    container: str = ""
    port: int = 0
    started_seconds: float = 0.0

    def start(self, model: Path, extra: tuple[str, ...] = ()) -> None:
        begun = time.perf_counter()
        self.container = sh(
            "docker", "run", "-d", "--name", f"smbyo-perf-bench-{self.name}", "-p", "127.0.0.1::8080",
            "-v", f"{model}:/opt/ml/model:ro", *extra, self.image, "serve",
        ).strip()  # fmt: skip
        self.port = int(sh("docker", "port", self.container, "8080/tcp").splitlines()[0].rsplit(":", 1)[1])
        self.started_seconds = wait_healthy(self.port, begun)

    def stop(self) -> None:
        if self.container:
            sh("docker", "rm", "-f", self.container, check=False)
            self.container = ""

    def cpu_ns(self) -> int:
        return int(Path(f"/sys/fs/cgroup/cpuacct/docker/{self.container}/cpuacct.usage").read_text())

    def memory_bytes(self) -> int:
        return int(Path(f"/sys/fs/cgroup/memory/docker/{self.container}/memory.usage_in_bytes").read_text())

    def rss_bytes(self) -> int:
        """Summed resident memory of the container's processes (shared copy-on-write pages count per process)."""
        total = 0
        for pid, _, _ in self.processes():
            status = Path(f"/proc/{pid}/status")
            if status.exists():
                match = re.search(r"^VmRSS:\s+(\d+) kB", status.read_text(), re.MULTILINE)
                total += int(match.group(1)) * 1024 if match else 0
        return total

    def processes(self) -> list[tuple[str, str, str]]:
        """(pid, ppid, args) of the container's processes, host pids."""
        lines = sh("docker", "top", self.container, "-eo", "pid,ppid,args").splitlines()[1:]
        return [(fields[0], fields[1], fields[2]) for fields in (line.split(None, 2) for line in lines)]

    def gunicorn_workers(self) -> list[str]:
        """Pids of gunicorn's workers: gunicorn processes whose parent is the gunicorn master."""
        gunicorn = {pid: ppid for pid, ppid, args in self.processes() if "gunicorn" in args}
        return sorted((pid for pid, ppid in gunicorn.items() if ppid in gunicorn), key=int)


def wait_healthy(port: int, begun: float, limit: float = 120.0) -> float:
    """Seconds from `docker run` to the first 200 on /ping."""
    while time.perf_counter() - begun < limit:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return time.perf_counter() - begun
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.01)
    raise SystemExit(f"no healthy /ping on port {port} within {limit}s")


@dataclass
class Load:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    cpu_us_per_request: float = 0.0


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(port: int, body: Path, seconds: float, connections: int = 8, threads: int = 2, lua: Path | None = None) -> Load:
    script = lua or Path(tempfile.gettempdir()) / "smbyo-perf-post.lua"
    if lua is None:
        script.write_text(WRK_LUA)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/invocations"],
        capture_output=True, text=True, env={**os.environ, "SMBYO_BODY": str(body)}, check=True,
    ).stdout  # fmt: skip
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Load(
        requests=requests,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1)),  # type: ignore[union-attr]
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def measured(stack: Stack, body: Path, seconds: float) -> Load:
    before = stack.cpu_ns()
    load = wrk(stack.port, body, seconds)
    load.cpu_us_per_request = (stack.cpu_ns() - before) / 1000 / max(1, load.requests)
    return load


def in_process_limit(model: Path, body: Path, seconds: float, image: str = SMBYO_IMAGE) -> float:
    """predict() calls/s on already-parsed rows, one process per core, in the smbyo image's Python."""
    out = sh(
        "docker", "run", "--rm", "--name", f"smbyo-perf-bench-limit-{os.getpid()}", "-v", f"{model}:/opt/ml/model:ro",
        "-v", f"{body}:/tmp/rows.csv:ro", "--entrypoint", "/opt/venv/bin/python", image,
        "-c", IN_PROCESS, "/tmp/rows.csv", str(seconds),
    )  # fmt: skip
    return float(out.strip().splitlines()[-1])


def transform_vs_limit(model: Path, work: Path, seconds: float, megabytes: int = 100) -> str:
    """`smbyo transform --local` of a >= 100 MB CSV, in rows/s, against predict() on parsed 6 MB batches."""
    from sm_byo.local.transform import transform_local
    from sm_byo.manifest import load_manifest
    from sm_byo.reporting import RecordingReporter

    rows = (EXAMPLE / "data" / "transform" / "iris.csv").read_text().split()
    block = ("\n".join(rows) + "\n").encode()
    source = work / "transform" / "big.csv"
    source.parent.mkdir()
    with source.open("wb") as handle:
        for _ in range(megabytes * 1024 * 1024 // len(block) + 1):
            handle.write(block)
    total_rows = sum(1 for _ in source.open("rb"))
    result = transform_local(
        load_manifest(EXAMPLE / "smbyo.yaml"), RecordingReporter(), image=SMBYO_IMAGE, model=model,
        input=source.parent, output=work / "transform-out",
    )  # fmt: skip
    batch = work / "batch.csv"
    with source.open("rb") as handle:
        batch.write_bytes(handle.read(6 * 1024 * 1024).rsplit(b"\n", 1)[0] + b"\n")
    batch_rows = batch.read_bytes().count(b"\n")
    limit_rows = in_process_limit(model, batch, seconds) * batch_rows
    elapsed = result.elapsed_seconds or 0.0
    served = (result.records or 0) / elapsed
    return (
        f"local batch transform of {source.stat().st_size / 1e6:.0f} MB ({total_rows} rows, "
        f"{result.requests} requests, "
        f"{result.settings['concurrency']} in flight): {elapsed:.1f} s including container start, "
        f"{served:.0f} rows/s; in-process limit on parsed 6 MB batches {limit_rows:.0f} rows/s "
        f"({served / limit_rows:.3f} of the limit)"
    )


# --- the table ----------------------------------------------------------------------------------------


@dataclass
class Results:
    loads: dict[tuple[str, str], list[Load]] = field(default_factory=dict)
    start: dict[str, list[float]] = field(default_factory=dict)
    limit: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    floor: float = 0.0

    def median(self, stack: str, payload: str, attribute: str) -> float:
        return statistics.median(getattr(load, attribute) for load in self.loads[(stack, payload)])


def run_rounds(stacks: list[Stack], payloads: dict[str, Path], rounds: int, seconds: float, results: Results) -> None:
    for round_number in range(rounds):
        for payload, body in payloads.items():
            order = stacks if round_number % 2 == 0 else stacks[::-1]
            for stack in order:
                load = measured(stack, body, seconds)
                results.loads.setdefault((stack.name, payload), []).append(load)
                print(
                    f"  round {round_number + 1} {stack.name:8} {payload:>4}-row: {load.rps:8.1f} req/s "
                    f"p50 {load.p50_ms:6.2f} ms p99 {load.p99_ms:6.2f} ms cpu {load.cpu_us_per_request:7.0f} us/req "
                    f"non-2xx {load.non_2xx} errors {load.errors}",
                    file=sys.stderr,
                )


def table(results: Results) -> str:
    rows: list[tuple[str, str, str, str, str]] = []

    def add(metric: str, ours: float, base: float, better: str, target: str, fmt: str = "{:.1f}") -> None:
        ratio = ours / base if base else float("nan")
        rows.append((metric, fmt.format(ours), fmt.format(base), f"{ratio:.2f}x ({better})", target))

    rps1 = results.median("smbyo", "1", "rps"), results.median("baseline", "1", "rps")
    add("1-row req/s", *rps1, "higher", ">= 2.5x")
    add("1-row p50 ms", results.median("smbyo", "1", "p50_ms"), results.median("baseline", "1", "p50_ms"), "lower", "")
    add(
        "1-row p99 ms",
        results.median("smbyo", "1", "p99_ms"),
        results.median("baseline", "1", "p99_ms"),
        "lower",
        "<= 0.5x",
    )
    add("1-row CPU us/request", results.median("smbyo", "1", "cpu_us_per_request"),
        results.median("baseline", "1", "cpu_us_per_request"), "lower", "", "{:.0f}")  # fmt: skip
    rows1000 = [results.median(s, "1000", "rps") * 1000 for s in ("smbyo", "baseline")]
    add("1000-row rows/s", rows1000[0], rows1000[1], "higher", ">= 2x", "{:.0f}")
    add("1000-row p99 ms", results.median("smbyo", "1000", "p99_ms"), results.median("baseline", "1000", "p99_ms"),
        "lower", "")  # fmt: skip
    add("1000-row CPU us/request", results.median("smbyo", "1000", "cpu_us_per_request"),
        results.median("baseline", "1000", "cpu_us_per_request"), "lower", "", "{:.0f}")  # fmt: skip
    starts = [statistics.median(results.start[s]) for s in ("smbyo", "baseline")]
    add("start -> healthy /ping s", starts[0], starts[1], "lower", "smbyo <= 1 s", "{:.2f}")
    add("  minus `docker run true` floor", starts[0] - results.floor, starts[1] - results.floor, "lower",
        f"floor {results.floor:.2f} s", "{:.2f}")  # fmt: skip
    add("image size MB", results.sizes["smbyo"] / 1e6, results.sizes["baseline"] / 1e6, "lower", "", "{:.0f}")
    if ("against", "1") in results.loads:
        add("--against: 1-row req/s", results.median("against", "1", "rps"), rps1[1], "higher", "")
        add("--against: 1-row CPU us/request", results.median("against", "1", "cpu_us_per_request"),
            results.median("baseline", "1", "cpu_us_per_request"), "lower", "", "{:.0f}")  # fmt: skip
        add("--against: 1000-row rows/s", results.median("against", "1000", "rps") * 1000, rows1000[1], "higher", "",
            "{:.0f}")  # fmt: skip
        add("--against: 1000-row CPU us/request", results.median("against", "1000", "cpu_us_per_request"),
            results.median("baseline", "1000", "cpu_us_per_request"), "lower", "", "{:.0f}")  # fmt: skip
    for payload in ("1", "1000"):
        ours = results.median("smbyo", payload, "rps")
        limit = results.limit[payload]
        rows.append((f"{payload}-row vs in-process limit", f"{ours:.1f}", f"{limit:.1f} calls/s",
                     f"{ours / limit:.3f} of the limit", "report"))  # fmt: skip
    header = ("metric", "smbyo", "baseline", "ratio", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    lines.insert(1, "-|-".join("-" * w for w in widths))
    return "\n".join(lines)


# --- soak ---------------------------------------------------------------------------------------------


def soak(stack: Stack, payloads: dict[str, Path], seconds: float) -> list[str]:
    notes: list[str] = []
    wrk(stack.port, payloads["1"], 5.0, connections=32)  # warm up: first requests allocate for good
    workers = stack.gunicorn_workers()
    memory, rss = stack.memory_bytes(), stack.rss_bytes()
    load = wrk(stack.port, payloads["1"], seconds, connections=32)
    after = stack.gunicorn_workers()
    notes.append(
        f"soak {seconds:.0f}s @32 conns: {load.requests} requests, {load.rps:.0f} req/s, non-2xx {load.non_2xx}, "
        f"socket errors {load.errors}, worker restarts {len(set(workers) ^ set(after)) // 2} "
        f"(pids {workers} -> {after}); RSS of the container's processes {rss / 1e6:.1f} MB -> "
        f"{stack.rss_bytes() / 1e6:.1f} MB, cgroup memory {memory / 1e6:.1f} MB -> {stack.memory_bytes() / 1e6:.1f} MB"
    )
    notes.append(kill_a_worker(stack, payloads["1"], 20.0))
    notes.append(bad_requests_mixed(stack, payloads["1"], 15.0))
    return notes


def kill_a_worker(stack: Stack, body: Path, seconds: float) -> str:
    before = stack.gunicorn_workers()
    victim = before[0]
    outcome: dict[str, Load] = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("load", wrk(stack.port, body, seconds)))
    thread.start()
    time.sleep(seconds / 3)
    sh("kill", "-9", victim)
    thread.join()
    load = outcome["load"]
    after = stack.gunicorn_workers()
    replaced = victim not in after and len(after) == len(before)
    return (
        f"SIGKILL worker {victim} mid-load ({seconds:.0f}s @8 conns): {load.requests} requests, "
        f"{load.non_2xx} non-2xx, {load.errors} socket errors; workers {before} -> {after} "
        f"({'replaced' if replaced else 'NOT replaced'})"
    )


def _python_load(
    port: int, seconds: float, pick: Callable[[int], tuple[bytes, bool]], tally: dict[str, int], threads: int = 8
) -> list[float]:
    """Good-request latencies (ms) from `threads` keep-alive clients; `pick(i)` gives (body, is_good).

    ``tally`` counts outcomes: good 200s, bad 4xx, anything else (a good request not 200, a bad one
    not 4xx), and bad requests whose connection nginx closed while the client was still sending.
    """
    latencies: list[float] = []
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def client(offset: int) -> None:
        counter = offset
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < end:
            body, good = pick(counter)
            counter += threads
            began = time.perf_counter()
            try:
                connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
                response = connection.getresponse()
                response.read()
                if response.will_close or response.status >= 400:
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                outcome = "bad: closed while sending" if not good else "unexpected"
            else:
                expected = response.status == 200 if good else 400 <= response.status < 500
                outcome = ("good 200" if good else "bad 4xx") if expected else "unexpected"
            with lock:
                tally[outcome] = tally.get(outcome, 0) + 1
                if good and outcome == "good 200":
                    latencies.append((time.perf_counter() - began) * 1000)

    pool = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return latencies


def bad_requests_mixed(stack: Stack, body_file: Path, seconds: float) -> str:
    good = body_file.read_bytes()
    bad = [b"5.1,3.5\n6.1,3,4.6,1.4\n", b"5.1,3.5,1.4\n", b"5.1,3.5,1.4,0.2\n" * (7 * 1024 * 1024 // 16)]

    def only_good(_: int) -> tuple[bytes, bool]:
        return good, True

    def one_in_ten_bad(i: int) -> tuple[bytes, bool]:
        return (bad[(i // 10) % 3], False) if i % 10 == 9 else (good, True)

    def one_in_ten_small_bad(i: int) -> tuple[bytes, bool]:
        return (bad[(i // 10) % 2], False) if i % 10 == 9 else (good, True)

    clean_tally: dict[str, int] = {}
    mixed_tally: dict[str, int] = {}
    clean = _python_load(stack.port, seconds, only_good, clean_tally)
    small_tally: dict[str, int] = {}
    mixed = _python_load(stack.port, seconds, one_in_ten_bad, mixed_tally)
    small = _python_load(stack.port, seconds, one_in_ten_small_bad, small_tally)
    clean_p50, mixed_p50, small_p50 = (statistics.median(x) for x in (clean, mixed, small))
    return (
        f"bad requests mixed in (1 in 10: malformed CSV, wrong feature count, 7 MB body): good-request p50 "
        f"{clean_p50:.2f} ms alone vs {mixed_p50:.2f} ms mixed ({(mixed_p50 / clean_p50 - 1) * 100:+.1f}%), "
        f"{small_p50:.2f} ms without the 7 MB body ({(small_p50 / clean_p50 - 1) * 100:+.1f}%); "
        f"outcomes alone {clean_tally}, mixed {mixed_tally}, without 7 MB {small_tally}"
    )


# --- main ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per wrk run (default 15)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per stack and payload (default 2)")
    parser.add_argument("--starts", type=int, default=3, help="container starts timed per stack (default 3)")
    parser.add_argument("--soak", action="store_true", help="also run the 60 s reliability soak on smbyo's stack")
    parser.add_argument("--soak-seconds", type=float, default=60.0, help="length of the soak (default 60)")
    parser.add_argument("--transform", action="store_true", help="also time `smbyo transform --local` of 100 MB")
    parser.add_argument("--skip-build", action="store_true", help="reuse the images from a --keep-images run")
    parser.add_argument("--keep-images", action="store_true", help="keep both images for a later --skip-build")
    parser.add_argument("--against", metavar="IMAGE", help="also measure this build of the example in the same rounds")
    args = parser.parse_args()
    require_tools()
    work = Path(tempfile.mkdtemp(prefix="smbyo-perf-"))
    stacks = [Stack("smbyo", serving_image()), Stack("baseline", BASELINE_IMAGE)]
    against = [Stack("against", args.against)] if args.against else []  # not built or removed here
    results = Results()
    try:
        if not args.skip_build:
            print("building images ...", file=sys.stderr)
            build_smbyo()
            build_baseline(work)
        model = train_model(work)
        payloads = write_payloads(work)
        results.sizes = {s.name: image_size(s.image) for s in stacks}
        for _ in range(args.starts):
            for stack in stacks:
                stack.start(model)
                results.start.setdefault(stack.name, []).append(stack.started_seconds)
                stack.stop()
        results.floor = container_floor(SMBYO_IMAGE, args.starts)
        print(f"start -> healthy: {results.start}; docker run floor {results.floor:.2f}s", file=sys.stderr)
        measured_stacks = [*stacks, *against]
        for stack in measured_stacks:
            stack.start(model)
        run_rounds(measured_stacks, payloads, args.rounds, args.duration, results)
        for stack in measured_stacks[1:]:
            stack.stop()
        results.limit = {p: in_process_limit(model, body, args.duration) for p, body in payloads.items()}
        print(table(results))
        print(f"\nmachine: {os.cpu_count()} cores, shared with other work; load average {os.getloadavg()}")
        if args.transform:
            stacks[0].stop()
            print(transform_vs_limit(model, work, args.duration))
        if args.soak:
            if not stacks[0].container:
                stacks[0].start(model)
            for note in soak(stacks[0], payloads, args.soak_seconds):
                print(note)
    finally:
        for stack in against:
            stack.stop()
        for stack in stacks:
            stack.stop()
            if not args.keep_images:
                sh("docker", "rmi", stack.image, check=False)
        if not args.keep_images:
            sh("docker", "rmi", SMBYO_IMAGE, check=False)  # the training image the model came from
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
