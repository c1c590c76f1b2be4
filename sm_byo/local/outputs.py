"""Results in a directory the user names (``train --local --out``, ``transform --local --output``).

Each result is written under a temporary name beside its final one (``.<name>.<random>.partial``) and
renamed when complete, so a final name never holds a partial file; a failed job removes its temporary
files. A result replaces an existing file only if smbyo wrote that file: the directory keeps a record,
:data:`RECORD_NAME`, of the names smbyo wrote there (one JSON string per line, added before the rename
that creates the name). Any other file at a result's name is refused before the job starts (exit 2),
so re-running a job replaces its earlier results, as SageMaker's S3 outputs are replaced, and a file
of the user's is never overwritten.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from sm_byo.errors import UsageError

RECORD_NAME = ".smbyo-outputs"
LISTED = 5


def default_file_mode() -> int:
    """The mode ``open()`` would give a new file (mkstemp makes 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def temporary_beside(final: Path) -> tuple[int, Path]:
    """A new empty file (descriptor, path) in ``final``'s directory, under a hidden temporary name."""
    final.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    os.fchmod(descriptor, default_file_mode())
    return descriptor, Path(name)


class OutputDirectory:
    """A directory smbyo writes results into, and its record of the names smbyo wrote there."""

    def __init__(self, path: Path, flag: str):
        self.path = path
        self.flag = flag
        self._recorded: set[str] | None = None
        self._claiming = threading.Lock()  # several writers (a multi-instance transform) share one record

    @property
    def record(self) -> Path:
        return self.path / RECORD_NAME

    def recorded(self) -> set[str]:
        """The names smbyo wrote here (an unreadable or foreign record counts as none)."""
        if self._recorded is None:
            self._recorded = set()
            try:
                lines = self.record.read_text(encoding="utf-8").splitlines() if self.record.is_file() else []
            except (OSError, UnicodeDecodeError):
                lines = []
            for line in lines:
                try:
                    name = json.loads(line)
                except ValueError:
                    continue
                if isinstance(name, str):
                    self._recorded.add(name)
        return self._recorded

    def _replaceable(self, name: str) -> bool:
        """Nothing at ``name``, or a regular file smbyo wrote (a link or a directory in its place is not)."""
        path = self.path / name
        if not os.path.lexists(path):
            return True
        return name in self.recorded() and path.is_file() and not path.is_symlink()

    def refuse_foreign(self, names: Iterable[str]) -> None:
        """UsageError (exit 2) naming the files at these names that smbyo did not write."""
        foreign = [name for name in names if not self._replaceable(name)]
        if not foreign:
            return
        shown = ", ".join(foreign[:LISTED]) + (f" and {len(foreign) - LISTED} more" if len(foreign) > LISTED else "")
        raise UsageError(
            f"{self.flag} {self.path}: refusing to replace {len(foreign)} file(s) smbyo did not write: {shown}",
            hint=f"Move those files away, or pass another {self.flag} (a new or empty directory). smbyo replaces "
            f"only results it wrote itself (it lists them in {self.record}).",
        )

    def claim(self, name: str) -> Path:
        """Record ``name`` as smbyo's (before the rename that creates it) and return its final path."""
        with self._claiming:
            if name not in self.recorded():
                self.path.mkdir(parents=True, exist_ok=True)
                with self.record.open("a", encoding="utf-8") as record:
                    record.write(json.dumps(name) + "\n")
                self.recorded().add(name)
        return self.path / name

    def publish(self, temporary: Path, name: str) -> Path:
        """Move a complete temporary file to its final name."""
        final = self.claim(name)
        os.replace(temporary, final)
        return final

    def set_aside(self, name: str, suffix: str = ".previous") -> Path | None:
        """Rename an earlier result at ``name`` (one this run did not replace) to ``name + suffix``."""
        if not os.path.lexists(self.path / name):
            return None
        aside = self.claim(name + suffix)
        os.replace(self.path / name, aside)
        return aside
