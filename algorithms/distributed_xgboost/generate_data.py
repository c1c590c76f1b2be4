"""Write a seeded binary-classification CSV data set, split into files, for the distributed example.

Each row is ``label,f1,...,fN``: the label (0 or 1) in column 0, as smbyo's examples expect, then integer
features in ``0..levels-1``. A feature with fewer distinct values than XGBoost's ``max_bin`` gets exact
quantile cuts (every distinct value is a cut), on one host or summed across many, so a 2-host run on half
the files each builds the same trees as a 1-host run on all of them (README.md: expected agreement).

The rows are split into ``--files`` files of (nearly) equal size: SageMaker's ShardedByS3Key gives each
host about 1/N of a channel's S3 objects, so a data set of one file would leave every host but one idle.

    python generate_data.py --rows 4000 --files 4 --out data/training            # the shipped data
    python generate_data.py --rows 1500000 --files 8 --out /tmp/large/training   # for measurement
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_LEVELS = 32


@dataclass(frozen=True)
class DataSpec:
    """What to generate: ``rows`` rows of ``features`` integer features with ``levels`` values each."""

    rows: int
    files: int
    features: int = 10
    levels: int = DEFAULT_LEVELS
    seed: int = 0

    def check(self) -> None:
        """Refuse settings that would write an empty file, no feature, or a constant feature."""
        if self.files < 1 or self.rows < self.files:
            raise ValueError(f"need at least one row per file: {self.rows} rows into {self.files} files")
        if self.features < 2:
            raise ValueError(f"need at least 2 features, got {self.features}")
        if not 2 <= self.levels <= 255:
            raise ValueError(f"levels must be 2..255 (fewer than XGBoost's default max_bin 256), got {self.levels}")


def generate(spec: DataSpec) -> np.ndarray:
    """The data set as an int64 matrix, label in column 0; the same matrix for the same spec."""
    spec.check()
    rng = np.random.default_rng(spec.seed)
    features = rng.integers(0, spec.levels, size=(spec.rows, spec.features))
    scaled = features / (spec.levels - 1) - 0.5
    weights = rng.normal(0.0, 2.0, size=spec.features)
    # A linear part, an interaction and a threshold: something trees of depth > 1 have to learn.
    logit = scaled @ weights + 4.0 * scaled[:, 0] * scaled[:, 1] + 1.5 * (scaled[:, 2] > 0.25)
    labels = rng.random(spec.rows) < 1.0 / (1.0 + np.exp(-logit))
    return np.column_stack([labels.astype(np.int64), features])


def split(data: np.ndarray, files: int) -> list[np.ndarray]:
    """Consecutive blocks of rows, sizes differing by at most one, in file order."""
    return list(np.array_split(data, files))


def write(spec: DataSpec, out: Path) -> list[Path]:
    """Write ``part-NNNNN.csv`` files under ``out`` (created); the paths written, in order."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for index, block in enumerate(split(generate(spec), spec.files)):
        path = out / f"part-{index:05d}.csv"
        np.savetxt(path, block, fmt="%d", delimiter=",")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000, help="rows in all (default 4000)")
    parser.add_argument("--files", type=int, default=4, help="files to split them into (default 4)")
    parser.add_argument("--features", type=int, default=10, help="features per row (default 10)")
    parser.add_argument("--levels", type=int, default=DEFAULT_LEVELS, help="distinct values per feature")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="directory to write part-NNNNN.csv into")
    args = parser.parse_args(argv)
    spec = DataSpec(args.rows, args.files, args.features, args.levels, args.seed)
    try:
        paths = write(spec, args.out)
    except ValueError as exc:
        parser.error(str(exc))
    print(f"wrote {spec.rows} rows into {len(paths)} files under {args.out}")


if __name__ == "__main__":
    main()
