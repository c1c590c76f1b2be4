"""Reading what a container wrote, without trusting it.

A training container runs as root with its /opt/ml tree mounted read-write, and any ``--image`` can
run, so every path in the tree is the container's to shape: a file can become a symbolic link to a
host file, a directory a link to a host directory, a regular file a FIFO that blocks whoever opens
it. The host therefore opens paths in the tree one component at a time, relative to a directory it
already holds open, never following a symbolic link (``O_NOFOLLOW``, also for every directory on the
way) and never blocking (``O_NONBLOCK``), and checks what it got (``fstat``) before using it. Symbolic
links are never followed, whatever they point to.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def kind(mode: int) -> str:
    """What a file is, in words, for messages."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device file"


def open_directory(path: Path) -> int:
    """A descriptor of the directory ``path`` (its last component not followed if it is a link)."""
    return os.open(path, DIRECTORY_FLAGS)


class UnexpectedFile(OSError):
    """What is at a path in the tree is not what the host expects there (``kind``: what it is)."""

    def __init__(self, relative: str, found: str):
        super().__init__(f"{relative} is {found}")
        self.relative, self.found = relative, found


def open_below(
    directory_fd: int, relative: str, flags: int, expect: Callable[[os.stat_result], bool] | None = None
) -> int:
    """Open ``relative`` under the open directory, component by component, following no link.

    Raises OSError: ELOOP or ENOTDIR where a component is a link or not a directory, ENOENT where it
    is missing. ``flags`` apply to the last component (``O_NOFOLLOW`` is always added). ``expect``
    checks the last component before it is opened (lstat: a device must not even be opened) and again
    after (fstat: it may have been swapped in between); UnexpectedFile when it says no.
    """
    parts = PurePosixPath(relative).parts
    if not parts or any(part in ("", ".", "..") for part in parts) or PurePosixPath(relative).is_absolute():
        raise ValueError(f"not a plain relative path: {relative!r}")
    current = directory_fd
    opened: list[int] = []
    try:
        for part in parts[:-1]:
            current = os.open(part, DIRECTORY_FLAGS, dir_fd=current)
            opened.append(current)
        if expect is not None:
            before = os.stat(parts[-1], dir_fd=current, follow_symlinks=False)
            if not expect(before):
                raise UnexpectedFile(relative, kind(before.st_mode))
        descriptor = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=current)
        if expect is not None:
            after = os.fstat(descriptor)
            if not expect(after):
                os.close(descriptor)
                raise UnexpectedFile(relative, kind(after.st_mode))
        return descriptor
    finally:
        for descriptor in opened:
            os.close(descriptor)


def is_regular_file(status: os.stat_result) -> bool:
    return stat.S_ISREG(status.st_mode)


@contextlib.contextmanager
def opened(descriptor: int) -> Iterator[int]:
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def read_regular_file(root: Path, relative: str, limit: int) -> bytes | None:
    """At most ``limit`` bytes of the regular file ``relative`` under ``root``; None when there is no
    regular file there (missing, or a link, FIFO, device or directory in its place, or on the way)."""
    try:
        with (
            opened(open_directory(root)) as root_fd,
            opened(open_below(root_fd, relative, FILE_FLAGS, is_regular_file)) as fd,
        ):
            chunks: list[bytes] = []
            remaining = limit
            while remaining > 0:
                chunk = os.read(fd, remaining)
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            return b"".join(chunks)
    except OSError:
        return None


def entries(root: Path, relative: str) -> list[str] | None:
    """The names in the directory ``relative`` under ``root`` (none when it is missing); None when
    something else is there: a file, or a link on the way."""
    try:
        with opened(open_directory(root)) as root_fd, opened(open_below(root_fd, relative, DIRECTORY_FLAGS)) as fd:
            return sorted(os.listdir(fd))
    except FileNotFoundError:
        return []
    except OSError:
        return None
