"""init: the project is created, and the next steps it prints work in it."""

from __future__ import annotations

import shlex
from pathlib import Path

from sm_byo.manifest import load_manifest
from sm_byo.rules import PLACEHOLDER_OUTPUT, PLACEHOLDER_ROLE, role_problem, s3_uri_problem
from sm_byo.scaffold import MODEL, init_project, next_steps


def test_every_path_in_the_next_steps_exists_in_the_new_project(tmp_path: Path) -> None:
    result = init_project(tmp_path / "proj")
    produced = {MODEL, "predictions"}  # written by the steps themselves
    for line in result.human_view()["next steps"]:
        words = shlex.split(line, comments=True)
        for word in words[1:]:
            path = word.partition("=")[2] or word
            if "/" in path and not path.startswith("http") and path not in produced:
                assert (tmp_path / "proj" / path).exists(), f"{line}: {path} is not in the project"
        if "--body" in words:
            assert (tmp_path / "proj" / words[words.index("--body") + 1]).is_file()


def test_the_cd_step_is_the_directory_as_typed_and_quoted_for_the_shell(tmp_path: Path) -> None:
    assert next_steps(Path("my proj"), "my-proj")[0] == "cd 'my proj'"
    result = init_project(tmp_path / "proj")
    assert result.human_view()["next steps"][0] == f"cd {tmp_path / 'proj'}"
    assert "build the image proj:latest" in result.human_view()["next steps"][1]


def test_the_json_document_has_only_what_it_had(tmp_path: Path) -> None:
    result = init_project(tmp_path / "proj", name="algo")
    assert result.to_dict() == {
        "directory": str((tmp_path / "proj").resolve()),
        "name": "algo",
        "files": result.files,
    }
    assert "smbyo.yaml" in result.files


def test_the_role_and_output_are_the_placeholders_pre_flight_refuses(tmp_path: Path) -> None:
    """The manifest loads (local commands need nothing from AWS), with values only the user can fill in."""
    result = init_project(tmp_path / "proj")
    loaded = load_manifest(result.directory / "smbyo.yaml")
    assert loaded.manifest.validation is not None
    assert loaded.manifest.validation.role == PLACEHOLDER_ROLE
    assert loaded.manifest.validation.output == PLACEHOLDER_OUTPUT
    assert role_problem(PLACEHOLDER_ROLE) is not None and s3_uri_problem(PLACEHOLDER_OUTPUT) is not None
