"""``smbyo build``: render the build context and build the image with docker-py."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sm_byo.docker import DockerAdapter, connect
from sm_byo.manifest import LoadedManifest, image_platform
from sm_byo.render import render_context
from sm_byo.reporting import Reporter
from sm_byo.specs.names import local_image_tag, role_tag

INSTRUCTION_WIDTH = 72


@dataclass
class BuildResult:
    image_id: str
    tag: str
    # The platform the image was built for (linux/amd64 or linux/arm64): the one its instance types need.
    platform: str
    size_bytes: int
    seconds: float
    layers: list[dict[str, Any]]
    # With image.inference: the serve-only image, built from the same Dockerfile after this (training) one.
    inference: BuildResult | None = None

    def to_dict(self) -> dict[str, Any]:
        result = {
            "image_id": self.image_id,
            "tag": self.tag,
            "platform": self.platform,
            "size_bytes": self.size_bytes,
            "seconds": round(self.seconds, 2),
            "cached_layers": sum(1 for layer in self.layers if layer["cached"]),
            "layers": self.layers,
        }
        if self.inference is not None:
            result["inference"] = self.inference.to_dict()
        return result

    def human_view(self) -> dict[str, Any]:
        """The layers table with each instruction cut to one short line: the build log has just shown
        them whole, and a long RUN would otherwise fill the screen (--json keeps them whole)."""
        layers = [{**layer, "instruction": shorten(str(layer["instruction"]))} for layer in self.layers]
        view = {**self.to_dict(), "layers": layers}
        if self.inference is not None:
            # One line: the training target's build above has already listed every stage, the inference ones too.
            view["inference"] = {key: value for key, value in self.inference.to_dict().items() if key != "layers"}
        return view


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
    """Render into a temporary context and build it (both images with ``image.inference``: ``tag`` for
    training, ``<tag>-inference`` for serving); the daemon is checked before any work."""
    adapter = docker or connect()
    tag = tag or local_image_tag(loaded.manifest)
    split = loaded.manifest.image.inference is not None
    with tempfile.TemporaryDirectory(prefix="smbyo-build-") as scratch:
        context = render_context(loaded, Path(scratch) / "context", base_image=base_image, ca_bundle=ca_bundle)
        source = base_image or loaded.manifest.image.base
        # The one image is the Dockerfile's last stage; split, each role is its own target of one
        # Dockerfile, so the stages they share (system layer, venv with smbyo's runtime) build once.
        build = _Build(adapter, context.path, reporter, network, no_cache)
        manifest = loaded.manifest
        result = build.run(tag, "training" if split else None, source, image_platform(manifest, "training"))
        if split:
            inference_tag = role_tag(tag, "inference", manifest)
            result.inference = build.run(inference_tag, "inference", source, image_platform(manifest, "inference"))
    return result


@dataclass(frozen=True)
class _Build:
    """One rendered context, built once per target."""

    adapter: DockerAdapter
    context: Path
    reporter: Reporter
    network: str | None
    no_cache: bool

    def run(self, tag: str, target: str | None, source: str, platform: str) -> BuildResult:
        started = time.monotonic()
        role = f" ({target} image)" if target else ""
        self.reporter.step(f"Building {tag}{role} for {platform} from {source}")
        outcome = self.adapter.build(
            self.context, tag, self.reporter, network_mode=self.network, no_cache=self.no_cache, target=target,
            platform=platform,
        )  # fmt: skip
        info = self.adapter.inspect_image(tag)
        return BuildResult(
            image_id=outcome.image_id,
            tag=tag,
            platform=platform,
            size_bytes=int(info.get("Size", 0)),
            seconds=time.monotonic() - started,
            layers=outcome.layers(),
        )
