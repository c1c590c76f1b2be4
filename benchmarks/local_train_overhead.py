"""Issue 3 figure: the wall-time overhead `smbyo train --local` adds to running the container by hand.

Both sides train the example on the same data with the same image, interleaved run by run so machine
noise hits both alike:
  by hand:  docker run --rm -v DIR:/opt/ml IMAGE train       (DIR prepared once: config JSONs + data)
  smbyo:    smbyo train --local --image IMAGE --data training=... --out OUT
smbyo's side includes what the by-hand run skips: Python start-up, hyperparameter validation, the
/opt/ml tree, log streaming, metric parsing and packing model.tar.gz. Target: overhead <= 1 s.

    python3 benchmarks/local_train_overhead.py [--runs 7] [--image smbyo-test/decision-trees:latest]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "algorithms" / "decision_trees"
DATA = EXAMPLE / "data" / "training"


def prepare_by_hand(root: Path) -> Path:
    """The /opt/ml tree a user would write for `docker run -v DIR:/opt/ml IMAGE train`."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"max_leaf_nodes": "100"}))
    (config / "inputdataconfig.json").write_text(
        json.dumps({"training": {"ContentType": "text/csv", "TrainingInputMode": "File"}})
    )
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    shutil.copytree(DATA.resolve(), root / "input" / "data" / "training")
    return root


def wall(command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--image", default="smbyo-test/decision-trees:latest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smbyo-local-bench-") as scratch:
        tree = prepare_by_hand(Path(scratch) / "ml")
        commands = {
            "docker run by hand": (["docker", "run", "--rm", "-v", f"{tree}:/opt/ml", args.image, "train"], None),
            "smbyo train --local": (
                [sys.executable, "-m", "sm_byo", "train", "--local", "--image", args.image,
                 "--data", f"training={DATA}", "--out", str(Path(scratch) / "out")],
                EXAMPLE,
            ),
        }  # fmt: skip
        for command, cwd in commands.values():  # warm-up: page cache, image layers
            wall(command, cwd)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (command, cwd) in commands.items():
                samples[name].append(wall(command, cwd))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        spread = f"min {min(samples[name]):.2f} s, max {max(samples[name]):.2f} s"
        print(f"{name:22s} median {value:.2f} s ({spread}, {args.runs} runs)")
    overhead = medians["smbyo train --local"] - medians["docker run by hand"]
    verdict = "meets" if overhead <= 1.0 else "MISSES"
    print(f"overhead: {overhead:+.2f} s ({verdict} the <= 1 s target)")


if __name__ == "__main__":
    main()
