"""Shell completion through click's protocol, as the installed script calls it."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_that_calls_smbyo_back(shell: str) -> None:
    result = run_cli("completion", shell)

    assert result.returncode == 0, result.stderr
    assert "_SMBYO_COMPLETE" in result.stdout


def test_commands_and_options_complete() -> None:
    commands = run_cli(env={"_SMBYO_COMPLETE": "bash_complete", "COMP_WORDS": "smbyo pu", "COMP_CWORD": "1"})
    options = run_cli(env={"_SMBYO_COMPLETE": "bash_complete", "COMP_WORDS": "smbyo train --in", "COMP_CWORD": "2"})

    assert commands.stdout.split() == ["plain,publish", "plain,push"]
    assert "plain,--input-mode" in options.stdout.split()


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = run_cli("completion", "powershell")

    assert result.returncode == 2
    assert "bash" in result.stderr
