"""model.tar.gz in and out: pack /opt/ml/model, and extract a user's archive without trusting it.

A model archive can come from anywhere (a colleague, a bucket), so extraction refuses absolute
paths, ``..`` components, links that point outside the target, and device files, before writing a
single byte. The result is world-readable: the serving container reads it as an unprivileged user.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from sm_byo.errors import UsageError

READABLE_DIR = 0o755
READABLE_FILE = 0o644


def pack_directory(source: Path, archive: Path) -> Path:
    """``source``'s contents (not the directory itself) into a gzipped tar, as SageMaker packs model/."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
        if source.is_dir():
            for entry in sorted(source.iterdir()):
                tar.add(entry, arcname=entry.name)
    partial.replace(archive)
    return archive


def _unsafe_reason(member: tarfile.TarInfo, target: Path) -> str | None:
    """Why extracting ``member`` under ``target`` would be unsafe, or None when it is fine.

    Paths are resolved against the disk as it is *now*: called just before each member is written, a
    link that an earlier member planted (``a -> .`` then ``a/b -> ..``, a chain) is followed, so a
    chain cannot lead out. This is what Python's ``data`` extraction filter does; smbyo supports
    Pythons that lack it (3.11.2, Debian 12), so the check must not rely on it.
    """
    name = PurePosixPath(member.name)
    if name.is_absolute() or member.name.startswith(("/", "\\")):
        return "has an absolute path"
    if ".." in name.parts:
        return "has a '..' component"
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return "is a device, FIFO or other special file"
    # The member's own name is not followed when it is a link (a link replaces, not writes through).
    parent = (target / member.name).parent.resolve()
    destination = parent / name.name if member.issym() or member.islnk() else (target / member.name).resolve()
    if not destination.is_relative_to(target):
        return "would be written outside the directory"
    if member.issym():
        link_target = (parent / member.linkname).resolve()
        if PurePosixPath(member.linkname).is_absolute() or not link_target.is_relative_to(target):
            return f"is a symbolic link pointing outside the directory ({member.linkname})"
    if member.islnk():
        link_target = (target / member.linkname).resolve()
        if PurePosixPath(member.linkname).is_absolute() or not link_target.is_relative_to(target):
            return f"is a hard link to a file outside the directory ({member.linkname})"
    return None


def _refuse(archive: Path, member: tarfile.TarInfo, reason: str) -> UsageError:
    return UsageError(
        f"{archive}: refusing to extract: member {member.name!r} {reason}",
        hint="A model archive must hold only files and directories under its root "
        "(pack it with `tar -czf model.tar.gz -C model_dir .`).",
    )


def safe_extract(archive: Path, target: Path) -> Path:
    """Extract ``archive`` into ``target`` after checking every member; UsageError names the bad one.

    Every member is checked twice: all of them before the first byte is written (an archive that is
    bad on its face leaves nothing behind), and each again just before it is written, against what
    the earlier members made of the disk (link chains). A refusal half-way removes what this call
    extracted, so a partial model never stays behind.
    """
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    before = set(root.iterdir())
    # Where Python has extraction filters, 'data' adds its own checks on top of ours.
    options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                reason = _unsafe_reason(member, root)
                if reason:
                    raise _refuse(archive, member, reason)
            for member in members:
                reason = _unsafe_reason(member, root)
                if reason:
                    raise _refuse(archive, member, reason)
                tar.extract(member, root, set_attrs=False, **options)  # type: ignore[arg-type]
    except UsageError:
        _remove_new_entries(root, before)
        raise
    except (tarfile.TarError, EOFError, OSError) as exc:
        _remove_new_entries(root, before)
        raise UsageError(
            f"{archive}: not a readable tar.gz archive ({exc})",
            hint="Pass the model.tar.gz written by `smbyo train --local`, or a model directory.",
        ) from exc
    make_readable(root)
    return root


def _remove_new_entries(root: Path, before: set[Path]) -> None:
    """Undo a partial extraction: remove only what was not in ``root`` before this call."""
    for entry in root.iterdir():
        if entry in before:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def make_readable(root: Path) -> None:
    """Let any user read the tree (the serving container drops root before loading the model)."""
    os.chmod(root, READABLE_DIR)
    for directory, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(Path(directory) / name, READABLE_DIR)
        for name in files:
            path = Path(directory) / name
            if not path.is_symlink():
                os.chmod(path, stat.S_IMODE(path.stat().st_mode) | READABLE_FILE)


def model_directory(model: Path, scratch: Path) -> Path:
    """A directory holding the model: ``model`` itself, or ``model.tar.gz`` safely extracted in ``scratch``."""
    if str(model).startswith("s3:/"):
        raise UsageError(
            f"--model {model}: local containers read a local model.tar.gz or directory, not S3",
            hint="Download it first (`aws s3 cp URI model.tar.gz`), or use `smbyo deploy` / a cloud transform.",
        )
    if model.is_dir():
        return model.resolve()
    if model.is_file():
        return safe_extract(model, Path(tempfile.mkdtemp(prefix="model-", dir=scratch)))
    raise UsageError(
        f"--model {model}: no such file or directory",
        hint="Pass the model.tar.gz written by `smbyo train --local --out DIR` (DIR/model.tar.gz) or a directory.",
    )
