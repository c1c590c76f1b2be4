"""Every `smbyo …` command the documentation shows parses with the real CLI.

Which lines count as commands (the rule, so that a writer knows what is checked):

- only lines inside fenced code blocks of ``docs/*.md`` and ``README.md``, of any language but data
  (``yaml``, ``json``, ``toml``, ``python``): inline code in prose and tables is left out, because there
  it is a synopsis with placeholders (``smbyo train [--data CHANNEL=PATH ...]``), not a line to run;
- a line that starts with ``smbyo `` or with a ``$ `` prompt and ``smbyo `` (captured sessions), and every
  ``$(smbyo …)`` substitution in a block's line;
- a line ending in ``\\`` continues on the next one; a ``#`` comment, and everything from a redirection
  (``>``, ``>>``, ``2>&1``) or a ``|``, ``&&``, ``;`` on, belongs to the shell, not to smbyo;
- a line with a ``[``-bracketed word (``smbyo [--json] COMMAND ...``) is a synopsis and is skipped.

Each command is parsed the way ``smbyo`` parses it (click's ``make_context`` for the group and each
subcommand, ``resilient_parsing`` off) without being run, so an unknown command or flag, a missing
argument or a bad choice fails the test naming the file and line.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from tests.conftest import REPO
from tests.unit.test_docs import parses

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
DATA_LANGUAGES = frozenset({"yaml", "yml", "json", "toml", "python", "py"})
SUBSTITUTION = re.compile(r"\$\((smbyo [^)]*)\)")
SHELL_ENDS = frozenset({">", ">>", "2>&1", "2>", "|", "||", "&&", ";", "&"})


@dataclass(frozen=True)
class DocCommand:
    """One `smbyo …` command of the docs and where it is (``docs/cli.md:352``)."""

    where: str
    command: str


def documentation_files() -> list[Path]:
    return [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]


def code_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of every line inside a fenced code block that is not a data language."""
    fence: str | None = None
    language = ""
    for number, line in enumerate(text.splitlines(), 1):
        opening = FENCE.match(line)
        if fence is None:
            if opening:
                fence, language = opening.group(1), opening.group(2).lower()
            continue
        if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            fence = None
            continue
        if language not in DATA_LANGUAGES:
            yield number, line


def commands_in(text: str, name: str) -> list[DocCommand]:
    """The `smbyo …` commands of one Markdown text, by the rule in this module's docstring."""
    found: list[DocCommand] = []
    pending: tuple[int, str] | None = None
    for number, line in code_lines(text):
        if pending is not None:
            start, joined = pending
            line = joined + " " + line.strip()
            number = start
            pending = None
        stripped = line.strip().removeprefix("$ ")
        if stripped.endswith("\\"):
            pending = (number, stripped[:-1].rstrip())
            continue
        candidates = [stripped] if stripped.startswith("smbyo ") else []
        candidates += SUBSTITUTION.findall(stripped)
        for candidate in candidates:
            command = shell_part(candidate)
            if command is not None:
                found.append(DocCommand(f"{name}:{number}", command))
    return found


def shell_part(line: str) -> str | None:
    """The words smbyo receives (comments, redirections and later commands cut off), or None for a synopsis."""
    words = shlex.split(line, comments=True)
    kept: list[str] = []
    for word in words:
        if word in SHELL_ENDS or word.startswith((">", "2>")):
            break
        kept.append(word)
    if any(word.startswith("[") for word in kept):
        return None
    return shlex.join(kept)


def documented_commands() -> list[DocCommand]:
    commands: list[DocCommand] = []
    for path in documentation_files():
        commands += commands_in(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    return commands


def test_the_docs_show_commands() -> None:
    """The extraction finds what the tutorial and the troubleshooting page show (a broken rule finds none)."""
    commands = {item.command for item in documented_commands()}
    assert len(commands) >= 40
    assert "smbyo train --local --data training=data/training" in commands
    assert "smbyo completion bash" in commands  # from `eval "$(smbyo completion bash)"`


@pytest.mark.parametrize("item", documented_commands(), ids=lambda item: item.where)
def test_every_documented_command_parses(item: DocCommand) -> None:
    try:
        parses(item.command)
    except (click.UsageError, AssertionError) as exc:
        message = exc.format_message() if isinstance(exc, click.UsageError) else str(exc)
        pytest.fail(f"{item.where}: `{item.command}` does not parse: {message}")


def test_the_rule_joins_continuations_and_drops_the_shell() -> None:
    text = "\n".join(
        [
            "```bash",
            "smbyo train --data training=data/training \\",
            "  --instance-type ml.m5.xlarge   # a comment",
            "smbyo build --json | jq -r .tag",
            "smbyo [--json] COMMAND ...",
            "```",
            "```yaml",
            "smbyo build: not a command",
            "```",
            "```text",
            "$ smbyo push > push.json 2>&1",
            "echo 'eval \"$(smbyo completion zsh)\"' >> ~/.zshrc",
            "```",
            "and `smbyo serve [--port N]` in prose",
        ]
    )
    assert commands_in(text, "page.md") == [
        DocCommand("page.md:2", "smbyo train --data training=data/training --instance-type ml.m5.xlarge"),
        DocCommand("page.md:4", "smbyo build --json"),
        DocCommand("page.md:11", "smbyo push"),
        DocCommand("page.md:12", "smbyo completion zsh"),
    ]


def test_a_documented_typo_fails() -> None:
    """What the test catches: a flag the CLI does not have, and a command missing its argument."""
    with pytest.raises(click.UsageError):
        parses("smbyo deploy --modle s3://bucket/model.tar.gz")
    with pytest.raises(click.UsageError):
        parses("smbyo invoke --body payload.csv --content-type")
