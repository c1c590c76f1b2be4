"""The distributed example's data generator (algorithms/distributed_xgboost/generate_data.py): the data set
its README promises, the same for the same seed, with features whose few distinct values give XGBoost
exact histogram cuts, split into files so that ShardedByS3Key gives each instance a share."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "algorithms" / "distributed_xgboost"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("distributed_example_generate_data", EXAMPLE / "generate_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is made
    spec.loader.exec_module(module)
    return module


gen = _generator()


def test_the_same_seed_gives_the_same_rows_and_another_seed_others() -> None:
    first = gen.generate(gen.DataSpec(rows=500, files=2, seed=7))
    assert np.array_equal(first, gen.generate(gen.DataSpec(rows=500, files=2, seed=7)))
    assert not np.array_equal(first, gen.generate(gen.DataSpec(rows=500, files=2, seed=8)))


def test_label_first_then_features_with_fewer_values_than_max_bin() -> None:
    data = gen.generate(gen.DataSpec(rows=5000, files=1, features=6, levels=20))
    assert data.shape == (5000, 7)
    assert set(np.unique(data[:, 0])) == {0, 1}
    for column in data[:, 1:].T:
        assert set(np.unique(column)) <= set(range(20))
        assert len(np.unique(column)) == 20


def test_the_label_depends_on_the_features() -> None:
    """Something to learn: the feature with the largest weight tells the classes apart better than chance."""
    data = gen.generate(gen.DataSpec(rows=20000, files=1))
    correlations = [abs(np.corrcoef(data[:, 0], data[:, j])[0, 1]) for j in range(1, data.shape[1])]
    assert max(correlations) > 0.1


def test_files_are_consecutive_blocks_of_nearly_equal_size(tmp_path: Path) -> None:
    spec = gen.DataSpec(rows=1003, files=4, seed=3)
    paths = gen.write(spec, tmp_path / "training")
    assert [p.name for p in paths] == [f"part-0000{i}.csv" for i in range(4)]
    blocks = [np.loadtxt(p, delimiter=",", dtype=np.int64, ndmin=2) for p in paths]
    assert sorted(len(b) for b in blocks) == [250, 251, 251, 251]
    assert np.array_equal(np.concatenate(blocks), gen.generate(spec))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (dict(rows=3, files=4), "at least one row per file"),
        (dict(rows=10, files=0), "at least one row per file"),
        (dict(rows=10, files=1, features=1), "at least 2 features"),
        (dict(rows=10, files=1, levels=256), "levels must be 2..255"),
        (dict(rows=10, files=1, levels=1), "levels must be 2..255"),
    ],
)
def test_settings_that_would_write_useless_data_are_refused(spec: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gen.generate(gen.DataSpec(**spec))


def test_the_command_line_writes_the_files_and_refuses_bad_settings(tmp_path: Path) -> None:
    script = str(EXAMPLE / "generate_data.py")
    done = subprocess.run(
        [sys.executable, script, "--rows", "40", "--files", "2", "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["part-00000.csv", "part-00001.csv"]
    refused = subprocess.run(
        [sys.executable, script, "--rows", "1", "--files", "2", "--out", str(tmp_path / "bad")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "at least one row per file" in refused.stderr


def test_the_shipped_data_is_what_the_readme_command_writes(tmp_path: Path) -> None:
    """data/training is `generate_data.py --rows 4000 --files 4` (README.md), small enough to ship."""
    written = gen.write(gen.DataSpec(rows=4000, files=4), tmp_path)
    shipped = sorted((EXAMPLE / "data" / "training").iterdir())
    assert [p.name for p in shipped] == [p.name for p in written]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(shipped, written, strict=True))
    assert sum(p.stat().st_size for p in shipped) < 300_000
