"""The distributed example's figure: wall time of `smbyo train --local` on 1 instance against 2 instances.

The data set is generated large enough that the training, not the start-up, dominates (2 million rows,
8 files, by algorithms/distributed_xgboost/generate_data.py); both runs train the same image on the same
files with the same hyperparameters, interleaved run by run so machine noise hits both alike:

  1 instance:   smbyo train --local --data training=DIR -H nthread=C
  2 instances:  smbyo train --local --data training=DIR -H nthread=C/2
                    --instance-count 2 --distribution training=ShardedByS3Key

C is this machine's CPU count: the local instances share its CPUs, so each of the 2 gets half of them (more
threads than CPUs make every round of XGBoost's all-reduce wait for a descheduled thread). What the ratio
shows is then XGBoost's overhead (the tracker, the all-reduce of histograms each round, each instance's own
start-up), not a speed-up: on SageMaker each instance has CPUs of its own. The benchmark also checks that
both runs saved the same model.json (docs: algorithms/distributed_xgboost/README.md).

    python3 benchmarks/distributed_training.py [--runs 1] [--rows 2000000] [--skip-build] [--image TAG]

Prints one JSON document: the seconds of every run, the medians and their ratio (2 instances / 1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "algorithms" / "distributed_xgboost"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TWO_HOSTS = ["--instance-count", "2", "--distribution", "training=ShardedByS3Key"]


def smbyo(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, from the example's directory; exit with its error when it fails."""
    result = subprocess.run([sys.executable, "-m", "sm_byo", *args], cwd=EXAMPLE, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"smbyo {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def build(image: str, base_image: str | None) -> None:
    base = ["--base-image", base_image] if base_image else []
    ca = ["--ca-bundle", str(CA_BUNDLE)] if CA_BUNDLE.is_file() else []
    smbyo("build", "--tag", image, "--network", "host", *base, *ca)


def generate(rows: int, files: int, out: Path) -> None:
    """The example's own generator, so the benchmark measures the data set the README describes."""
    command = [sys.executable, str(EXAMPLE / "generate_data.py"), "--rows", str(rows), "--files", str(files)]
    subprocess.run([*command, "--out", str(out)], check=True, capture_output=True)


def train(image: str, data: Path, out: Path, hyperparameters: dict[str, int], extra: list[str]) -> float:
    """Seconds one `smbyo train --local` takes, from the command's start to its exit."""
    given = [arg for name, value in hyperparameters.items() for arg in ("-H", f"{name}={value}")]
    started = time.perf_counter()
    smbyo("--json", "train", "--local", "--image", image, "--data", f"training={data}", "--out", str(out),
          *given, *extra)  # fmt: skip
    return time.perf_counter() - started


def model_bytes(out: Path) -> bytes:
    """model.json from the run's model.tar.gz (the master's: the only host that writes the model)."""
    with tarfile.open(out / "model.tar.gz") as archive:
        member = archive.extractfile("model.json")
        if member is None:
            sys.exit(f"{out / 'model.tar.gz'} holds no model.json")
        return member.read()


def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    data = scratch / "training"
    generate(args.rows, args.files, data)
    cpus = os.cpu_count() or 1
    base = {"num_round": args.num_round, "max_depth": args.max_depth}
    runs: dict[str, dict[str, Any]] = {
        "1_instance": {"hyperparameters": {**base, "nthread": cpus}, "extra": [], "seconds": []},
        "2_instances": {"hyperparameters": {**base, "nthread": max(1, cpus // 2)}, "extra": TWO_HOSTS, "seconds": []},
    }
    for _ in range(args.runs):
        for name, run in runs.items():
            run["seconds"].append(train(args.image, data, scratch / name, run["hyperparameters"], run["extra"]))
    one, two = (statistics.median(runs[name]["seconds"]) for name in ("1_instance", "2_instances"))
    return {
        "rows": args.rows,
        "files": args.files,
        "cpus": cpus,
        "image": args.image,
        "runs": {name: {"hyperparameters": run["hyperparameters"], "extra_flags": run["extra"],
                        "seconds": [round(s, 2) for s in run["seconds"]]} for name, run in runs.items()},
        "median_seconds": {"1_instance": round(one, 2), "2_instances": round(two, 2)},
        "ratio_2_over_1": round(two / one, 3),
        "same_model": model_bytes(scratch / "1_instance") == model_bytes(scratch / "2_instances"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="runs of each, interleaved (default 1)")
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the generated data set")
    parser.add_argument("--files", type=int, default=8, help="files to split them into (ShardedByS3Key splits by file)")
    parser.add_argument("--num-round", type=int, default=200, help="boosting rounds (default 200)")
    parser.add_argument("--max-depth", type=int, default=6, help="tree depth (default 6)")
    parser.add_argument("--image", default="smbyo-bench/distributed-xgboost:latest")
    parser.add_argument("--base-image", default=None, help="build on this base (e.g. smbyo-test/debian:bookworm)")
    parser.add_argument("--skip-build", action="store_true", help="use --image as it is")
    args = parser.parse_args()
    if not args.skip_build:
        build(args.image, args.base_image)
    with tempfile.TemporaryDirectory(prefix="smbyo-distributed-bench-") as scratch:
        print(json.dumps(measure(args, Path(scratch)), indent=2))


if __name__ == "__main__":
    main()
