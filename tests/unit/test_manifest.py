"""The manifest: every rule a user can break is reported with the file, the line and the field path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sm_byo.errors import ManifestError
from sm_byo.manifest import image_platform, json_schema, load_manifest
from sm_byo.rules import instance_architecture
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


# --- hostile values: refused with the field and its line --------------------------------------------------

INJECTIONS = [
    # (the YAML line replacing `  requirements: requirements.txt`, the field, a fragment of the message)
    ("  system_packages: [curl, 'x; rm -rf /']", "image.system_packages[1]", "is not a Debian package name"),
    ("  system_packages: ['$(id)']", "image.system_packages[0]", "is not a Debian package name"),
    ("  system_packages: ['`id`']", "image.system_packages[0]", "is not a Debian package name"),
    ("  system_packages: ['curl && id']", "image.system_packages[0]", "is not a Debian package name"),
    ("  system_packages: ['curl \"x\"']", "image.system_packages[0]", "is not a Debian package name"),
    ('  system_packages: ["curl\\nRUN id"]', "image.system_packages[0]", "is not a Debian package name"),
    ("  system_packages: ['-o', 'APT::Foo=1']", "image.system_packages[0]", "is not a Debian package name"),
    ("  system_packages: [Curl]", "image.system_packages[0]", "is not a Debian package name"),
    ("  system_packages: ['curl=1.0;id']", "image.system_packages[0]", "is not a Debian package name"),
    ("  build_packages: [gcc, '${HOME}']", "image.build_packages[1]", "is not a Debian package name"),
    ("  build_packages: ['a b']", "image.build_packages[0]", "is not a Debian package name"),
]


@pytest.mark.parametrize(("line", "field", "message"), INJECTIONS, ids=[i[0].strip() for i in INJECTIONS])
def test_package_lists_refuse_anything_but_package_names(project: Path, line: str, field: str, message: str) -> None:
    text = (project / "smbyo.yaml").read_text().replace("  requirements: requirements.txt", line)
    path = write(project, text + "  requirements: requirements.txt\n".replace("  ", "", 0))
    found = [p for p in problems(path) if f" {field}: " in p]
    assert found and message in found[0], problems(path)
    assert found[0].startswith(f"{path}:{line_of(path, line.split(':')[0].strip() + ':')} ")


@pytest.mark.parametrize(
    "base",
    [
        '"python:3.12\\nRUN curl evil | sh"',
        '"python:3.12 AS evil"',
        "'$(id)'",
        "'${BASE}'",
        "'python:3.12;id'",
        "'Python:3.12'",
        "'python:'",
        "'-python'",
        "''",
        "'" + "a" * 256 + "'",
    ],
)
def test_a_base_image_that_is_no_image_reference_is_refused(project: Path, base: str) -> None:
    text = (project / "smbyo.yaml").read_text().replace("  base: python:3.12-slim-bookworm", f"  base: {base}")
    path = write(project, text)
    (message,) = problems(path)
    assert message.startswith(f"{path}:{line_of(path, '  base:')} image.base: ")
    assert "Docker image reference" in message or "at most 255" in message


@pytest.mark.parametrize(
    "base",
    [
        "python:3.12-slim-bookworm",
        "debian",
        "localhost:5000/team/base:1.0",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/base:v1",
        "ubuntu:24.04@sha256:" + "a" * 64,
        "registry.example.com/a__b/c-d.e:tag_1",
    ],
)
def test_image_references_docker_accepts_are_accepted(project: Path, base: str) -> None:
    text = (project / "smbyo.yaml").read_text().replace("  base: python:3.12-slim-bookworm", f"  base: {base}")
    assert load_manifest(write(project, text)).manifest.image.base == base


@pytest.mark.parametrize(
    ("description", "fragment"),
    [
        ('"two\\nlines"', "character 4 is '\\n'"),
        ("|\n  block scalars keep\n  their newlines", "is '\\n'"),
        ('"tab\\there"', "is '\\t'"),
        ('"nul\\0"', "is '\\x00'"),
        ('"escape \\e[31m"', "is '\\x1b'"),
        ("'" + "x" * 1025 + "'", "is 1025 characters; AWS takes at most 1024"),
    ],
)
def test_descriptions_aws_would_refuse_are_refused(project: Path, description: str, fragment: str) -> None:
    old = "description: Decision trees using scikit-learn (Iris CSV, label in column 0)"
    path = write(project, (project / "smbyo.yaml").read_text().replace(old, f"description: {description}"))
    (message,) = problems(path)
    assert message.startswith(f"{path}:{line_of(path, 'description:')} description: ") and fragment in message


def test_a_description_with_quotes_dollars_and_backslashes_is_valid(project: Path) -> None:
    old = "description: Decision trees using scikit-learn (Iris CSV, label in column 0)"
    description = "a \\\" ${HOME} $(id) `id` ' && echo; # RUN id \\ ünïcödé 🚀"
    path = write(
        project,
        (project / "smbyo.yaml")
        .read_text()
        .replace(old, f"description: {json.dumps(description, ensure_ascii=False)}"),
    )
    assert load_manifest(path).manifest.description == description


@pytest.mark.parametrize("name", [".", ".."])
def test_channel_names_that_are_path_components_are_refused(project: Path, name: str) -> None:
    path = edit(project, lambda d: d["training"]["channels"][0].update(name=name))
    (message,) = problems(path)
    assert f"training.channels[0].name: '{name}' cannot name a channel" in message
    assert f":{line_of(path, '- name:')} " in message


def test_a_channel_name_of_three_dots_is_just_a_name(project: Path) -> None:
    path = edit(project, lambda d: d["training"]["channels"][0].update(name="..."))
    assert load_manifest(path, check_files=False).manifest.training.channels[0].name == "..."  # type: ignore[union-attr]


# --- hostile YAML: bombs, depth, cycles, unreadable values -----------------------------------------------------

BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (BILLION_LAUGHS, 6, "refused: the YAML expands to 597,871 values through aliases"),
        ("name: x\ntags: " + BILLION_LAUGHS.replace("\n", ", ").join("{}"), 2, "refused: the YAML expands"),
        ("name: x\ntags: " + "[" * 100_000 + "]" * 100_000 + "\n", 2, "is nested more than 32 levels deep"),
        ("name: x\n" + "".join("  " * i + f"k{i}:\n" for i in range(40)), 33, "is nested more than 32 levels deep"),
        ("name: x\ntags: &a {x: *a}\n", 2, "has an alias inside the value it refers to"),
        ("name: x\ntags: &a [[*a]]\n", 2, "has an alias inside the value it refers to"),
        ("name: x\na: &a 1\nl: [" + ", ".join(["*a"] * 101) + "]\n", 3, "has more than 100 aliases"),
        ("name: x\nserving:\n  timeout_seconds: " + "9" * 5000 + "\n", 3, "too many digits"),
        ("name: x\ntraining:\n  hyperparameters:\n    - {name: a, type: FreeText, default: 2024-13-45}\n", 4, "month"),
        ("name: x\ndescription: a\x00b\n", 2, "the character '\\x00' is not allowed in YAML"),
        ("name: x\n---\nname: y\n", 2, "not valid YAML: but found another document"),
        ("name: x\nl: *nowhere\n", 2, "not valid YAML: found undefined alias"),
        ("name: x\ntags: {? [a, b] : c}\n", 2, "not valid YAML: found unhashable key"),
    ],
    ids=[
        "billion laughs",
        "laughs in a field",
        "deep flow",
        "deep block",
        "cycle",
        "cycle in a list",
        "aliases",
        "digits",
        "timestamp",
        "NUL",
        "two documents",
        "undefined alias",
        "list as a key",
    ],
)
def test_hostile_yaml_is_refused_with_its_line(project: Path, text: str, line: int, fragment: str) -> None:
    path = write(project, text)
    (message,) = problems(path)
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message


def test_the_yaml_bomb_exits_2_from_the_cli_with_no_traceback(project: Path) -> None:
    result = run_cli("render", "-f", str(write(project, BILLION_LAUGHS)))
    assert result.returncode == 2
    assert "refused: the YAML expands" in result.stderr and "Traceback" not in result.stderr


def test_deep_nesting_exits_2_not_as_a_bug(project: Path) -> None:
    result = run_cli("--json", "render", "-f", str(write(project, "name: x\ntags: " + "[" * 50_000 + "\n")))
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"] == "ManifestError"


def test_anchors_aliases_and_merge_keys_used_as_intended_still_work(project: Path) -> None:
    text = (project / "smbyo.yaml").read_text()
    text = text.replace(
        "  transform_instance_types: [ml.m5.large, ml.c5.xlarge]", "  transform_instance_types: &t [ml.m5.large]"
    )
    text = text.replace("  realtime_instance_types: [ml.m5.large, ml.c5.xlarge]", "  realtime_instance_types: *t")
    text = text.replace(
        "    - name: max_leaf_nodes\n      type: Integer\n",
        "    - &integer {name: depth, type: Integer, min: 1, max: 10, tunable: true}\n"
        "    - <<: *integer\n      name: max_leaf_nodes\n      type: Integer\n",
    )
    loaded = load_manifest(write(project, text))
    assert loaded.manifest.inference.realtime_instance_types == ["ml.m5.large"]
    training = loaded.manifest.training
    assert training is not None
    assert [h.name for h in training.hyperparameters] == ["depth", "max_leaf_nodes"]
    assert training.hyperparameters[1].tunable and training.hyperparameters[1].max == 100000
    assert loaded.line_of(("inference", "realtime_instance_types")) == line_of(
        project / "smbyo.yaml", "realtime_instance_types"
    )


def test_a_manifest_that_is_not_utf8_names_the_line(project: Path) -> None:
    path = project / "smbyo.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\n")
    (message,) = problems(path)
    assert message == f"{path}:2: not UTF-8 text (byte 24 is 0xe9)"


def test_a_directory_as_the_manifest_is_a_manifest_error(project: Path) -> None:
    (message,) = problems(project)
    assert message == f"{project}: is a directory, not a manifest file"


def test_a_long_value_is_shown_cut_short(project: Path) -> None:
    text = (project / "smbyo.yaml").read_text().replace("  timeout_seconds: 60", "  timeout_seconds: " + "x" * 5000)
    (message,) = problems(write(project, text))
    assert "(5,002 characters))" in message and len(message) < 400


def test_a_multi_instance_validation_profile_needs_an_algorithm_that_supports_distributed_training(
    project: Path,
) -> None:
    path = edit(project, lambda data: data["validation"].update(instance_count=3))
    (message,) = problems(path)
    assert "validation.instance_count: 3 instances, but training.supports_distributed is false" in message


def test_a_distributed_algorithm_is_validated_on_two_instances_unless_the_profile_says_otherwise(
    project: Path,
) -> None:
    from sm_byo.specs.validation import training_instance_count

    path = edit(project, lambda data: data["training"].update(supports_distributed=True))
    assert training_instance_count(load_manifest(path).manifest) == 2
    path = edit(project, lambda data: data["validation"].update(instance_count=1))
    assert training_instance_count(load_manifest(path).manifest) == 1
    assert training_instance_count(load_manifest(EXAMPLE_DIR / "smbyo.yaml").manifest) == 1


# --- the architecture an image is built for -------------------------------------------------------


def test_an_image_whose_instance_types_need_two_architectures_is_refused(project: Path) -> None:
    path = edit(project, lambda d: d["training"].update(instance_types=["ml.m5.large", "ml.c7g.xlarge"]))
    (message,) = problems(path)
    assert "training.instance_types[1]: 'ml.c7g.xlarge' runs arm64 images but training.instance_types[0]" in message
    assert "the training image is built for one architecture" in message


def test_the_refusal_stops_a_dry_run_publish_with_exit_2(project: Path) -> None:
    path = edit(project, lambda d: d["inference"].update(realtime_instance_types=["ml.m5.large", "ml.m7g.large"]))
    result = run_cli("publish", "algorithm", "--dry-run", "-f", str(path))
    assert result.returncode == 2, result.stderr
    assert "inference.realtime_instance_types[1]: 'ml.m7g.large' runs arm64 images" in result.stderr


def test_one_image_for_graviton_serving_and_x86_training_is_told_to_split(project: Path) -> None:
    def one_image_graviton_endpoints(data: dict) -> None:  # type: ignore[type-arg]
        del data["image"]["inference"]
        data["inference"]["realtime_instance_types"] = ["ml.c7g.xlarge"]

    (message,) = problems(edit(project, one_image_graviton_endpoints))
    assert "'ml.c7g.xlarge' runs arm64 images" in message and "or serve from image.inference" in message


def test_each_image_is_built_for_the_architecture_of_its_instance_types(project: Path) -> None:
    def graviton_serving(data: dict) -> None:  # type: ignore[type-arg]
        data["inference"].update(transform_instance_types=["ml.c7g.xlarge"], realtime_instance_types=["ml.m6g.large"])
        data["validation"]["transform_instance_type"] = "ml.c6g.xlarge"

    manifest = load_manifest(edit(project, graviton_serving)).manifest
    assert image_platform(manifest, "training") == "linux/amd64"
    assert image_platform(manifest, "inference") == "linux/arm64"
    assert image_platform(load_manifest(EXAMPLE_DIR / "smbyo.yaml").manifest, "inference") == "linux/amd64"


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [("ml.m5.large", "amd64"), ("ml.g4dn.xlarge", "amd64"), ("ml.inf2.xlarge", "amd64"), ("ml.c7g.2xlarge", "arm64"),
     ("ml.m6gd.large", "arm64"), ("ml.g5g.xlarge", "arm64"), ("ml.t4g.medium", "arm64"), ("ml.r7g.large", "arm64")],
)  # fmt: skip
def test_graviton_families_are_arm64_and_the_others_amd64(instance_type: str, architecture: str) -> None:
    assert instance_architecture(instance_type) == architecture
