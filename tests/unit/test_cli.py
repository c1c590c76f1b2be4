"""The command line itself: cheap to start, versions, and usage errors as exit 2 without a traceback."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from sm_byo.cli import cli
from tests.conftest import EXAMPLE_DIR, run_cli

HEAVY = ("boto3", "botocore", "docker", "jinja2", "pandas", "numpy", "rich", "pydantic")


def test_help_imports_none_of_the_heavy_libraries() -> None:
    probe = (
        "import sys\n"
        "from sm_byo.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_version_names_smbyo_and_its_key_libraries() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("smbyo ")
    for library in ("boto3", "docker", "click"):
        assert f"\n{library} " in result.stdout


def test_a_bad_flag_is_exit_2_with_the_command_help_named() -> None:
    result = run_cli("train", "--local", "-f", str(EXAMPLE_DIR / "smbyo.yaml"), "--data", "no-equals-sign")
    assert result.returncode == 2
    assert "'no-equals-sign' is not NAME=VALUE" in result.stderr
    assert "smbyo train --help" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_is_exit_2() -> None:
    result = run_cli("deploy-everything")
    assert result.returncode == 2
    assert "No such command" in result.stderr


# --- init: what to run next -------------------------------------------------------------------------


def next_step_commands(stdout: str) -> list[str]:
    """The lines after `next steps`, without their shell comments."""
    lines = stdout.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("next steps"))
    steps = [lines[start].removeprefix("next steps"), *lines[start + 1 :]]
    return [line.split("  #")[0].strip() for line in steps if line.strip()]


def test_init_ends_with_the_next_commands_to_run(tmp_path: Path) -> None:
    result = run_cli("init", "proj", cwd=tmp_path, env={"COLUMNS": "200"})

    assert result.returncode == 0, result.stderr
    assert next_step_commands(result.stdout) == [
        "cd proj",
        "smbyo build",
        "smbyo train --local --data training=data/training",
        "smbyo serve --local --model output/model.tar.gz",
        "smbyo invoke --local http://localhost:8080 --body payload.csv",
        "smbyo transform --local --model output/model.tar.gz --input data/transform --output predictions",
        "smbyo validate --local",
        "smbyo doctor",
    ]
    assert "in a second terminal" in next(line for line in result.stdout.splitlines() if "smbyo invoke" in line)


def test_every_next_step_is_a_command_line_smbyo_accepts(tmp_path: Path) -> None:
    """Parsed by the real CLI (options, required flags, choices), so a renamed flag breaks this test."""
    result = run_cli("init", "proj", cwd=tmp_path, env={"COLUMNS": "200"})
    for line in next_step_commands(result.stdout)[1:]:
        words = shlex.split(line)
        assert words[0] == "smbyo"
        parent = cli.make_context("smbyo", words[1:])
        command = cli.get_command(parent, words[1])
        assert command is not None, line
        command.make_context(words[1], words[2:], parent=parent)  # raises click.UsageError on an unknown flag


def test_init_json_is_the_same_document_as_before(tmp_path: Path) -> None:
    result = run_cli("init", "proj", "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    expected = {
        "directory": str((tmp_path / "proj").resolve()),
        "name": "proj",
        "files": [
            "data/training/iris.csv",
            "data/transform/iris.csv",
            "payload.csv",
            "predictor.py",
            "requirements.txt",
            "smbyo.yaml",
            "train.py",
        ],
    }
    assert result.stdout == json.dumps(expected, indent=2) + "\n"
    assert "next steps" not in result.stdout + result.stderr
