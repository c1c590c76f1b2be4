"""Rendering the build context: complete, executable bits kept, atomic on error."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from sm_byo.container import DOCKERFILE_FILTERS, UnsafeValue
from sm_byo.errors import UsageError
from sm_byo.manifest import load_manifest
from sm_byo.render import RenderError, render_context, render_tree
from tests.conftest import EXAMPLE_DIR, run_cli


def test_context_has_every_container_file(tmp_path: Path) -> None:
    context = render_context(load_manifest(EXAMPLE_DIR / "smbyo.yaml"), tmp_path / "build")
    assert {
        "Dockerfile",
        "smbyo/nginx.conf",
        "smbyo/wsgi.py",
        "smbyo/gunicorn_conf.py",
        "smbyo/spec.json",
        "smbyo/smbyo_runtime/serving.py",
        "smbyo/smbyo_runtime/training.py",
        "program/train",
        "program/serve",
        "code/train.py",
        "code/predictor.py",
        "requirements.txt",
    } <= set(context.files)
    for entrypoint in ("train", "serve"):
        assert os.access(tmp_path / "build" / "program" / entrypoint, os.X_OK)


def test_spec_carries_the_manifest_for_the_runtime(tmp_path: Path) -> None:
    render_context(load_manifest(EXAMPLE_DIR / "smbyo.yaml"), tmp_path / "build")
    spec = json.loads((tmp_path / "build" / "smbyo" / "spec.json").read_text())
    assert spec["hyperparameters"][0]["name"] == "max_leaf_nodes"
    assert "max_payload_bytes" not in spec["serving"]  # the body limit is decided at start (runtime.payload)
    assert spec["code"] == {"train": "train.py", "predict": "predictor.py"}


def test_nginx_conf_leaves_the_body_limit_to_the_per_start_server_conf(tmp_path: Path) -> None:
    render_context(load_manifest(EXAMPLE_DIR / "smbyo.yaml"), tmp_path / "build")
    nginx = (tmp_path / "build" / "smbyo" / "nginx.conf").read_text()
    directives = [line.split("#")[0] for line in nginx.splitlines()]
    assert not any("client_max_body_size" in line or "@too_large" in line for line in directives)
    assert "include /tmp/smbyo/server.conf;" in nginx


def test_dockerfile_orders_dependencies_before_code_and_labels_bind_to_port(tmp_path: Path) -> None:
    render_context(load_manifest(EXAMPLE_DIR / "smbyo.yaml"), tmp_path / "build", base_image="debian:bookworm")
    dockerfile = (tmp_path / "build" / "Dockerfile").read_text()
    assert dockerfile.index("pip install") < dockerfile.index("COPY code/")
    assert "FROM debian:bookworm AS base" in dockerfile
    assert "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true" in dockerfile
    assert "PIP_CERT" not in dockerfile  # no --ca-bundle: no CA step


def test_ca_bundle_is_used_only_in_the_build_stage(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    render_context(load_manifest(EXAMPLE_DIR / "smbyo.yaml"), tmp_path / "build", ca_bundle=bundle)
    dockerfile = (tmp_path / "build" / "Dockerfile").read_text()
    final_stage = dockerfile[dockerfile.rindex("\nFROM ") :]
    assert "COPY smbyo-ca.pem" in dockerfile and "smbyo-ca.pem" not in final_stage
    assert (tmp_path / "build" / "smbyo-ca.pem").read_text() == bundle.read_text()


def test_ca_bundle_that_is_not_pem_is_a_usage_error(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    result = run_cli(
        "render", "-f", str(EXAMPLE_DIR / "smbyo.yaml"), "-o", str(tmp_path / "b"), "--ca-bundle", str(bundle)
    )
    assert result.returncode == 2
    assert "no PEM certificate" in result.stderr


def test_template_error_names_the_template_and_variable(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "b.txt.j2").write_text("broken {{ missing_variable }}\n")
    with pytest.raises(RenderError, match=r"b\.txt\.j2.*missing_variable"):
        render_tree(templates, tmp_path / "out", {})


def test_failed_render_keeps_the_previous_output_and_no_staging(project: Path) -> None:
    loaded = load_manifest(project / "smbyo.yaml")
    dest = project / "build"
    render_context(loaded, dest)
    before = sorted(p.name for p in dest.rglob("*"))
    (project / "predictor.py").unlink()  # vanishes between validation and rendering
    with pytest.raises(UsageError, match=r"predictor\.py does not exist"):
        render_context(loaded, dest)
    assert sorted(p.name for p in dest.rglob("*")) == before
    assert [p.name for p in project.iterdir() if p.name.startswith(".build.")] == []


def test_render_command_writes_build_next_to_the_manifest(project: Path) -> None:
    result = run_cli("--json", "render", "-f", str(project / "smbyo.yaml"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"] == str(project / "build")
    assert (project / "build" / "Dockerfile").is_file()


def test_init_scaffolds_a_valid_project(tmp_path: Path) -> None:
    result = run_cli("--json", "init", str(tmp_path / "algo"), "--name", "my-algo")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert {"smbyo.yaml", "train.py", "predictor.py", "requirements.txt", "payload.csv"} <= set(created["files"])
    assert load_manifest(tmp_path / "algo" / "smbyo.yaml").manifest.name == "my-algo"


def test_init_refuses_a_non_empty_directory_and_bad_names(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    assert run_cli("init", str(tmp_path / "taken")).returncode == 2
    bad = run_cli("init", str(tmp_path / "new"), "--name", "bad_name")
    assert bad.returncode == 2 and "not a valid SageMaker name" in bad.stderr


def test_build_packages_stay_in_the_build_stage(project: Path, tmp_path: Path) -> None:
    manifest = project / "smbyo.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            "  requirements: requirements.txt", "  requirements: requirements.txt\n  build_packages: [build-essential]"
        )
    )
    render_context(load_manifest(manifest), tmp_path / "build")
    dockerfile = (tmp_path / "build" / "Dockerfile").read_text()
    final_stage = dockerfile[dockerfile.rindex("\nFROM ") :]
    assert "build-essential" in dockerfile and "build-essential" not in final_stage


def test_rendered_directory_has_the_usual_mode_not_the_staging_one(tmp_path: Path) -> None:
    render_context(load_manifest(EXAMPLE_DIR / "smbyo.yaml"), tmp_path / "build")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "build").stat().st_mode & 0o777 == 0o777 & ~umask


# --- render -o replaces only what smbyo rendered ------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_render_refuses_a_directory_of_user_files_and_keeps_every_file(project: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / ".git" / "objects").mkdir(parents=True)
    (mine / ".git" / "objects" / "ab").write_bytes(b"object")
    (mine / "notes.txt").write_text("keep me")
    before = _tree(mine)
    result = run_cli("render", "-f", str(project / "smbyo.yaml"), "-o", str(mine))
    assert result.returncode == 2, result.stderr
    assert str(mine) in result.stderr and ".smbyo-render" in result.stderr
    assert "new or empty directory" in result.stderr  # the fix
    assert _tree(mine) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".mine")] == []  # no staging left


def test_render_dot_in_a_project_keeps_the_project(project: Path) -> None:
    """`render -o .` once deleted the project it was run in, .git included."""
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    before = _tree(project)
    result = run_cli("render", "-o", ".", cwd=project)
    assert result.returncode == 2, result.stderr
    assert _tree(project) == before


def test_rerendering_replaces_an_earlier_render_whole(project: Path) -> None:
    loaded = load_manifest(project / "smbyo.yaml")
    dest = project / "build"
    render_context(loaded, dest)
    (dest / "stale.txt").write_text("from an earlier render")  # replaced with the rest
    context = render_context(loaded, dest)
    assert not (dest / "stale.txt").exists()
    assert (dest / "Dockerfile").is_file() and (dest / ".smbyo-render").is_file()
    assert ".smbyo-render" not in context.files
    assert sorted(p.name for p in project.iterdir() if p.name.startswith(".build")) == []  # nothing set aside
    result = run_cli("render", "-f", str(project / "smbyo.yaml"))  # the CLI's default, twice
    assert result.returncode == 0, result.stderr


def test_render_into_an_empty_directory_is_fine(project: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    render_context(load_manifest(project / "smbyo.yaml"), tmp_path / "empty")
    assert (tmp_path / "empty" / "Dockerfile").is_file()


def test_a_marker_that_is_a_link_does_not_make_a_directory_replaceable(project: Path, tmp_path: Path) -> None:
    earlier = tmp_path / "earlier"
    render_context(load_manifest(project / "smbyo.yaml"), earlier)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "precious.txt").write_text("keep me")
    (mine / ".smbyo-render").symlink_to(earlier / ".smbyo-render")
    with pytest.raises(UsageError, match="did not render"):
        render_context(load_manifest(project / "smbyo.yaml"), mine)
    assert (mine / "precious.txt").read_text() == "keep me"


# --- user code stays inside the project ---------------------------------------------------------------


def _with_include(project: Path, *entries: str) -> Path:
    manifest = project / "smbyo.yaml"
    listed = ", ".join(entries)
    manifest.write_text(
        manifest.read_text().replace("  predict: predictor.py\n", f"  predict: predictor.py\n  include: [{listed}]\n")
    )
    return manifest


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    """Stands in for ~/.aws: outside the project, never to be copied."""
    directory = tmp_path / "home" / ".aws"
    directory.mkdir(parents=True)
    (directory / "credentials").write_text("[default]\naws_secret_access_key = SECRET\n")
    return directory


def _render_fails(manifest: Path, out: Path, *needles: str) -> None:
    result = run_cli("render", "-f", str(manifest), "-o", str(out))
    assert result.returncode == 2, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert not out.exists()  # nothing rendered, so no credentials in any build context


def test_an_include_that_is_a_link_out_of_the_project_is_refused(
    project: Path, secrets_dir: Path, tmp_path: Path
) -> None:
    (project / "helpers").symlink_to(secrets_dir)
    _render_fails(
        _with_include(project, "helpers"), tmp_path / "out", "code.include[0]", "through a link", str(secrets_dir)
    )


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_link_out_of_the_project_inside_an_included_directory_is_refused(
    project: Path, secrets_dir: Path, tmp_path: Path, kind: str
) -> None:
    (project / "helpers" / "deep").mkdir(parents=True)
    (project / "helpers" / "util.py").write_text("X = 1\n")
    link = project / "helpers" / "deep" / "creds"
    link.symlink_to(secrets_dir / "credentials" if kind == "file" else secrets_dir)
    _render_fails(
        _with_include(project, "helpers"), tmp_path / "out", "code.include[0]", str(link), "outside the project"
    )


@pytest.mark.parametrize("entry", ["../outside.py", "helpers/../../outside.py"])
def test_dotdot_paths_out_of_the_project_are_refused(project: Path, tmp_path: Path, entry: str) -> None:
    (project / "helpers").mkdir()
    (project.parent / "outside.py").write_text("SECRET = 1\n")
    _render_fails(_with_include(project, entry), tmp_path / "out", "code.include[0]", "outside the project directory")


@pytest.mark.parametrize("field", ["train.py", "requirements.txt"])
def test_a_named_file_that_links_out_of_the_project_is_refused(
    project: Path, secrets_dir: Path, tmp_path: Path, field: str
) -> None:
    (project / field).unlink()
    (project / field).symlink_to(secrets_dir / "credentials")
    _render_fails(project / "smbyo.yaml", tmp_path / "out", "through a link", str(secrets_dir / "credentials"))


def test_links_that_stay_in_the_project_are_copied_as_files(project: Path, tmp_path: Path) -> None:
    (project / "common").mkdir()
    (project / "common" / "shared.py").write_text("SHARED = 1\n")
    (project / "helpers").mkdir()
    (project / "helpers" / "shared").symlink_to("../common")  # through '..', but inside the project
    (project / "helpers" / "alias.py").symlink_to(project / "common" / "shared.py")
    render_context(load_manifest(_with_include(project, "helpers")), tmp_path / "out")
    code = tmp_path / "out" / "code" / "helpers"
    assert (code / "shared" / "shared.py").read_text() == "SHARED = 1\n"
    assert (code / "alias.py").read_text() == "SHARED = 1\n" and not (code / "alias.py").is_symlink()


@pytest.mark.parametrize("kind", ["loop", "dangling", "fifo"])
def test_loops_dangling_links_and_fifos_in_an_include_are_refused(project: Path, tmp_path: Path, kind: str) -> None:
    helpers = project / "helpers"
    (helpers / "sub").mkdir(parents=True)
    if kind == "loop":
        (helpers / "sub" / "again").symlink_to("..")  # copying it would never end
    elif kind == "dangling":
        (helpers / "sub" / "gone.py").symlink_to(project / "no-such-file.py")
    else:
        os.mkfifo(helpers / "sub" / "pipe")  # reading it would block the render forever
    loaded = load_manifest(_with_include(project, "helpers"))
    with pytest.raises(UsageError, match=r"code\.include\[0\]"):
        render_context(loaded, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_example_code_is_the_code_smbyo_init_writes() -> None:
    """The example's code files are copies (a link out of the project is refused), kept equal to the scaffold's."""
    templates = EXAMPLE_DIR.parent.parent / "sm_byo" / "templates" / "project"
    for name in ("train.py", "predictor.py", "requirements.txt"):
        assert not (EXAMPLE_DIR / name).is_symlink(), name
        assert (EXAMPLE_DIR / name).read_bytes() == (templates / name).read_bytes(), name


# --- nothing a value holds can add an instruction or run shell ----------------------------------------------

WORST_DESCRIPTION = "end\\ \" ${HOME} $(id) `id` ' && echo pwned; \u2028 # RUN id \\"
WORST_PACKAGES = ["g++", "libc6=2.36-9+deb12u4", "nginx=1:1.22.1~rc1", "a-b.c+d"]


def instructions(dockerfile: str) -> list[str]:
    """The Dockerfile's instructions as Docker's parser reads them: lines split at \\n only, comment lines
    dropped, a line ending in a backslash continued by the next."""
    logical: list[str] = []
    current = ""
    for line in dockerfile.split("\n"):
        if line.lstrip().startswith("#") or (not current and not line.strip()):
            continue
        if line.endswith("\\"):
            current += line[:-1]
            continue
        logical.append(current + line)
        current = ""
    assert not current, "a continuation runs off the end"
    return logical


def label_values(instruction: str) -> dict[str, str]:
    """key="value" pairs of a LABEL, unescaped as Docker does inside double quotes (\\", \\\\ and \\$)."""
    pairs = re.findall(r'([\w.-]+)=(?:"((?:[^"\\]|\\.)*)"|(\S+))', instruction.removeprefix("LABEL "))
    return {key: re.sub(r"\\([\"\\$])", r"\1", quoted) if quoted or not bare else bare for key, quoted, bare in pairs}


SPLIT = "  inference:\n    requirements: requirements-inference.txt\n"


def _worst_manifest(project: Path) -> Path:
    manifest = project / "smbyo.yaml"
    text = manifest.read_text().replace(
        "description: Decision trees using scikit-learn (Iris CSV, label in column 0)",
        f"description: {json.dumps(WORST_DESCRIPTION, ensure_ascii=False)}",
    )
    text = text.replace(
        "  requirements: requirements.txt",
        f"  requirements: requirements.txt\n  system_packages: {json.dumps(WORST_PACKAGES)}\n"
        f"  build_packages: {json.dumps(WORST_PACKAGES[:2])}",
    )
    text = text.replace(
        "  base: python:3.12-slim-bookworm", "  base: localhost:5000/a__b/c-d:v1.0_x@sha256:" + "a" * 64
    )
    manifest.write_text(text)
    return manifest


def test_the_worst_values_that_pass_validation_add_no_instruction(project: Path, tmp_path: Path) -> None:
    manifest = project / "smbyo.yaml"  # one image: the system packages go to its system layer
    manifest.write_text(manifest.read_text().replace(SPLIT, ""))
    default = render_context(load_manifest(manifest), tmp_path / "default")
    loaded = load_manifest(_worst_manifest(project))
    assert "\u2028" in loaded.manifest.description  # YAML keeps it (and trims the spaces around it)
    worst = render_context(loaded, tmp_path / "worst")
    plain = instructions((default.path / "Dockerfile").read_text())
    hostile = instructions((worst.path / "Dockerfile").read_text())
    builder = next(i for i, line in enumerate(hostile) if line.startswith("FROM base AS builder"))
    # The same instructions, plus the build-packages RUN the default manifest has none of.
    assert [line.split()[0] for line in hostile] == [line.split()[0] for line in plain[: builder + 1]] + ["RUN"] + [
        line.split()[0] for line in plain[builder + 1 :]
    ]
    assert hostile[0] == "FROM localhost:5000/a__b/c-d:v1.0_x@sha256:" + "a" * 64 + " AS base"
    label = next(line for line in hostile if line.startswith("LABEL "))
    assert label_values(label)["org.opencontainers.image.description"] == loaded.manifest.description
    system = next(line for line in hostile if "set -- nginx" in line)
    assert shlex.split(system.split("set -- ", 1)[1].split(";", 1)[0]) == ["nginx", *WORST_PACKAGES]
    build = hostile[builder + 1]
    assert shlex.split(build.split("--no-install-recommends ", 1)[1].split(" && ", 1)[0]) == WORST_PACKAGES[:2]


def test_a_manifest_file_name_with_a_newline_stays_in_its_comment(project: Path, tmp_path: Path) -> None:
    named = project / "evil\nRUN id\n.yaml"
    named.write_text((project / "smbyo.yaml").read_text())
    render_context(load_manifest(named), tmp_path / "build")
    dockerfile = (tmp_path / "build" / "Dockerfile").read_text()
    assert dockerfile.startswith("# Rendered by smbyo ") and "from evil?RUN id?.yaml" in dockerfile.split("\n")[0]
    assert not any(line.startswith("RUN id") for line in instructions(dockerfile))


@pytest.mark.parametrize(
    ("filter_name", "value"),
    [
        ("label", "a\nRUN id"),
        ("label", "a\rb"),
        ("shell_words", ["curl", "x\nRUN id"]),
        ("image_reference", "debian:12\nRUN id"),
        ("image_reference", "debian:12 AS x"),
        ("image_reference", "$(id)"),
    ],
)
def test_the_dockerfile_filters_refuse_what_they_cannot_hold(filter_name: str, value: object) -> None:
    with pytest.raises(UnsafeValue):
        DOCKERFILE_FILTERS[filter_name](value)


def test_the_dockerfile_filters_escape_what_they_can() -> None:
    assert DOCKERFILE_FILTERS["label"]('a "b" \\ $HOME') == 'a \\"b\\" \\\\ \\$HOME'
    assert DOCKERFILE_FILTERS["shell_words"](["g++", "a b", "it's"]) == "g++ 'a b' 'it'\"'\"'s'"
    assert DOCKERFILE_FILTERS["comment"]("a\nb\x00c\u2028d") == "a?b?c\u2028d"


def test_a_base_image_flag_that_passes_the_cli_check_only_reaches_from(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="the base image 'debian AS x' is not a Docker image reference"):
        render_context(load_manifest(EXAMPLE_DIR / "smbyo.yaml"), tmp_path / "build", base_image="debian AS x")


@pytest.mark.parametrize("base_image", ["debian:12\nRUN id", "debian AS evil", "$(id)", "Debian"])
def test_the_base_image_flag_is_checked_and_named(tmp_path: Path, base_image: str) -> None:
    for command in ("render", "build"):
        where = ["-o", str(tmp_path / "b")] if command == "render" else ["--tag", "x:y"]
        result = run_cli(command, "-f", str(EXAMPLE_DIR / "smbyo.yaml"), "--base-image", base_image, *where)
        assert result.returncode == 2, result.stderr
        assert "Invalid value for '--base-image'" in result.stderr and "Docker image reference" in result.stderr
    assert not (tmp_path / "b").exists()


# --- paths: a file where a directory belongs is a usage error naming the path ------------------------------


def test_render_to_an_existing_file_is_a_usage_error_and_keeps_the_file(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    for output in (target, target / "build"):
        result = run_cli("render", "-f", str(EXAMPLE_DIR / "smbyo.yaml"), "-o", str(output))
        assert result.returncode == 2, result.stderr
        assert f"-o/--output {output}" in result.stderr and "is an existing file, not a directory" in result.stderr
        assert "Traceback" not in result.stderr
    assert target.read_text() == "mine" and [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_init_on_an_existing_file_is_a_usage_error_and_keeps_the_file(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    for directory in (target, target / "algo"):
        result = run_cli("init", str(directory))
        assert result.returncode == 2, result.stderr
        assert f"{directory} is not a directory" in result.stderr and "Traceback" not in result.stderr
    assert target.read_text() == "mine"


def test_schema_to_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("schema", "-o", str(tmp_path))
    assert result.returncode == 2 and f"-o/--output {tmp_path}: cannot write it" in result.stderr
