"""/ping latency while /invocations runs at saturation, and local batch transform at the largest payload.

1. **/ping under load.** Starts the example image's ``serve`` on a model trained by its own ``train``
   (``smbyo train --local``'s code), then for each body (1 row, 1,000 rows, just under 6 MB) keeps
   2 x CPUs clients POSTing it to /invocations back to back for ``--seconds`` while /ping is timed on a
   fresh connection every 50 ms: ``sm_byo.local.ping_load``, the very measurement ``validate --local``
   makes. Then the same in a container started as a transform job with MaxPayloadInMB 100 starts it, with
   transform-sized bodies: 50 MB with 2 clients and 100 MB with 1 (the most SageMaker sends at once:
   MaxConcurrentTransforms x MaxPayloadInMB <= 100). Prints /ping p50, p99 and max and the /invocations
   answered per second. SageMaker fails a /ping slower than 2 s.
2. **Transform at the largest payload.** ``transform_local`` of a >= 100 MB CSV (the example's Iris rows
   repeated, as ``serving.py --transform``) with MaxPayloadInMB 6 (the container's default concurrency:
   what ``serving.py --transform`` measured), MaxPayloadInMB 100 with MaxConcurrentTransforms 1 (the
   largest payload the container accepts, in the only concurrency SageMaker allows with it:
   MaxConcurrentTransforms x MaxPayloadInMB <= 100) and MaxPayloadInMB 100 at the default concurrency
   (possible locally only). Each in rows/s (container start included) and as a fraction of the
   in-process limit: ``predict()`` on parsed 6 MB batches, one process per core, in the image's Python
   (``serving.py``'s definition, behind the 0.113 in docs/performance.md).

    python3 benchmarks/ping_under_load.py [--image TAG] [--skip-build] [--seconds 10] [--megabytes 100]

Needs Docker; builds ``--image`` (default smbyo-bench/ping-under-load:latest) from the example on the
local base image unless ``--skip-build``, and removes it at the end when it built it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving import BASE_IMAGE, CA_BUNDLE, EXAMPLE, in_process_limit

from sm_byo.build import build_image
from sm_byo.docker import connect
from sm_byo.local.archive import model_directory
from sm_byo.local.containers import LogPump, container_name
from sm_byo.local.health import PING_TIMEOUT_SECONDS, STARTUP_HEALTH_CHECK_DEFAULT_SECONDS
from sm_byo.local.ping_load import default_concurrency, measure_ping_under_load
from sm_byo.local.serving import ServingStart, serving_containers, wait_until_healthy
from sm_byo.local.training import local_training_plan, run_training_job
from sm_byo.local.transform import is_routine_access_line, transform_local
from sm_byo.manifest import load_manifest
from sm_byo.options import TrainCommand
from sm_byo.reporting import RecordingReporter
from sm_byo.runtime.payload import MB, REALTIME_MAX_PAYLOAD_BYTES

DEFAULT_IMAGE = "smbyo-bench/ping-under-load:latest"


def iris_rows() -> list[str]:
    return (EXAMPLE / "data" / "transform" / "iris.csv").read_text().split()


def rows_body(size: int) -> bytes:
    """The example's Iris rows repeated into the largest body of whole rows within ``size`` bytes."""
    chunks: list[bytes] = []
    total = 0
    for row in itertools.cycle(iris_rows()):
        line = (row + "\n").encode()
        if total + len(line) > size:
            return b"".join(chunks)
        chunks.append(line)
        total += len(line)
    raise AssertionError("unreachable")


def realtime_bodies() -> dict[str, bytes]:
    rows = iris_rows()
    thousand = ("\n".join(itertools.islice(itertools.cycle(rows), 1000)) + "\n").encode()
    return {"1 row": (rows[0] + "\n").encode(), "1,000 rows": thousand, "6 MB": rows_body(REALTIME_MAX_PAYLOAD_BYTES)}


def _measure(url: str, name: str, body: bytes, seconds: float, concurrency: int) -> str:
    result = measure_ping_under_load(url, body, content_type="text/csv", seconds=seconds, concurrency=concurrency)
    print(f"  {name}: {result.summary()}", file=sys.stderr)
    verdict = (
        "yes"
        if result.passed(PING_TIMEOUT_SECONDS)
        else f"**no**: {result.slow()} over 2 s, {len(result.ping_failures)} failed (no answer in 10 s, or not 200)"
    )
    return (
        f"| {name} | {concurrency} | {len(result.ping_seconds)} | {result.p50 * 1000:.1f} | {result.p99 * 1000:.1f} | "
        f"{result.max * 1000:.1f} | {result.invocations_per_second:,.1f} | {sum(result.invocation_errors.values())} "
        f"| {verdict} |"
    )


