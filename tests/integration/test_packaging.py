"""The distributions: `python -m build` makes an sdist and a wheel (the wheel built *from* the sdist, so
both are complete), the wheel carries everything smbyo reads at run time, and `pipx install` of the
wheel gives a working `smbyo` outside this checkout."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from sm_byo import __version__
from tests.conftest import REPO

# What smbyo opens at run time from its own package: a wheel without them installs fine and fails later.
RUNTIME_FILES = [
    "sm_byo/py.typed",
    "sm_byo/runtime/serving.py",
    "sm_byo/runtime/training.py",
    "sm_byo/templates/container/Dockerfile.j2",
    "sm_byo/templates/container/smbyo/nginx.conf.j2",
    "sm_byo/templates/container/smbyo/wsgi.py",
    "sm_byo/templates/project/smbyo.yaml.j2",
    "sm_byo/templates/project/train.py",
    "sm_byo/templates/project/predictor.py",
    "sm_byo/templates/project/data/training/iris.csv",
    "sm_byo/templates/project/data/transform/iris.csv",
    "sm_byo/templates/project/payload.csv",
]
EXECUTABLES = ["sm_byo/templates/container/program/train", "sm_byo/templates/container/program/serve"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def _one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_wheel_holds_templates_runtime_and_example_data_with_their_modes(dist: Path) -> None:
    wheel = _one(dist, f"smbyo-{__version__}-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert not [name for name in RUNTIME_FILES + EXECUTABLES if name not in names]
        for name in EXECUTABLES:  # render copies the mode: train/serve must stay executable
            assert stat.S_IMODE(archive.getinfo(name).external_attr >> 16) & 0o111, name
        metadata = archive.read(f"smbyo-{__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {__version__}\n" in metadata  # one place: sm_byo.__version__
    assert "\nRequires-Python: >=3.11\n" in metadata  # the oldest Python CI runs (Debian 12's 3.11.2)
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/", "scripts/"))]


def test_sdist_holds_the_same_package_files(dist: Path) -> None:
    sdist = _one(dist, f"smbyo-{__version__}.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert not [name for name in RUNTIME_FILES + EXECUTABLES + ["pyproject.toml", "README.md"] if name not in names]


def test_pipx_install_of_the_wheel_gives_a_working_smbyo(dist: Path, tmp_path: Path) -> None:
    wheel = _one(dist, "*.whl")
    env = {
        **os.environ,
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }
    installed = subprocess.run(
        [sys.executable, "-m", "pipx", "install", str(wheel)], env=env, capture_output=True, text=True, timeout=900
    )
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    smbyo = tmp_path / "bin" / "smbyo"
    version = subprocess.run([str(smbyo), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.splitlines()[0] == f"smbyo {__version__}"

    # The installed package (not this checkout) scaffolds and renders: templates, data and modes made it.
    project = tmp_path / "proj"
    scaffold = subprocess.run([str(smbyo), "init", str(project)], capture_output=True, text=True, cwd=tmp_path)
    assert scaffold.returncode == 0, scaffold.stderr
    assert (project / "data" / "training" / "iris.csv").stat().st_size > 1000
    rendered = subprocess.run([str(smbyo), "render", "-o", "build"], capture_output=True, text=True, cwd=project)
    assert rendered.returncode == 0, rendered.stderr
    for program in ("train", "serve"):
        assert os.access(next((project / "build").rglob(program)), os.X_OK), program
