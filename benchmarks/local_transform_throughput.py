"""Issue 3 figure: rows/s of `smbyo transform --local` on a >= 100 MB CSV (generated, never committed).

Trains the example once (`smbyo train --local`), writes N rows of Iris-like features into a temp
directory, and runs the local batch transform with MultiRecord at the container's defaults
(6 MB payloads, MaxConcurrentTransforms from /execution-parameters) unless flags say otherwise.
Reports wall time of the whole command (container start and stop included) and rows/s.

    python3 benchmarks/local_transform_throughput.py [--rows 6500000] [--concurrency N] [--max-payload-mb 6]
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=6_500_000, help="rows to generate (6.5 M is about 104 MB)")
    parser.add_argument("--image", default="smbyo-test/decision-trees:latest")
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--max-payload-mb", type=int)
    args = parser.parse_args()
    smbyo = [sys.executable, "-m", "sm_byo", "--json"]
    with tempfile.TemporaryDirectory(prefix="smbyo-local-bench-") as scratch:
        root = Path(scratch)
        trained = run([*smbyo, "train", "--local", "--image", args.image, "--data", "training=data/training",
                       "--out", str(root / "model")])  # fmt: skip
        (root / "input").mkdir()
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
