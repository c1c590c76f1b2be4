"""Rendering the build context: container templates + runtime + user code, written atomically.

Templates use StrictUndefined (a missing variable is an error, never an empty string), keep their
trailing newline and their executable bits (``train``/``serve``). Output is assembled in a sibling
temporary directory and moved into place only when complete, so an error leaves nothing half-written.

The output directory is replaced whole, so it must be one smbyo rendered (it carries the marker file
:data:`RENDER_MARKER`), an empty directory, or a new path: anything else is refused (exit 2), since
``render -o .`` would otherwise delete a project. User code is copied with every path resolved: a file
or a symbolic link (at any depth of an included directory) that leads out of the project is refused,
so a ``helpers -> ~/.aws`` link cannot carry credentials into the build context and the image.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
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
# Written into every rendered directory: only a directory holding it is ever replaced by a render.
RENDER_MARKER = ".smbyo-render"
MARKER_TEXT = "smbyo rendered this directory; `smbyo render` replaces it whole (your own files do not belong here).\n"
# Not copied from an included directory (build leftovers and hidden files).
IGNORED_CODE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


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
    entries = [("code.train", code.train if loaded.manifest.training else None), ("code.predict", code.predict)]
    entries += [(f"code.include[{index}]", entry) for index, entry in enumerate(code.include)]
    target_root = dest / "code"
    target_root.mkdir(parents=True, exist_ok=True)
    root = loaded.root.resolve()
    for field, entry in entries:
        if not entry:
            continue
        source = loaded.resolve(entry)
        target = target_root / source.relative_to(loaded.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_inside(source, target, _CodeEntry(field, entry, root), frozenset())


@dataclass(frozen=True)
class _CodeEntry:
    """What is being copied (a manifest field and its value), for messages, and the project it must stay in."""

    field: str
    value: str
    root: Path

    def refuse(self, path: Path, why: str) -> UsageError:
        return UsageError(
            f"{self.field} {self.value!r}: {path} {why}",
            hint="Keep the code, and everything its links point to, inside the project directory "
            f"{self.root}: copy the files in (a link out of the project would copy what it points to into "
            "the image), or remove the link.",
        )


def _first_link(path: Path, root: Path) -> Path | None:
    """The first component of ``path`` under ``root`` that is a symbolic link (what a message names)."""
    current = root
    for part in path.relative_to(root).parts if path.is_relative_to(root) else ():
        current = current / part
        if current.is_symlink():
            return current
    return None


def _copy_inside(source: Path, target: Path, entry: _CodeEntry, visiting: frozenset[Path]) -> None:
    """Copy ``source`` (a file or a directory tree) to ``target``, following links only while they stay in
    the project; a link out of it, a dangling link, a link loop or a special file is refused."""
    try:
        real = source.resolve(strict=True)
    except FileNotFoundError:
        why = "is a dangling symbolic link" if source.is_symlink() else "does not exist (any more)"
        raise entry.refuse(source, why) from None
    except (OSError, RuntimeError):  # ELOOP; Python 3.11 raises RuntimeError for a loop
        raise entry.refuse(source, "is a symbolic link loop") from None
    if not real.is_relative_to(entry.root):
        link = _first_link(source, entry.root) or source
        raise entry.refuse(
            link, f"is a symbolic link to {os.readlink(link) if link.is_symlink() else real}, outside the project"
        )
    mode = real.stat().st_mode
    if stat.S_ISREG(mode):
        shutil.copy2(real, target)
    elif stat.S_ISDIR(mode):
        if real in visiting:
            raise entry.refuse(source, f"is a symbolic link to {real}, a directory that contains it (a loop)")
        target.mkdir(exist_ok=True)
        names = sorted(os.listdir(real))
        ignored = IGNORED_CODE(str(real), names)
        for name in names:
            if name not in ignored:
                _copy_inside(source / name, target / name, entry, visiting | {real})
    else:
        raise entry.refuse(source, "is not a regular file or directory (a FIFO, socket or device)")


def _write_requirements(loaded: LoadedManifest, dest: Path) -> None:
    """requirements.txt (the training image's, or the one image's), and requirements-inference.txt for a
    separate inference image."""
    image = loaded.manifest.image
    _write_requirements_file(loaded, dest / "requirements.txt", "image.requirements", image.requirements)
    inference = loaded.manifest.image.inference
    if inference is not None:
        field = "image.inference.requirements"
        _write_requirements_file(loaded, dest / "requirements-inference.txt", field, inference.requirements)


def _write_requirements_file(loaded: LoadedManifest, target: Path, field: str, requirements: str | None) -> None:
    if requirements:
        entry = _CodeEntry(field, requirements, loaded.root.resolve())
        source = loaded.resolve(requirements)
        if source.is_dir():
            raise entry.refuse(source, "is a directory, not a requirements file")
        _copy_inside(source, target, entry, frozenset())
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


def file_in_the_way(directory: Path) -> Path | None:
    """What stops ``directory`` from being (or becoming) a directory: ``directory`` itself or the
    nearest existing path on the way to it, when that is not a directory. None when nothing does."""
    for path in (directory, *directory.parents):
        if path.exists() or path.is_symlink():
            return None if path.is_dir() else path
    return None


def _check_output(dest: Path) -> None:
    """The output must be a directory (or not exist yet): a file there, or on the way there, is a usage error."""
    path = file_in_the_way(dest)
    if path is not None:
        what = "the output" if path == dest else f"the output's parent {path}"
        raise UsageError(
            f"-o/--output {dest}: {what} is an existing file, not a directory",
            hint="Pass -o with a directory (new, or one smbyo rendered before).",
        )


def _chmod_like_mkdir(directory: Path) -> None:
    """mkdtemp makes the staging directory private (0700); the rendered tree gets the usual mode."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)


