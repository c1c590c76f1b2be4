"""Rendering the build context: complete, executable bits kept, atomic on error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

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
    with pytest.raises(FileNotFoundError):
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
