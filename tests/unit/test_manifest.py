"""The manifest: every rule a user can break is reported with the file, the line and the field path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sm_byo.errors import ManifestError
from sm_byo.manifest import json_schema, load_manifest
from tests.conftest import EXAMPLE_DIR, run_cli


def write(project: Path, text: str) -> Path:
    path = project / "smbyo.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def edit(project: Path, change: callable) -> Path:  # type: ignore[valid-type]
    """Load the example manifest as YAML, change it, write it back (formatting is yaml.dump's)."""
    path = project / "smbyo.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    return [str(p) for p in caught.value.problems]


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in {path}")


def test_the_example_manifest_is_valid() -> None:
    loaded = load_manifest(EXAMPLE_DIR / "smbyo.yaml")
    assert loaded.manifest.name == "decision-trees-sample"
    assert loaded.manifest.training is not None
    (spec,) = loaded.manifest.training.hyperparameters
    assert (spec.name, spec.type, spec.min, spec.max, spec.default) == ("max_leaf_nodes", "Integer", 2, 100000, "100")


def test_unknown_key_names_the_line_and_the_path(project: Path) -> None:
    text = (project / "smbyo.yaml").read_text().replace("  timeout_seconds: 60", "  timeout_secs: 60")
    path = write(project, text)
    (message,) = problems(path)
    assert message.startswith(f"{path}:{line_of(path, 'timeout_secs')} serving.timeout_secs: unknown key")


def test_wrong_type_is_reported_with_the_value(project: Path) -> None:
    text = (project / "smbyo.yaml").read_text().replace("  timeout_seconds: 60", "  timeout_seconds: soon")
    path = write(project, text)
    (message,) = problems(path)
    assert f":{line_of(path, 'timeout_seconds')} serving.timeout_seconds:" in message
    assert "'soon'" in message


def test_max_below_min(project: Path) -> None:
    text = (project / "smbyo.yaml").read_text().replace("      max: 100000", "      max: 1")
    path = write(project, text)
    found = problems(path)
    assert f"{path}:{line_of(path, '      max: 1')} training.hyperparameters[0].max: must be >= min (1 < 2)" in found


def test_default_outside_its_range(project: Path) -> None:
    text = (project / "smbyo.yaml").read_text().replace('default: "100"', 'default: "1"')
    path = write(project, text)
    (message,) = problems(path)
    assert f":{line_of(path, 'default:')} training.hyperparameters[0].default: 1 is outside the range [2, 100000]" in (
        message
    )


def test_required_hyperparameter_with_a_default_is_refused(project: Path) -> None:
    path = edit(project, lambda d: d["training"]["hyperparameters"][0].update(required=True))
    (message,) = problems(path)
    assert "training.hyperparameters[0].default: a required hyperparameter cannot have a default" in message
    assert f":{line_of(path, 'default:')} " in message


@pytest.mark.parametrize("name", ["-leading-hyphen", "has_underscore", "x" * 64, "trailing-"])
def test_names_that_break_the_sagemaker_pattern(project: Path, name: str) -> None:
    path = edit(project, lambda d: d.update(name=name))
    (message,) = problems(path)
    assert f"{path}:{line_of(path, 'name:')} name: " in message
    assert "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}" in message


def test_metric_regex_that_does_not_compile(project: Path) -> None:
    path = edit(project, lambda d: d["training"]["metrics"][0].update(regex="accuracy: ((\\S+)"))
    (message,) = problems(path)
    assert "training.metrics[0].regex: does not compile as a regular expression" in message
    assert f":{line_of(path, 'regex:')} " in message


def test_metric_regex_without_a_capture_group(project: Path) -> None:
    path = edit(project, lambda d: d["training"]["metrics"][0].update(regex="accuracy: \\S+"))
    (message,) = problems(path)
    assert "training.metrics[0].regex: needs a capture group" in message


def test_tuning_objective_naming_an_unknown_metric(project: Path) -> None:
    path = edit(project, lambda d: d["training"]["tuning_objective"].update(metric="validation:loss"))
    (message,) = problems(path)
    assert "training.tuning_objective.metric: 'validation:loss' is not a metric defined in training.metrics" in message


def test_duplicate_channel_names(project: Path) -> None:
    def duplicate(data: dict) -> None:  # type: ignore[type-arg]
        data["training"]["channels"].append(dict(data["training"]["channels"][0]))

    path = edit(project, duplicate)
    (message,) = problems(path)
    assert "training.channels[1].name: duplicate channel name 'training'" in message
    assert f":{line_of(path, '- name: training', 2)} " in message


def test_every_problem_is_reported_at_once(project: Path) -> None:
    def break_three_things(data: dict) -> None:  # type: ignore[type-arg]
        data["name"] = "bad_name"
        data["training"]["hyperparameters"][0]["max"] = 1
        data["training"]["metrics"][0]["regex"] = "no group"

    with pytest.raises(ManifestError) as caught:
        load_manifest(edit(project, break_three_things))
    fields = [p.field for p in caught.value.problems]
    # max < min also puts the default outside the (now empty) range: both are reported.
    assert fields == [
        "name",
        "training.hyperparameters[0].max",
        "training.hyperparameters[0].default",
        "training.metrics[0].regex",
    ]


def test_yaml_syntax_error_names_the_line(project: Path) -> None:
    path = write(project, "name: x\nserving:\n  workers: [1\n")
    (message,) = problems(path)
    assert message.startswith(f"{path}:") and "not valid YAML" in message


def test_missing_code_file(project: Path) -> None:
    (project / "predictor.py").unlink()
    (message,) = problems(project / "smbyo.yaml")
    assert "code.predict: 'predictor.py' not found" in message


def test_code_outside_the_project_is_refused(project: Path) -> None:
    path = edit(project, lambda d: d["code"].update(predict="../elsewhere.py"))
    (project.parent / "elsewhere.py").write_text("")
    (message,) = problems(path)
    assert "code.predict: '../elsewhere.py' is outside the project directory" in message


def test_cli_exits_2_with_field_and_line_and_no_traceback(project: Path) -> None:
    text = (project / "smbyo.yaml").read_text().replace("      max: 100000", "      max: 1")
    path = write(project, text)
    result = run_cli("render", "-f", str(path))
    assert result.returncode == 2
    assert (
        f"smbyo.yaml:{line_of(path, '      max: 1')} training.hyperparameters[0].max: must be >= min" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_cli_json_error_is_one_document(project: Path) -> None:
    path = edit(project, lambda d: d.update(name="bad_name"))
    result = run_cli("--json", "render", "-f", str(path))
    assert result.returncode == 2
    error = json.loads(result.stdout)
    assert error["error"] == "ManifestError"
    assert error["details"]["problems"][0]["field"] == "name"


def test_missing_manifest_exits_2(tmp_path: Path) -> None:
    result = run_cli("render", cwd=tmp_path)
    assert result.returncode == 2
    assert "smbyo.yaml: file not found" in result.stderr


def test_json_schema_covers_the_manifest(tmp_path: Path) -> None:
    schema = json_schema()
    assert set(schema["properties"]) >= {"name", "image", "code", "serving", "training", "validation", "marketplace"}
    result = run_cli("schema", "-o", str(tmp_path / "schema.json"))
    assert result.returncode == 0
    assert json.loads((tmp_path / "schema.json").read_text()) == schema


def test_committed_schema_is_current() -> None:
    committed = Path(__file__).resolve().parents[2] / "docs" / "smbyo.schema.json"
    assert json.loads(committed.read_text()) == json_schema(), "run `smbyo schema -o docs/smbyo.schema.json`"
