"""Where a request's time goes inside the worker: decode, predict, encode, in process, with the example's model.

Times smbyo's CSV decoder, the example's ``predict`` and the CSV encoder on the 1-row and 1,000-row bodies
``benchmarks/serving.py`` sends (no HTTP: this is the part of a request the runtime itself controls), and
numpy's CSV reader alone for comparison. ``--against DIR`` times another checkout's runtime (for instance
``git worktree add /tmp/before main``) in the same run, alternating rounds, so other load on the machine
hits both alike; each figure is the best of its rounds.

    python3 benchmarks/serving_profile.py --model-dir DIR_WITH_MODEL_NPZ --image IMAGE [--against /tmp/before]

The model directory is what the example's ``train`` writes (``benchmarks/serving.py`` trains one).
``--image`` runs every measurement in that image's Python and numpy (the checkouts mounted read-only), which
is what the workers run: without it the host's Python is timed, and its numpy can differ a lot (here numpy's
CSV reader took 0.65 ms per 1,000-row body on the host and 0.15-0.18 ms in the image, same numpy version).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import itertools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "algorithms" / "decision_trees"


def body(rows: int) -> bytes:
    """The body benchmarks/serving.py sends: the example's transform rows, repeated to ``rows`` lines."""
    lines = (EXAMPLE / "data" / "transform" / "iris.csv").read_text().split()
    return ("\n".join(line for line, _ in zip(itertools.cycle(lines), range(rows), strict=False)) + "\n").encode()


def best_microseconds(call: Callable[[], Any], calls: int = 200, repeats: int = 5) -> float:
    """The fastest of ``repeats`` timings of ``calls`` calls, per call: the figure least disturbed by other load."""
    timings = []
    for _ in range(repeats):
        begun = time.perf_counter()
        for _ in range(calls):
            call()
        timings.append((time.perf_counter() - begun) / calls * 1e6)
    return min(timings)


def measure(checkout: Path, model_dir: Path) -> dict[str, float]:
    """Per-phase microseconds with the runtime of ``checkout`` (run in a process of its own)."""
    sys.path.insert(0, str(checkout))
    from sm_byo.runtime import codecs

    spec = importlib.util.spec_from_file_location("benchmark_predictor", EXAMPLE / "predictor.py")
    assert spec is not None and spec.loader is not None
    predictor = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = predictor  # the predictor's dataclasses look their module up
    spec.loader.exec_module(predictor)
    model = predictor.load_model(str(model_dir))
    figures: dict[str, float] = {}
    for rows in (1, 1000):
        timed = phases(codecs, predictor, model, body(rows))
        figures.update({f"{rows}-row {phase}": us for phase, us in timed.items()})
    return figures


def phases(codecs: Any, predictor: Any, model: Any, payload: bytes) -> dict[str, float]:
    """Microseconds per call of each phase on one body; numpy's reader alone for comparison."""
    import numpy as np

    text = payload.decode()
    matrix = codecs.decode(payload, codecs.CSV, {})
    predictions = predictor.predict(model, matrix, {})
    return {
        "numpy reader": best_microseconds(
            lambda: np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None)
        ),
        "decode": best_microseconds(lambda: codecs.decode(payload, codecs.CSV, {})),
        "predict": best_microseconds(lambda: predictor.predict(model, matrix, {})),
        "encode": best_microseconds(lambda: codecs.encode(predictions, codecs.CSV)),
        "all three": best_microseconds(
            lambda: codecs.encode(predictor.predict(model, codecs.decode(payload, codecs.CSV, {}), {}), codecs.CSV)
        ),
    }


def measure_command(checkout: Path, model_dir: Path, image: str | None) -> list[str]:
    """The command that measures one checkout: this script in a process of its own, in ``image`` if given."""
    if image is None:
        return [sys.executable, __file__, "--model-dir", str(model_dir), "--measure", str(checkout)]
    script = Path(__file__).resolve().relative_to(REPO)
    return [
        "docker", "run", "--rm", "-v", f"{REPO}:/repo:ro", "-v", f"{checkout}:/checkout:ro",
        "-v", f"{model_dir.resolve()}:/model:ro", "--entrypoint", "/opt/venv/bin/python", image,
        f"/repo/{script}", "--model-dir", "/model", "--measure", "/checkout",
    ]  # fmt: skip


def run_rounds(
    checkouts: list[Path], model_dir: Path, rounds: int, image: str | None
) -> dict[Path, list[dict[str, float]]]:
    results: dict[Path, list[dict[str, float]]] = {checkout: [] for checkout in checkouts}
    for round_number in range(rounds):
        for checkout in checkouts if round_number % 2 == 0 else checkouts[::-1]:
            command = measure_command(checkout, model_dir, image)
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            results[checkout].append(json.loads(out.strip().splitlines()[-1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="a directory with the example's model.npz")
    parser.add_argument("--against", type=Path, help="another checkout whose runtime to time in the same run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per checkout (default 5)")
    parser.add_argument("--image", help="measure in this image's Python (a build of the example), not the host's")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # one process's measurement
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.model_dir)))
        return
    checkouts = [REPO, *([args.against.resolve()] if args.against else [])]
    results = run_rounds(checkouts, args.model_dir, args.rounds, args.image)
    names = ["this checkout", *([str(args.against)] if args.against else [])]
    print(" | ".join(["microseconds per call (best of rounds; median)", *names]))
    for phase in results[REPO][0]:
        cells = [
            f"{min(r[phase] for r in results[c]):.1f} ({statistics.median(r[phase] for r in results[c]):.1f})"
            for c in checkouts
        ]
        print(" | ".join([phase, *cells]))


if __name__ == "__main__":
    main()
