"""``smbyo build``: render the build context and build the image with docker-py."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_byo.docker import DockerAdapter, connect
from sm_byo.manifest import LoadedManifest
from sm_byo.render import render_context
from sm_byo.reporting import Reporter
from sm_byo.specs.names import local_image_tag

INSTRUCTION_WIDTH = 72


@dataclass
class BuildResult:
    image_id: str
    tag: str
    size_bytes: int
    seconds: float
    layers: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "tag": self.tag,
            "size_bytes": self.size_bytes,
            "seconds": round(self.seconds, 2),
            "cached_layers": sum(1 for layer in self.layers if layer["cached"]),
            "layers": self.layers,
        }

    def human_view(self) -> dict[str, Any]:
        """The layers table with each instruction cut to one short line: the build log has just shown
        them whole, and a long RUN would otherwise fill the screen (--json keeps them whole)."""
        layers = [{**layer, "instruction": shorten(str(layer["instruction"]))} for layer in self.layers]
        return {**self.to_dict(), "layers": layers}


def shorten(text: str, limit: int = INSTRUCTION_WIDTH) -> str:
    """``text`` on one line (runs of whitespace collapsed), cut to ``limit`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def build_image(
    loaded: LoadedManifest,
    reporter: Reporter,
    *,
    tag: str | None = None,
    base_image: str | None = None,
    network: str | None = None,
    ca_bundle: Path | None = None,
    no_cache: bool = False,
    docker: DockerAdapter | None = None,
) -> BuildResult:
    """Render into a temporary context and build it; the daemon is checked before any work."""
    adapter = docker or connect()
    tag = tag or local_image_tag(loaded.manifest)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="smbyo-build-") as scratch:
        context = render_context(loaded, Path(scratch) / "context", base_image=base_image, ca_bundle=ca_bundle)
        reporter.step(f"Building {tag} from {base_image or loaded.manifest.image.base}")
        outcome = adapter.build(context.path, tag, reporter, network_mode=network, no_cache=no_cache)
    info = adapter.inspect_image(tag)
    return BuildResult(
        image_id=outcome.image_id,
        tag=tag,
        size_bytes=int(info.get("Size", 0)),
        seconds=time.monotonic() - started,
        layers=outcome.layers(),
    )