def _is_earlier_render(directory: Path) -> bool:
    """``directory`` holds smbyo's marker as a regular file (not a link someone placed)."""
    try:
        with open(directory / RENDER_MARKER, "rb", opener=_no_follow) as marker:
            return marker.read(len(MARKER_TEXT) + 1) == MARKER_TEXT.encode()
    except OSError:
        return False


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)


def _replaceable(dest: Path) -> bool:
    """Whether a directory is at ``dest`` to be replaced (False: nothing there). Only a directory an
    earlier render wrote (it has the marker), or an empty one, may be replaced: UsageError otherwise."""
    if not os.path.lexists(dest):
        return False
    if not dest.is_dir():
        raise UsageError(
            f"{dest}: not a directory; smbyo renders a build context into a directory",
            hint="Pass -o with a new directory, or one an earlier `smbyo render` wrote.",
        )
    if _is_earlier_render(dest) or not any(dest.iterdir()):
        return True
    raise UsageError(
        f"{dest}: refusing to render into this directory: it holds files smbyo did not render (it has no "
        f"{RENDER_MARKER} marker), and rendering replaces the whole directory",
        hint="Pass -o with a new or empty directory (the default is build/ next to the manifest). If this is "
        "the output of an earlier smbyo render from before the marker existed, delete it yourself once.",
    )


def _move_into_place(staging: Path, dest: Path) -> None:
    """Rename ``staging`` to ``dest``; an earlier render (or empty directory) there is set aside first and
    removed only once the new one is in place (put back if the rename fails)."""
    if not _replaceable(dest):
        staging.rename(dest)
        return
    previous = dest.with_name(f".{dest.name}.previous-{secrets.token_hex(4)}")
    dest.rename(previous)
    try:
        staging.rename(dest)
    except BaseException:
        previous.rename(dest)
        raise
    shutil.rmtree(previous, ignore_errors=True)


def render_context(
    loaded: LoadedManifest, dest: Path, *, base_image: str | None = None, ca_bundle: Path | None = None
) -> BuildContext:
    """Render the full build context into ``dest`` atomically, replacing an earlier render there.

    ``dest`` must be new, empty, or a directory an earlier render wrote (:func:`_replaceable`); the
    context is assembled in a sibling staging directory and renamed into place only when complete.
    """
    _check_ca_bundle(ca_bundle)
    _check_output(dest)
    dest = dest.resolve()
    _replaceable(dest)  # refuse before any work
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _assemble(loaded, staging, base_image, ca_bundle)
        (staging / RENDER_MARKER).write_text(MARKER_TEXT, encoding="utf-8")
        _chmod_like_mkdir(staging)
        _move_into_place(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = tuple(
        sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file() and p.name != RENDER_MARKER)
    )
    return BuildContext(path=dest, files=files)
