"""Issue 3 figure: rows/s of `smbyo transform --local` on a >= 100 MB CSV (generated, never committed).

Trains the example once (`smbyo train --local`), writes N rows of Iris-like features into a temp
directory, and runs the local batch transform with MultiRecord at the container's defaults
(6 MB payloads, MaxConcurrentTransforms from /execution-parameters) unless flags say otherwise.
Reports wall time of the whole command (container start and stop included) and rows/s.

    python3 benchmarks/local_transform_throughput.py [--rows 6500000] [--concurrency N] [--max-payload-mb 6]

``--instances 1,2`` runs the same input side by side on 1 and on 2 instances (``--instance-count``: one
container each, each with its share of the machine's CPUs) and reports rows/s for each and the ratio. A
file is never split across instances, so the rows are written as ``--files`` files (default 8) of about
the same size; ``--rounds`` repeats the pair (alternating which goes first, so other load hits both alike).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "algorithms" / "decision_trees"


def run(command: list[str]) -> dict[str, object]:
    result = subprocess.run(command, cwd=EXAMPLE, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    data: dict[str, object] = json.loads(result.stdout)
    return data


def write_csv(path: Path, rows: int, seed: int = 0) -> int:
    """Iris-like rows ("5.1,3.5,1.4,0.2", 16 bytes each) built as a byte matrix; returns the size in bytes."""
    generator = np.random.default_rng(seed)
    with path.open("wb") as handle:
        for start in range(0, rows, 1_000_000):
            count = min(1_000_000, rows - start)
            tenths = generator.integers([43, 20, 10, 1], [80, 45, 70, 26], size=(count, 4))
            text = np.empty((count, 16), dtype=np.uint8)
            text[:, 0::4] = ord("0") + tenths // 10
            text[:, 1::4] = ord(".")
            text[:, 2::4] = ord("0") + tenths % 10
            text[:, 3::4] = ord(",")
            text[:, 15] = ord("\n")
            handle.write(text.tobytes())
    return path.stat().st_size


def write_files(directory: Path, rows: int, files: int) -> int:
    """``rows`` rows spread over ``files`` files (part-000.csv, ...); returns the bytes written."""
    size = 0
    for number in range(files):
        share = rows // files + (1 if number < rows % files else 0)
        size += write_csv(directory / f"part-{number:03d}.csv", share, seed=number)
    return size


def compare_instances(args: argparse.Namespace, smbyo: list[str], root: Path, model: str) -> None:
    """The same input on each instance count, rows/s of each (in-job and whole command) and their ratio."""
    counts = [int(count) for count in args.instances.split(",")]
    size = write_files(root / "input", args.rows, args.files)
    print(f"input: {args.rows:,} rows in {args.files} files, {size / 1e6:.1f} MB; machine: {os.cpu_count()} CPUs")
    figures: dict[int, list[tuple[float, float]]] = {count: [] for count in counts}
    for round_number in range(args.rounds):
        order = counts if round_number % 2 == 0 else list(reversed(counts))
        for count in order:
            output = root / f"output-{count}-{round_number}"
            command = [
                *smbyo, "transform", "--local", "--image", args.image, "--model", model, "--input", str(root / "input"),
                "--output", str(output), "--instance-count", str(count),
            ]  # fmt: skip
            if args.max_payload_mb:
                command += ["--max-payload-mb", str(args.max_payload_mb)]
            started = time.perf_counter()
            result = run(command)
            wall = time.perf_counter() - started
            records, elapsed = result["records"], result["elapsed_seconds"]
            assert isinstance(records, int) and isinstance(elapsed, int | float) and records == args.rows
            instances = result["instances"]
            assert isinstance(instances, list)
            served = ", ".join(f"{i['name']} {i['records']:,} rows" for i in instances)
            print(
                f"round {round_number + 1}, {count} instance(s): {records / elapsed:,.0f} rows/s in the job "
                f"({elapsed:.1f} s), {args.rows / wall:,.0f} rows/s whole command ({wall:.1f} s); {served}"
            )
            figures[count].append((records / elapsed, args.rows / wall))
    base = counts[0]
    for count in counts:
        job = statistics.median(figure[0] for figure in figures[count])
        whole = statistics.median(figure[1] for figure in figures[count])
        base_job = statistics.median(figure[0] for figure in figures[base])
        print(
            f"{count} instance(s): median {job:,.0f} rows/s in the job, {whole:,.0f} rows/s whole command; "
            f"{job / base_job:.2f}x the {base}-instance rows/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=6_500_000, help="rows to generate (6.5 M is about 104 MB)")
    parser.add_argument("--image", default="smbyo-test/decision-trees:latest")
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--max-payload-mb", type=int)
    parser.add_argument("--instances", help="compare instance counts side by side, e.g. 1,2")
    parser.add_argument("--files", type=int, default=8, help="with --instances: files to spread the rows over")
    parser.add_argument("--rounds", type=int, default=1, help="with --instances: how many times to run each")
    args = parser.parse_args()
    smbyo = [sys.executable, "-m", "sm_byo", "--json"]
    with tempfile.TemporaryDirectory(prefix="smbyo-local-bench-") as scratch:
        root = Path(scratch)
        trained = run([*smbyo, "train", "--local", "--image", args.image, "--data", "training=data/training",
                       "--out", str(root / "model")])  # fmt: skip
        (root / "input").mkdir()
        if args.instances:
            compare_instances(args, smbyo, root, str(trained["model_artifacts"]))
            return
        size = write_csv(root / "input" / "big.csv", args.rows)
        command = [*smbyo, "transform", "--local", "--image", args.image, "--model", str(trained["model_artifacts"]),
                   "--input", str(root / "input"), "--output", str(root / "output")]  # fmt: skip
        if args.concurrency:
            command += ["--concurrency", str(args.concurrency)]
        if args.max_payload_mb:
            command += ["--max-payload-mb", str(args.max_payload_mb)]
        started = time.perf_counter()
        result = run(command)
        wall = time.perf_counter() - started
        lines = sum(1 for _ in (root / "output" / "big.csv.out").open("rb"))
    print(f"input: {args.rows:,} rows, {size / 1e6:.1f} MB; output lines: {lines:,}")
    settings = result["settings"]
    assert isinstance(settings, dict)
    print(
        f"strategy {settings['strategy']}, {settings['max_payload_mb']} MB payloads, "
        f"concurrency {settings['concurrency']}, {result['requests']} requests"
    )
    print(f"wall (whole command): {wall:.1f} s -> {args.rows / wall:,.0f} rows/s, {size / 1e6 / wall:.1f} MB/s")
    records, elapsed = result["records"], result["elapsed_seconds"]
    assert isinstance(records, int) and isinstance(elapsed, int | float)
    in_job = records / elapsed
    print(f"in-job (job start -> last answer written, no CLI start-up): {in_job:,.0f} rows/s")


if __name__ == "__main__":
    main()
