"""image.inference: image sizes by role, and a fresh instance's cold start, inference image against combined.

1. **Sizes.** Builds the example three ways on the local base image: split (``image.inference``: the
   training image and the serve-only inference image, one ``build_image`` call) and combined (the same
   manifest without ``image.inference``: one image that trains and serves, what smbyo built before), and
   the classic sample stack (``benchmarks/baseline/``) on the same base twice: as ``serving.py`` builds it
   (its serving stack: flask, gunicorn, numpy, pandas) and as published, with the training libraries its
   one image also carries (scikit-learn, scipy). Prints each image's size and its ratio to the sample's.
2. **Cold start.** What every new endpoint instance and transform instance does: pull the image, then
   ``serve`` until ``/ping`` answers 200. The inference and the combined images are pushed to a local
   registry (Debian's docker-registry, ``tests/aws/registry.py``), the local copies are removed, and then,
   alternately for ``--rounds`` rounds, each is pulled and started on a model its training image trained,
   and removed again. Prints the medians of pull, ``docker run`` -> healthy ``/ping``, and both, with the
   compressed bytes the pull fetched (the registry's manifest, the base layer excluded: it stays cached).

    python3 benchmarks/split_images.py [--rounds 3] [--keep-cache]

Every image is built with ``--no-cache`` unless ``--keep-cache``: a layer identical to one of another image
on the Engine (the example's other builds) would stay behind when the benchmark's copy is removed, and its
pull would cost nothing. The base image's layer does stay (the Engine is shared): it is the same for both
images, and left out of the figures. Needs Docker and docker-registry (Debian: ``apt-get install -y
docker-registry``); removes everything it created at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker
import requests
from serving import BASE_IMAGE, CA_BUNDLE, EXAMPLE, build_baseline, train_model

from tests.aws.registry import Registry, start_registry

SPLIT = "  inference:\n    requirements: requirements-inference.txt\n"
SAMPLE_AS_PUBLISHED = "flask gunicorn numpy scipy scikit-learn pandas"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MB = 1_000_000


@dataclass
class ColdStart:
    pull: list[float] = field(default_factory=list)
    healthy: list[float] = field(default_factory=list)

    def row(self, name: str, fetched: int) -> str:
        pull, healthy = statistics.median(self.pull), statistics.median(self.healthy)
        total = statistics.median(p + h for p, h in zip(self.pull, self.healthy, strict=True))
        runs = ", ".join(f"{p + h:.2f}" for p, h in zip(self.pull, self.healthy, strict=True))
        return f"| {name} | {fetched / MB:.0f} | {pull:.2f} | {healthy:.2f} | {total:.2f} | {runs} |"


def build_example(tag: str, work: Path, *, split: bool, no_cache: bool) -> None:
    from sm_byo.build import build_image
    from sm_byo.manifest import load_manifest
    from sm_byo.reporting import RecordingReporter

    project = work / ("split" if split else "combined")
    shutil.copytree(EXAMPLE, project, symlinks=False)
    if not split:
        manifest = project / "smbyo.yaml"
        manifest.write_text(manifest.read_text().replace(SPLIT, ""))
    print(f"building {tag} ({'training + inference' if split else 'combined'})", file=sys.stderr)
    build_image(
        load_manifest(project / "smbyo.yaml"),
        RecordingReporter(),
        tag=tag,
        base_image=BASE_IMAGE,
        network="host",
        ca_bundle=CA_BUNDLE if CA_BUNDLE.is_file() else None,
        no_cache=no_cache,
    )


def image_size(client: Any, tag: str) -> int:
    return int(client.images.get(tag).attrs["Size"])


def fetched_bytes(registry: Registry, repository: str, tag: str, base_layers: set[str]) -> int:
    """Compressed bytes of the image's layers in the registry, the (always cached) base layer excluded."""
    response = requests.get(
        f"http://{registry.host}/v2/{repository}/manifests/{tag}",
        headers={"Accept": MANIFEST_V2},
        auth=(registry.username, registry.password),
        timeout=30,
    )
    response.raise_for_status()
    layers = response.json()["layers"]
    return sum(int(layer["size"]) for layer in layers[len(base_layers) :])


def wait_healthy(port: int, begun: float, limit: float = 180.0) -> float:
    while time.perf_counter() - begun < limit:
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/ping")
            if connection.getresponse().status == 200:
                return time.perf_counter() - begun
        time.sleep(0.01)
    raise SystemExit(f"no healthy /ping on port {port} within {limit}s")


