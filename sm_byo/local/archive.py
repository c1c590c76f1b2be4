"""model.tar.gz in and out: pack /opt/ml/model, and extract a user's archive, trusting neither.

Packing reads a tree a container wrote (:mod:`sm_byo.local.untrusted`): only regular files and
directories really inside it are packed, opened without following links; symbolic links, FIFOs,
sockets and devices are left out and named, so the caller can warn. SageMaker cannot deploy a
model.tar.gz that holds symbolic links (endpoint creation fails to extract it:
https://repost.aws/knowledge-center/sagemaker-endpoint-creation-fail), so leaving links out loses
nothing a deployment could use. The archive is written under a temporary name beside its final one
and renamed when complete.

A model archive can come from anywhere (a colleague, a bucket), so extraction refuses absolute
paths, ``..`` components, links that point outside the target, and device files, before writing a
single byte. The result is world-readable: the serving container reads it as an unprivileged user.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sm_byo.errors import UsageError
from sm_byo.local.outputs import temporary_beside
from sm_byo.local.untrusted import DIRECTORY_FLAGS, FILE_FLAGS, kind, open_below, open_directory, opened

READABLE_DIR = 0o755
READABLE_FILE = 0o644


@dataclass
class Packed:
    """An archive :func:`pack_directory` wrote, what it left out (``"sub/link: a symbolic link"``), and
    the paths that more than one source held (the first source's copy is the one packed)."""

    path: Path
    files: int = 0
    skipped: list[str] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)
    seen: dict[str, bool] = field(default_factory=dict)  # path -> is a directory


def pack_directory(source: Path, archive: Path, *, root: Path | None = None) -> Packed:
    """``source``'s contents (not the directory itself) into a gzipped tar, as SageMaker packs model/.

    ``root``: a directory the host made that holds ``source`` (default: its parent); every component
    below it is opened without following links, so a container cannot swap a directory on the way for
    a link to a host directory. Only regular files and directories are packed.
    """
    return pack_directories([(root or source.parent, source)], archive)


def pack_directories(sources: list[tuple[Path, Path]], archive: Path) -> Packed:
    """The contents of several ``(root, source)`` directories merged into one gzipped tar.

    A multi-host training job's /opt/ml/model (and output/data) of every host is aggregated into one
    archive; "if multiple containers in a single training job write to this directory they should
    ensure no file/directory names clash"
    (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-output.html). When
    they do clash, the earlier source's file is kept and the clash recorded, so the caller can name it.
    """
    descriptor, partial = temporary_beside(archive)
    packed = Packed(archive)
    try:
        with os.fdopen(descriptor, "wb") as stream, tarfile.open(fileobj=stream, mode="w:gz", compresslevel=6) as tar:
            for root, source in sources:
                _add_source(tar, root, source.relative_to(root).as_posix(), packed)
        os.replace(partial, archive)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    return packed


def _add_source(tar: tarfile.TarFile, root: Path, relative: str, packed: Packed) -> None:
    with opened(open_directory(root)) as root_fd:
        try:
            source_fd = open_below(root_fd, relative, DIRECTORY_FLAGS)
        except OSError as exc:
            if exc.errno != errno.ENOENT:  # a link or a file where the directory should be
                packed.skipped.append(_blocking_component(root_fd, relative))
            return
        with opened(source_fd):
            _add_directory(tar, source_fd, "", packed)


def _blocking_component(directory_fd: int, relative: str) -> str:
    """The first component of ``relative`` that is not a directory, and what it is (``output: a symbolic link``)."""
    parts = relative.split("/")
    current = os.dup(directory_fd)
    try:
        for depth, part in enumerate(parts):
            mode = os.stat(part, dir_fd=current, follow_symlinks=False).st_mode
            if not stat.S_ISDIR(mode):
                return f"{'/'.join(parts[: depth + 1])}: {kind(mode)}"
            following = os.open(part, DIRECTORY_FLAGS, dir_fd=current)
            os.close(current)
            current = following
    except OSError as exc:
        return f"{relative}: {os.strerror(exc.errno or 0)}"
    finally:
        os.close(current)
    return f"{relative}: changed while it was packed"


def _tarinfo(name: str, status: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(status.st_mode)
    info.mtime = int(status.st_mtime)
    info.uid, info.gid = status.st_uid, status.st_gid
    if stat.S_ISDIR(status.st_mode):
        info.type = tarfile.DIRTYPE
    else:
        info.size = status.st_size
    return info


def _add_directory(tar: tarfile.TarFile, directory_fd: int, prefix: str, packed: Packed) -> None:
    """Add every regular file and directory under the open directory; record everything else as skipped.

    Each entry is opened with O_NOFOLLOW (and O_NONBLOCK) and checked with fstat after opening, so an
    entry that changed kind between listing and opening is skipped rather than followed.
    """
    for name in sorted(os.listdir(directory_fd)):
        path = f"{prefix}{name}"
        try:
            mode = os.stat(name, dir_fd=directory_fd, follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                if packed.seen.get(path) is False:  # an earlier source has a file here
                    packed.clashes.append(path)
                    continue
                with opened(os.open(name, DIRECTORY_FLAGS, dir_fd=directory_fd)) as child:
                    if path not in packed.seen:  # a directory several hosts wrote is one entry
                        packed.seen[path] = True
                        tar.addfile(_tarinfo(path, os.fstat(child)))
                    _add_directory(tar, child, f"{path}/", packed)
                continue
            if not stat.S_ISREG(mode):
                packed.skipped.append(f"{path}: {kind(mode)}")
                continue
            if path in packed.seen:
                packed.clashes.append(path)
                continue
            with opened(os.open(name, FILE_FLAGS, dir_fd=directory_fd)) as child:
                status = os.fstat(child)
                if not stat.S_ISREG(status.st_mode):
                    packed.skipped.append(f"{path}: {kind(status.st_mode)}")
                    continue
                with os.fdopen(os.dup(child), "rb") as stream:
                    tar.addfile(_tarinfo(path, status), stream)
                packed.seen[path] = False
                packed.files += 1
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT, errno.ENXIO):
                raise
            packed.skipped.append(f"{path}: changed while it was packed ({os.strerror(exc.errno)})")


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
    try:
        return _leaves_target(member, name, target)
    except (OSError, RuntimeError):  # ELOOP; Python 3.11's Path.resolve raises RuntimeError on a loop
        return "is reached through a symbolic link loop"


def _leaves_target(member: tarfile.TarInfo, name: PurePosixPath, target: Path) -> str | None:
    """Why ``member`` would land, or link, outside ``target`` once the links on disk are followed."""
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
    # KeyError: tarfile on Python 3.12+ looking up a hard link's target that a refused member never made
    except (tarfile.TarError, EOFError, OSError, KeyError) as exc:
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
            if not (Path(directory) / name).is_symlink():  # a link's target is not this tree's to change
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