def ping_under_load(image: str, model_dir: Path, seconds: float, concurrency: int) -> list[str]:
    """Real-time bodies at ``concurrency`` clients in a container without SAGEMAKER_MAX_PAYLOAD_IN_MB; then
    transform-sized bodies in a container started as a MaxPayloadInMB 100 job starts it, with as many
    clients as SageMaker allows for that payload (MaxConcurrentTransforms x MaxPayloadInMB <= 100)."""
    lines = []
    adapter = connect()
    batch = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100"}
    for environment in ({}, batch):
        start = ServingStart(
            image, model_dir, container_name("bench-ping"), {"dev.smbyo.kind": "benchmark"}, environment
        )
        # The model server's own port (no relay): what is measured is the server, not the way in.
        with serving_containers(adapter, [start], isolated=False) as containers:
            pump = LogPump(containers[0].handle, RecordingReporter(), "serve", quiet=is_routine_access_line).start()
            url = wait_until_healthy(containers[0], pump, STARTUP_HEALTH_CHECK_DEFAULT_SECONDS)
            measure_ping_under_load(url, b"5.1,3.5,1.4,0.2\n", content_type="text/csv", seconds=2.0)  # warm-up
            if not environment:
                for name, body in realtime_bodies().items():
                    lines.append(_measure(url, f"{name} ({len(body):,} B)", body, seconds, concurrency))
                continue
            long_enough = max(seconds, 20.0)  # several of these requests per client
            for megabytes, clients in ((50, 2), (100, 1)):
                body = rows_body(megabytes * MB)
                name = f"{megabytes} MB ({len(body):,} B), MaxPayloadInMB 100 container"
                lines.append(_measure(url, name, body, long_enough, clients))
    return lines


def write_big_csv(path: Path, megabytes: int) -> int:
    """The example's Iris rows repeated to at least ``megabytes`` MB (serving.py --transform's input)."""
    block = ("\n".join(iris_rows()) + "\n").encode()
    with path.open("wb") as handle:
        for _ in range(megabytes * MB // len(block) + 1):
            handle.write(block)
    return sum(1 for _ in path.open("rb"))


def transform_runs(image: str, model: Path, model_dir: Path, work: Path, megabytes: int, seconds: float) -> list[str]:
    source = work / "transform" / "big.csv"
    source.parent.mkdir()
    rows = write_big_csv(source, megabytes)
    batch = work / "batch.csv"
    with source.open("rb") as handle:
        batch.write_bytes(handle.read(REALTIME_MAX_PAYLOAD_BYTES).rsplit(b"\n", 1)[0] + b"\n")
    limit = in_process_limit(model_dir, batch, seconds, image=image) * batch.read_bytes().count(b"\n")
    print(f"  in-process limit: {limit:,.0f} rows/s on parsed 6 MB batches", file=sys.stderr)
    loaded = load_manifest(EXAMPLE / "smbyo.yaml")
    lines = []
    for payload_mb, concurrency in ((6, None), (100, 1), (100, None)):
        output = work / f"out-{payload_mb}-{concurrency}"
        began = time.perf_counter()
        result = transform_local(
            loaded, RecordingReporter(), image=image, model=model, input=source.parent, output=output,
            max_payload_mb=payload_mb, concurrency=concurrency,
        )  # fmt: skip
        wall = time.perf_counter() - began
        assert result.records == rows, (result.records, rows)
        assert result.records is not None and result.elapsed_seconds is not None
        served = result.records / result.elapsed_seconds
        lines.append(
            f"| {payload_mb} | {result.settings['concurrency']} | {result.requests} | {result.elapsed_seconds:.1f} | "
            f"{served:,.0f} | {served / limit:.3f} |"
        )
        print(f"  MaxPayloadInMB {payload_mb}: {result.to_dict()} (wall {wall:.1f} s)", file=sys.stderr)
        shutil.rmtree(output, ignore_errors=True)
    size = source.stat().st_size / 1e6
    header = (
        f"Transform of {size:.0f} MB ({rows:,} rows); in-process limit {limit:,.0f} rows/s (predict() on parsed "
        "6 MB batches, one process per core)\n\n"
        "| MaxPayloadInMB | in flight | requests | seconds (container start included) | rows/s | "
        "fraction of the limit |\n|---|---|---|---|---|---|"
    )
    return [header, *lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"image tag (default {DEFAULT_IMAGE})")
    parser.add_argument("--skip-build", action="store_true", help="use --image as it is (and keep it)")
    parser.add_argument("--keep-image", action="store_true", help="keep the image this run built")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of load per body (default 10)")
    parser.add_argument("--concurrency", type=int, default=default_concurrency(), help="clients (default 2 x CPUs)")
    parser.add_argument("--megabytes", type=int, default=100, help="size of the transform input (default 100)")
    parser.add_argument("--no-transform", action="store_true", help="only /ping under load")
    args = parser.parse_args()
    adapter = connect()
    work = Path(tempfile.mkdtemp(prefix="smbyo-bench-ping-"))
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
        model_path = Path(str(trained.model_artifacts))
        model_dir = model_directory(model_path, work)
        print(f"/ping under load ({args.concurrency} clients, {args.seconds:g} s per body) ...", file=sys.stderr)
        print(
            f"/ping while clients keep /invocations busy ({args.seconds:g} s per real-time body, at least 20 s per "
            "transform-sized one; a /ping every 50 ms on a new connection)\n\n"
            "| body | clients | pings | p50 ms | p99 ms | max ms | /invocations per s | errors | every /ping <= 2 s |\n"
            "|---|---|---|---|---|---|---|---|---|"
        )
        for line in ping_under_load(args.image, model_dir, args.seconds, args.concurrency):
            print(line)
        if not args.no_transform:
            print("\ntransform ...", file=sys.stderr)
            print()
            for line in transform_runs(args.image, model_path, model_dir, work, args.megabytes, args.seconds):
                print(line)
        print(f"\nmachine: {os.cpu_count()} cores; load average {os.getloadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.skip_build and not args.keep_image:
            adapter.remove_image(args.image)


if __name__ == "__main__":
    main()
