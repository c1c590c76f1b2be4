"""The command line itself: cheap to start, versions, and usage errors as exit 2 without a traceback."""

from __future__ import annotations

import subprocess
import sys

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
