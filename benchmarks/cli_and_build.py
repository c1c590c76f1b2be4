"""Issue 2 figures: `smbyo --help` start-up, the example image's size, and the code-only rebuild time.

Run on demand (needs a Docker Engine and the base image from scripts/base-image.sh):
    python benchmarks/cli_and_build.py [--runs 15] [--base-image smbyo-test/debian:bookworm]
Prints medians, and `smbyo --help` against a bare `python -c pass` measured side by side.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "algorithms" / "decision_trees"
SMBYO = shutil.which("smbyo") or "smbyo"


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def median_interleaved(commands: dict[str, list[str]], runs: int) -> dict[str, float]:
    """Alternate the commands run by run, so machine noise hits both alike."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(wall(command))
    return {name: statistics.median(values) for name, values in samples.items()}


def build(project: Path, base_image: str, tag: str) -> float:
    ca = (
        ["--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]
        if Path("/etc/ssl/certs/ca-certificates.crt").exists()
        else []
    )
    command = [SMBYO, "build", "-f", str(project / "smbyo.yaml"), "--tag", tag, "--base-image", base_image]
    return wall([*command, "--network", "host", *ca])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--base-image", default="smbyo-test/debian:bookworm")
    args = parser.parse_args()

    startup = median_interleaved(
        {"smbyo --help": [SMBYO, "--help"], "python -c pass": [sys.executable, "-c", "pass"]}, args.runs
    )
    print(
        f"smbyo --help       median {startup['smbyo --help'] * 1000:7.1f} ms over {args.runs} runs (target <= 250 ms)"
    )
    print(f"python -c pass     median {startup['python -c pass'] * 1000:7.1f} ms (interpreter floor, same runs)")

    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        shutil.copytree(EXAMPLE, project, symlinks=False)
        tag = "smbyo-bench/decision-trees:latest"
        first = build(project, args.base_image, tag)
        rebuilds = []
        for run in range(3):
            predictor = project / "predictor.py"
            predictor.write_text(predictor.read_text() + f"\n# code-only change {run}\n")
            rebuilds.append(build(project, args.base_image, tag))
        size = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Size}}", tag], check=True, capture_output=True, text=True
        ).stdout.strip()
        base_size = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Size}}", args.base_image],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    print(f"first build (cache as found)  {first:7.1f} s")
    print(f"code-only rebuild   median   {statistics.median(rebuilds):7.2f} s over 3 runs")
    print(f"image size                   {int(size) / 1e6:7.1f} MB (base image {int(base_size) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
