"""Local tuning's two figures, measured side by side in one run with `smbyo tune --local`:

1. **Trials per minute** with `--max-parallel-jobs` 1 and 2: the decision-trees example (a trial is a ~2 s
   training container), the same 6 trials of `max_leaf_nodes` each time, runs alternated.
2. **Bayesian against Random on the same budget**: the distributed XGBoost example on one host (its
   shipped data, 30 boosting rounds), minimising `validation:logloss` over `max_depth`, `eta` (log scale),
   `min_child_weight` and `reg_lambda`, `--max-jobs` trials each, for several seeds. Reports each run's best
   objective and, per seed, which search found the lower logloss.

    python3 benchmarks/tuning_search.py [--seeds 1 2 3] [--budget 16] [--trees-image TAG] [--xgb-image TAG]

Both images must exist (`smbyo build` in each example, or the test suite's images). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TREES = REPO / "algorithms" / "decision_trees"
XGBOOST = REPO / "algorithms" / "distributed_xgboost"
XGBOOST_RANGES = ("max_depth=2:8", "eta=0.01:0.5:Logarithmic", "min_child_weight=0:20", "reg_lambda=0:10")


def tune(example: Path, image: str, out: Path, *flags: str) -> tuple[dict[str, Any], float]:
    """One `smbyo --json tune --local` run from the example's directory: its result and wall seconds."""
    command = [sys.executable, "-m", "sm_byo", "--json", "tune", "--local", "--image", image,
               "--data", "training=data/training", "--out", str(out), *flags]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(command, cwd=example, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(result.stdout), seconds


def trials_per_minute(image: str, scratch: Path, rounds: int) -> dict[str, Any]:
    """6 trials with 1 and with 2 at a time, alternated `rounds` times."""
    seconds: dict[int, list[float]] = {1: [], 2: []}
    for round_number in range(rounds):
        for parallel in (1, 2):
            out = scratch / f"parallel-{parallel}-{round_number}"
            flags = ("--range", "max_leaf_nodes=2:40", "--max-jobs", "6", "--max-parallel-jobs", str(parallel),
                     "--random-seed", "1")  # fmt: skip
            result, took = tune(TREES, image, out, *flags)
            assert len(result["trials"]) == 6, result
            seconds[parallel].append(took)
    medians = {parallel: statistics.median(values) for parallel, values in seconds.items()}
    return {
        "trials": 6,
        "seconds": {str(p): [round(s, 2) for s in values] for p, values in seconds.items()},
        "trials_per_minute": {str(p): round(6 * 60 / median, 1) for p, median in medians.items()},
        "ratio_2_over_1": round(medians[1] / medians[2], 3),
    }


def search_quality(image: str, scratch: Path, seeds: list[int], budget: int) -> dict[str, Any]:
    """The best logloss Bayesian and Random find with the same budget, seed by seed."""
    best: dict[str, list[float]] = {"Bayesian": [], "Random": []}
    ranges = [arg for item in XGBOOST_RANGES for arg in ("--range", item)]
    for seed in seeds:
        for strategy in best:
            out = scratch / f"{strategy}-{seed}"
            result, _ = tune(XGBOOST, image, out, "--strategy", strategy, "--max-jobs", str(budget),
                             "--random-seed", str(seed), "-H", "num_round=30", *ranges)  # fmt: skip
            best[strategy].append(float(result["best"]["objective_value"]))
    wins = sum(b < r for b, r in zip(best["Bayesian"], best["Random"], strict=True))
    ties = sum(b == r for b, r in zip(best["Bayesian"], best["Random"], strict=True))
    return {
        "objective": "validation:logloss (Minimize)",
        "budget": budget,
        "seeds": seeds,
        "best": {strategy: [round(value, 5) for value in values] for strategy, values in best.items()},
        "mean_best": {strategy: round(statistics.mean(values), 5) for strategy, values in best.items()},
        "bayesian_better_in": f"{wins} of {len(seeds)} seeds ({ties} ties)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--budget", type=int, default=16, help="trials per search (default 16)")
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds of the parallel figure")
    parser.add_argument("--trees-image", default="decision-trees-sample:latest")
    parser.add_argument("--xgb-image", default="distributed-xgboost-sample:latest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smbyo-tuning-bench-") as scratch:
        report = {
            "parallel": trials_per_minute(args.trees_image, Path(scratch), args.rounds),
            "search": search_quality(args.xgb_image, Path(scratch), args.seeds, args.budget),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