def cold_start(client: Any, reference: str, auth: dict[str, str], model: Path, into: ColdStart) -> None:
    """Pull ``reference`` (not cached), `docker run` it as `serve`, time both, then remove container and image."""
    repository, tag = reference.rsplit(":", 1)
    begun = time.perf_counter()
    client.images.pull(repository, tag=tag, auth_config=auth)
    pulled = time.perf_counter()
    container = client.containers.run(
        reference, ["serve"], detach=True, ports={"8080/tcp": ("127.0.0.1", None)},
        volumes={str(model): {"bind": "/opt/ml/model", "mode": "ro"}},
    )  # fmt: skip
    try:
        container.reload()
        port = int(container.ports["8080/tcp"][0]["HostPort"])
        healthy = wait_healthy(port, pulled)
    finally:
        container.remove(force=True)
        client.images.remove(reference)
    into.pull.append(pulled - begun)
    into.healthy.append(healthy)


def remove(client: Any, *tags: str) -> None:
    for tag in tags:
        with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.NotFound):
            client.images.remove(tag)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep-cache", action="store_true", help="Build with the layer cache (sizes only).")
    args = parser.parse_args()
    client = docker.from_env()
    prefix = f"smbyo-bench/split-{uuid.uuid4().hex[:8]}"
    training, inference = f"{prefix}:latest", f"{prefix}:latest-inference"
    combined, sample, published = f"{prefix}-combined:latest", f"{prefix}-sample:latest", f"{prefix}-sample:full"
    local = [training, inference, combined, sample, published]
    pushed: list[str] = []
    registry: Registry | None = None
    with tempfile.TemporaryDirectory(prefix="smbyo-bench-split-") as scratch:
        work = Path(scratch)
        try:
            no_cache = not args.keep_cache
            build_example(training, work, split=True, no_cache=no_cache)
            build_example(combined, work, split=False, no_cache=no_cache)
            print("building the classic sample twice (serving stack; as published)", file=sys.stderr)
            build_baseline(work, sample)  # sizes only: never pulled, so the layer cache may serve
            build_baseline(work, published, SAMPLE_AS_PUBLISHED)
            sizes = {tag: image_size(client, tag) for tag in local}
            print("\n| image | size MB | x sample (serving stack) | x sample as published |")
            print("|---|---|---|---|")
            names = {training: "smbyo training", inference: "smbyo inference", combined: "smbyo combined (one image)",
                     sample: "sample, serving stack (serving.py)", published: "sample as published"}  # fmt: skip
            for tag in local:
                print(f"| {names[tag]} | {sizes[tag] / MB:.0f} | {sizes[tag] / sizes[sample]:.2f} "
                      f"| {sizes[tag] / sizes[published]:.2f} |")  # fmt: skip

            model = train_model(work, training)
            registry = start_registry(work / "registry", "bench", uuid.uuid4().hex)
            auth = {"username": registry.username, "password": registry.password, "serveraddress": registry.host}
            base_layers = set(client.images.get(BASE_IMAGE).attrs["RootFS"]["Layers"])
            references = {}
            for tag, name in ((inference, "inference"), (combined, "combined")):
                reference = f"{registry.host}/bench-{name}:latest"
                client.images.get(tag).tag(f"{registry.host}/bench-{name}", "latest")
                for event in client.images.push(f"{registry.host}/bench-{name}", "latest", auth_config=auth,
                                                stream=True, decode=True):  # fmt: skip
                    if "error" in event:
                        raise SystemExit(f"push {reference}: {event['error']}")
                pushed.append(reference)
                references[name] = reference
            remove(client, *pushed, *local)  # nothing of them is cached now but the base image's layer
            starts = {name: ColdStart() for name in references}
            for round_ in range(args.rounds):
                order = list(references) if round_ % 2 == 0 else list(reversed(references))
                for name in order:
                    cold_start(client, references[name], auth, model, starts[name])
            print(f"\ncold start from the local registry, median of {args.rounds} (base layer cached):\n")
            print("| image | pulled MB (compressed) | pull s | docker run -> healthy /ping s | total s | totals |")
            print("|---|---|---|---|---|---|")
            for name, reference in references.items():
                repository = reference.split("/", 1)[1].rsplit(":", 1)[0]
                print(starts[name].row(name, fetched_bytes(registry, repository, "latest", base_layers)))
        finally:
            remove(client, *pushed, *local)
            if registry is not None:
                registry.stop()


if __name__ == "__main__":
    main()
