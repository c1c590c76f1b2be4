"""Rendering the build context: container templates + runtime + user code, written atomically.

Templates use StrictUndefined (a missing variable is an error, never an empty string), keep their
trailing newline and their executable bits (``train``/``serve``). Output is assembled in a sibling
temporary directory and moved into place only when complete, so an error leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_byo.container import DOCKERFILE_FILTERS, UnsafeValue, container_spec, template_context
from sm_byo.errors import SmByoError, UsageError
from sm_byo.manifest import LoadedManifest

PACKAGE_DIR = Path(__file__).parent
CONTAINER_TEMPLATES = PACKAGE_DIR / "templates" / "container"
RUNTIME_DIR = PACKAGE_DIR / "runtime"
TEMPLATE_SUFFIX = ".j2"


class RenderError(SmByoError):
    """A template could not be rendered (names the template and the problem)."""

    exit_code = 1
    title = "Render failed"


@dataclass(frozen=True)
class BuildContext:
    """A rendered build context on disk."""

    path: Path
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "files": list(self.files)}


def render_tree(source: Path, dest: Path, variables: dict[str, Any]) -> None:
    """Render every ``*.j2`` file under ``source`` into ``dest`` (suffix dropped); copy the rest."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(source)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(DOCKERFILE_FILTERS)  # each value escaped for where it goes (sm_byo.container)
    for template_path in sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        relative = template_path.relative_to(source)
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if template_path.suffix == TEMPLATE_SUFFIX:
            target = target.with_suffix("")
            try:
                text = env.get_template(relative.as_posix()).render(**variables)
            except (jinja2.TemplateError, UnsafeValue) as exc:
                raise RenderError(
                    f"template {relative} could not be rendered: {exc}",
                    hint="This is a bug in smbyo's templates or a manifest value they cannot hold; please report it.",
                ) from exc
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(template_path, target)
        shutil.copymode(template_path, target)


def _copy_runtime(dest: Path) -> None:
    target = dest / "smbyo" / "smbyo_runtime"
    target.mkdir(parents=True, exist_ok=True)
    for module in sorted(RUNTIME_DIR.glob("*.py")):
        shutil.copyfile(module, target / module.name)


def _copy_user_code(loaded: LoadedManifest, dest: Path) -> None:
    """User code keeps its path relative to the manifest, under ``code/`` (→ /opt/program/code)."""
    code = loaded.manifest.code
    entries = [p for p in (code.train if loaded.manifest.training else None, code.predict, *code.include) if p]
    target_root = dest / "code"
    target_root.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        source = loaded.resolve(entry)
        target = target_root / source.relative_to(loaded.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
            )
        else:
            shutil.copy2(source, target)


def _write_requirements(loaded: LoadedManifest, dest: Path) -> None:
    requirements = loaded.manifest.image.requirements
    target = dest / "requirements.txt"
    if requirements:
        shutil.copyfile(loaded.resolve(requirements), target)
    else:
        target.write_text("# no requirements declared in the manifest\n", encoding="utf-8")


def _assemble(loaded: LoadedManifest, dest: Path, base_image: str | None, ca_bundle: Path | None) -> None:
    variables = template_context(
        loaded.manifest, base_image=base_image, ca_bundle=ca_bundle is not None, manifest_file=loaded.path.name
    )
    render_tree(CONTAINER_TEMPLATES, dest, variables)
    spec = json.dumps(container_spec(loaded.manifest), indent=2, sort_keys=True) + "\n"
    (dest / "smbyo" / "spec.json").write_text(spec, encoding="utf-8")
    _copy_runtime(dest)
    _copy_user_code(loaded, dest)
    _write_requirements(loaded, dest)
    if ca_bundle is not None:
        shutil.copyfile(ca_bundle, dest / "smbyo-ca.pem")


def _check_ca_bundle(ca_bundle: Path | None) -> None:
    if ca_bundle is None:
        return
    if not ca_bundle.is_file():
        raise UsageError(f"--ca-bundle {ca_bundle}: file not found", hint="Pass a PEM file of CA certificates.")
    if b"-----BEGIN CERTIFICATE-----" not in ca_bundle.read_bytes():
        raise UsageError(
            f"--ca-bundle {ca_bundle}: no PEM certificate in it",
            hint="Pass a PEM file (text with -----BEGIN CERTIFICATE----- blocks), "
            "e.g. /etc/ssl/certs/ca-certificates.crt.",
        )


def _check_output(dest: Path) -> None:
    """The output must be a directory (or not exist yet): a file there, or on the way there, is a usage error."""
    for path in (dest, *dest.parents):
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                what = "the output" if path == dest else f"the output's parent {path}"
                raise UsageError(
                    f"-o/--output {dest}: {what} is an existing file, not a directory",
                    hint="Pass -o with a directory (new, or one smbyo rendered before).",
                )
            return


def _chmod_like_mkdir(directory: Path) -> None:
    """mkdtemp makes the staging directory private (0700); the rendered tree gets the usual mode."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)


def render_context(
    loaded: LoadedManifest, dest: Path, *, base_image: str | None = None, ca_bundle: Path | None = None
) -> BuildContext:
    """Render the full build context into ``dest`` atomically (replacing what was there)."""
    _check_ca_bundle(ca_bundle)
    _check_output(dest)
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _assemble(loaded, staging, base_image, ca_bundle)
        _chmod_like_mkdir(staging)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = tuple(sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()))
    return BuildContext(path=dest, files=files)
