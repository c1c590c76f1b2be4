"""Issue 5 figures: how long pre-flight and `publish --dry-run` take, next to `smbyo --help`.

Pre-flight runs on every publish and in CI (`publish algorithm --dry-run`); it must stay cheap next to
the CLI's own start-up. Measured side by side, interleaved, medians:

    python benchmarks/publish_checks.py [--runs 11]

Prints: in-process build + check of the example's CreateAlgorithm request (first call, which loads
the SageMaker service model, and warm calls), and the wall time of `smbyo publish algorithm --dry-run`
against `smbyo --help`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "algorithms" / "decision_trees"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/decision-trees-sample:latest"


def check_once() -> float:
    from sm_byo.manifest import load_manifest
    from sm_byo.preflight import request_violations
    from sm_byo.specs.algorithm import create_algorithm_request
    from sm_byo.specs.validation import validation_locations

    started = time.perf_counter()
    manifest = load_manifest(EXAMPLE / "smbyo.yaml").manifest
    assert manifest.validation is not None
    where = validation_locations(manifest.validation, "bench")
    request = create_algorithm_request(manifest, image=IMAGE, name="bench", locations=where)
    assert request_violations(request) == []
    return time.perf_counter() - started


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=EXAMPLE, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    runs = parser.parse_args().runs
    first = check_once()
    warm = statistics.median(check_once() for _ in range(runs))
    print(f"pre-flight of the example CreateAlgorithm, first call (loads the service model): {first * 1000:.0f} ms")
    print(f"pre-flight of the example CreateAlgorithm, warm (median of {runs}): {warm * 1000:.1f} ms")
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    commands = {
        "smbyo --help": [sys.executable, "-m", "sm_byo", "--help"],
        "smbyo publish algorithm --dry-run": [
            sys.executable,
            "-m",
            "sm_byo",
            "--json",
            "publish",
            "algorithm",
            "--dry-run",
            "--image",
            IMAGE,
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(wall(command, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name}: {value * 1000:.0f} ms (median of {runs})")
    extra = medians["smbyo publish algorithm --dry-run"] - medians["smbyo --help"]
    print(f"dry-run costs {extra * 1000:.0f} ms over --help")


if __name__ == "__main__":
    main()
