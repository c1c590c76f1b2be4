"""The documentation builds and the generated parts are current (CI fails when they are stale)."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import click
import pytest

from sm_byo.manifest import json_schema
from tests.conftest import REPO


def _load_docs_gen() -> Any:
    """scripts/docs_gen.py: a maintenance script, kept out of the installed package."""
    spec = importlib.util.spec_from_file_location("docs_gen", REPO / "scripts" / "docs_gen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs_gen = _load_docs_gen()


def test_generated_files_match_the_models() -> None:
    for relative, expected in docs_gen.expected_files().items():
        on_disk = (REPO / relative).read_text(encoding="utf-8")
        assert on_disk == expected, f"{relative} is stale: run `python scripts/docs_gen.py` and commit it"


def test_check_mode_reports_a_stale_reference(tmp_path: Path) -> None:
    for relative, content in docs_gen.expected_files().items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(content, encoding="utf-8")
    assert docs_gen.main(["--check", "--root", str(tmp_path)]) == 0

    (tmp_path / docs_gen.REFERENCE_PATH).write_text("# edited by hand\n", encoding="utf-8")
    assert docs_gen.main(["--check", "--root", str(tmp_path)]) == 1


def test_every_manifest_field_is_in_the_reference() -> None:
    schema = json_schema()
    reference = docs_gen.render_reference(schema)
    for definition in [schema, *schema["$defs"].values()]:
        for field in definition.get("properties", {}):
            assert f"| `{field}`{{ .{docs_gen.FIELD_CLASS} }} |" in reference


def test_every_manifest_field_has_a_description() -> None:
    """A field without one is a blank cell in the reference: every field says what it does."""
    schema = json_schema()
    undescribed = [
        f"{name}.{field}"
        for name, definition in [("Manifest", schema), *schema["$defs"].items()]
        for field, spec in definition.get("properties", {}).items()
        if not str(spec.get("description", "")).strip()
    ]
    assert undescribed == []


def test_defaults_are_the_real_ones() -> None:
    """A list built by a factory shows what it starts as (one 'training' channel), not a generic `[]`;
    a required field shows none."""
    reference = docs_gen.render_reference(json_schema())
    row = next(line for line in reference.splitlines() if line.startswith("| `channels`"))
    assert '`[{"name": "training"}]`' in row
    row = next(line for line in reference.splitlines() if line.startswith("| `subnets`"))
    assert row.split(" | ")[2:4] == ["yes", ""]


def test_pipes_in_code_spans_are_not_escaped() -> None:
    """python-markdown shows ``\\|`` inside a code span literally; a table cell's code keeps a bare pipe."""
    assert docs_gen._clean("`a|b` or c|d") == "`a|b` or c\\|d"


def test_nested_objects_are_titled_by_their_yaml_path() -> None:
    reference = docs_gen.render_reference(json_schema())
    assert "## `training.hyperparameters[]` {#hyperparameterspec}" in reference
    assert "## `validation` {#validationspec}" in reference


def test_mkdocs_build_strict_passes(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None and not os.environ.get("CI"):
        pytest.skip("mkdocs is not installed (pip install -e '.[test]'); CI runs this")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "site" / "manifest" / "index.html").is_file()
    literal = [page.relative_to(tmp_path) for page in (tmp_path / "site").rglob("*.html") if "\\|" in page.read_text()]
    assert literal == [], "a `\\|` in a Markdown code span shows literally: write a bare | inside backticks"
    manifest_page = (tmp_path / "site" / "manifest" / "index.html").read_text(encoding="utf-8")
    assert f'<code class="{docs_gen.FIELD_CLASS}">system_packages</code>' in manifest_page
    assert '<div class="language-text highlight">' in (tmp_path / "site" / "troubleshooting" / "index.html").read_text()


def smbyo_lines(text: str) -> list[str]:
    """Every `smbyo ...` command of a shell script or workflow, without redirections and CI expressions."""
    commands = []
    for raw in text.splitlines():
        line = raw.strip().removeprefix("run:").strip()
        if not line.startswith("smbyo "):
            continue
        line = re.sub(r"\$\{\{[^}]*\}\}", "VALUE", line)
        commands.append(line.split(" > ")[0].split(" | ")[0].strip())
    return commands


def parses(command: str) -> None:
    """Parse like the real CLI does (unknown commands or flags raise click's UsageError), without running."""
    from sm_byo.cli import cli

    args = shlex.split(command)[1:]
    group: click.Group = cli
    try:
        context = group.make_context("smbyo", args, resilient_parsing=False)
    except click.exceptions.Exit:  # --version / --help: parsed, printed, done
        return
    while True:
        with warnings.catch_warnings():  # click 8.2 deprecates protected_args; 9.0 folds it into args
            warnings.simplefilter("ignore", DeprecationWarning)
            pending = list(context.protected_args) + context.args
        name, command_object, rest = group.resolve_command(context, pending)
        assert command_object is not None, f"unknown command {name!r} in {command!r}"
        context = command_object.make_context(name or "", rest, parent=context)
        if not isinstance(command_object, click.Group):
            return
        group = command_object


def test_every_smbyo_command_of_the_ci_workflow_parses() -> None:
    workflow = (REPO / "examples" / "ci" / "github-actions.yml").read_text(encoding="utf-8")
    commands = smbyo_lines(workflow)

    assert len(commands) >= 6
    for command in commands:
        parses(command)
    assert any(command.startswith("smbyo publish algorithm --dry-run") for command in commands)


def test_the_ci_workflow_submits_without_waiting_and_waits_in_a_job_whose_session_outlasts_the_wait() -> None:
    """AWS's validation can take hours: the submitting job must not wait inside its 1-hour OIDC session."""
    import yaml

    workflow = (REPO / "examples" / "ci" / "github-actions.yml").read_text(encoding="utf-8")
    commands = smbyo_lines(workflow)
    submits = [c for c in commands if c.startswith("smbyo publish algorithm") and "--dry-run" not in c]
    assert submits and all("--no-wait" in c for c in submits)
    (waits,) = [c for c in commands if c.startswith("smbyo wait algorithm")]
    timeout = int(shlex.split(waits)[shlex.split(waits).index("--timeout") + 1])
    job = yaml.safe_load(workflow)["jobs"]["validation"]
    credentials = next(step for step in job["steps"] if "configure-aws-credentials" in str(step.get("uses")))
    assert timeout < credentials["with"]["role-duration-seconds"] <= job["timeout-minutes"] * 60


def test_a_renamed_flag_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        parses("smbyo push --no-such-flag")
