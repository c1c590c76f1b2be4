"""Starting a serving container locally and waiting until it is healthy, as SageMaker hosting does.

Shared by batch transform, ``smbyo serve --local`` and ``validate --local``: the model directory is mounted
read-only at /opt/ml/model, port 8080 is published on the loopback interface only, and readiness is
``GET /ping`` answering 200 within 2 s, before the start-up health check timeout runs out (SageMaker's
rules and their sources: :mod:`sm_byo.local.health`). While the server starts, nginx answers 503; once the
runtime answers that the model could not be loaded, that is final, so it fails at once instead of waiting
out the timeout.

Buyer conditions (:func:`serving_containers`, the one way serve, transform and validate start a serving
container). A buyer runs a Marketplace algorithm or model package with network isolation: the container
can make no network call in or out, has no AWS credentials and gets only the container contract's
environment and the request's ``Environment``
(https://docs.aws.amazon.com/sagemaker/latest/dg/mkt-algo-model-internet-free.html;
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModel.html, EnableNetworkIsolation).
Locally, with isolation on, a job's serving containers (one, or a transform's instances) are alone on a
Docker network made for them, ``--internal``: no route out, so no internet, no instance-metadata endpoint
(169.254.169.254), no host service and no container of anything else. Docker publishes no port of a
container on an internal network, so each server gets a relay container (:mod:`sm_byo.runtime.relay`, run
with the image's own ``python3``) on both that network and Docker's default bridge, which publishes the
port on 127.0.0.1 and copies each connection to the server. One network per job, not per instance: Docker
has address space for a few dozen networks per machine. So a transform's instances could reach each other
(on SageMaker they cannot); nothing else can.

Why a relay container rather than a relay in smbyo's own process to the server's address on the internal
network: the host can reach a container's address only where Docker runs on this machine's kernel (Linux);
Docker Desktop (macOS, Windows) runs containers in a VM whose addresses the host cannot route to, but
publishes a container's ports everywhere. The relay costs one more container per serving container
(about 10 MB of memory, well under a second at start) and one more hop per request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sm_byo.docker import ContainerHandle, DockerAdapter, NetworkHandle
from sm_byo.errors import JobFailed
from sm_byo.local.containers import SERVING_STOP_SECONDS, LogPump, Start, own_network, running_all
from sm_byo.local.health import PING_TIMEOUT_SECONDS
from sm_byo.local.http import ContainerClient, NoAnswer
from sm_byo.reporting import Reporter
from sm_byo.runtime import relay
from sm_byo.runtime.network import ISOLATION_DOC

CONTAINER_PORT = "8080/tcp"
MODEL_MOUNT = "/opt/ml/model"
# The runtime's /ping error when load_model failed (sm_byo/runtime/serving.py, ModelState.load).
LOAD_FAILED_PREFIX = "model could not be loaded"
POLL_SECONDS = 0.1
SERVER_PORT = 8080
# The relay runs as nobody: it needs no privilege to listen on 8080 and copy bytes.
RELAY_USER = "65534:65534"
ISOLATION_OFF_WARNING = (
    "network isolation is off (--no-network-isolation): this container can reach the network, the "
    "internet and this machine; buyers' containers cannot (Marketplace runs them with network isolation: "
    f"{ISOLATION_DOC}). Use this only to debug; a model that works only like this fails for buyers."
)


def model_volume(model_dir: Path) -> dict[str, dict[str, str]]:
    return {str(model_dir): {"bind": MODEL_MOUNT, "mode": "ro"}}


def loopback_port(port: int | None) -> dict[str, int | tuple[str, int | None] | None]:
    """Publish 8080 on 127.0.0.1 only (``None``: a free port the kernel picks)."""
    return {CONTAINER_PORT: ("127.0.0.1", port)}


@dataclass(frozen=True)
class ServingStart:
    """One serving container to start: what it serves and how it is named, labelled and limited.
    ``port``: the loopback port to publish (None: one the kernel picks)."""

    image: str
    model_dir: Path
    name: str
    labels: Mapping[str, str]
    environment: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None
    cpus: float | None = None


@dataclass(frozen=True)
class ServingContainer:
    """A started serving container: ``handle`` runs the model server; ``door`` publishes its port (the
    relay under network isolation, else the server itself)."""

    handle: ContainerHandle
    door: ContainerHandle

    @property
    def isolated(self) -> bool:
        return self.door is not self.handle

    def host_port(self) -> int | None:
        return self.door.host_port(CONTAINER_PORT)


def _server_options(start: ServingStart, network: NetworkHandle | None) -> dict[str, Any]:
    options: dict[str, Any] = {
        "volumes": model_volume(start.model_dir),
        "environment": dict(start.environment),
        "name": start.name,
        "labels": dict(start.labels),
        "cpus": start.cpus,
    }
    if network is None:
        options["ports"] = loopback_port(start.port)
    else:
        options["network"] = network.attachment()  # reached by its container name on that network
    return options


def _relay_start(start: ServingStart) -> Start:
    """The relay of ``start``'s server: the serving image's python3 running sm_byo/runtime/relay.py's source."""
    source = Path(relay.__file__).read_text(encoding="utf-8")
    return Start(
        start.image,
        [source, start.name, str(SERVER_PORT), str(SERVER_PORT)],
        {
            "entrypoint": ["python3", "-c"],
            "user": RELAY_USER,
            "ports": loopback_port(start.port),
            "name": f"{start.name}-relay",
            "labels": {**start.labels, "dev.smbyo.role": "relay"},
        },
    )


def _shared_labels(starts: list[ServingStart]) -> dict[str, str]:
    """The labels every start has (a transform job's, without each instance's own): the network's labels."""
    return {key: value for key, value in starts[0].labels.items() if all(s.labels.get(key) == value for s in starts)}


@contextmanager
def _job_network(adapter: DockerAdapter, starts: list[ServingStart], isolated: bool) -> Iterator[NetworkHandle | None]:
    """The internal network of the job's serving containers under isolation (one per job, however many
    instances: Docker has address space for a few dozen networks per machine); None without isolation."""
    if not isolated:
        yield None
        return
    with own_network(adapter, f"{starts[0].name}-net", _shared_labels(starts)) as network:
        yield network


@contextmanager
def serving_containers(
    adapter: DockerAdapter,
    starts: list[ServingStart],
    *,
    isolated: bool,
    reporter: Reporter | None = None,
    stop_grace: int = SERVING_STOP_SECONDS,
) -> Iterator[list[ServingContainer]]:
    """Start ``IMAGE serve`` for each of ``starts`` under buyer conditions (``isolated``: on an internal
    network made for them, each reached through its relay; see the module doc), and remove every container
    and the network on the way out, whatever happens (:func:`running_all`)."""
    with _job_network(adapter, starts, isolated) as network:
        servers = [Start(start.image, ["serve"], _server_options(start, network)) for start in starts]
        relays = [_relay_start(start) for start in starts] if network is not None else []
        with running_all(adapter, servers + relays, stop_grace=stop_grace, reporter=reporter) as handles:
            servers_started, doors = handles[: len(starts)], handles[len(starts) :]
            if network is not None:
                for door in doors:
                    network.connect(door)  # now the relay reaches its server, by the server's name
            yield [
                ServingContainer(handle, doors[index] if doors else handle)
                for index, handle in enumerate(servers_started)
            ]


class StartupTimedOut(JobFailed):
    """/ping did not answer 200 (within 2 s) before the start-up health check timeout ran out."""


def _relay_gone(container: ServingContainer) -> JobFailed:
    log = container.door.logs().strip()[-1000:]
    return JobFailed(
        "the relay that publishes the serving container's port under network isolation exited"
        + (f"\n--- its log ---\n{log}" if log else ""),
        hint="The relay runs the image's own python3 (every image smbyo builds has it). For an image without "
        "python3, serve it with --no-network-isolation (its port is then published directly).",
        details={"container": container.door.id[:12]},
    )


def _not_ready(handle: ContainerHandle, pump: LogPump, why: str, kind: type[JobFailed] = JobFailed) -> JobFailed:
    tail = pump.tail_text()
    return kind(
        f"the serving container did not become healthy: {why}"
        + (f"\n--- last lines of its log ---\n{tail}" if tail else ""),
        hint="Check that predictor.py's load_model(model_dir) works with this model (see the log above)."
        if kind is JobFailed
        else "Load less at start-up and keep /ping cheap; a model that needs longer to load needs a longer "
        "ContainerStartupHealthCheckTimeoutInSeconds on SageMaker (locally: "
        "--container-startup-health-check-timeout, up to 3600 s).",
        details={"container": handle.id[:12]},
    )


def wait_until_healthy(container: ServingContainer, pump: LogPump, startup_timeout: float) -> str:
    """Poll /ping until it answers 200 within 2 s; returns the base URL (``http://127.0.0.1:PORT``).

    ``startup_timeout`` is SageMaker's ContainerStartupHealthCheckTimeoutInSeconds: past it the container
    counts as failed (:class:`StartupTimedOut`), as an endpoint's instance launch fails.
    """
    handle = container.handle
    deadline = time.monotonic() + startup_timeout
    client: ContainerClient | None = None
    while time.monotonic() < deadline:
        if not handle.running():
            raise _not_ready(handle, pump, "it exited")
        if container.isolated and not container.door.running():
            raise _relay_gone(container)
        if client is None:
            port = container.host_port()
            client = ContainerClient(f"http://127.0.0.1:{port}") if port else None
        if client is not None:
            try:
                answer = client.ping(PING_TIMEOUT_SECONDS)
            except NoAnswer:
                answer = None
            if answer is not None and answer.status == 200:
                client.close()
                return client.url
            if answer is not None and answer.error().startswith(LOAD_FAILED_PREFIX):
                raise _not_ready(handle, pump, f"/ping answered {answer.status}: {answer.error()}")
        time.sleep(POLL_SECONDS)
    raise _not_ready(
        handle,
        pump,
        f"/ping did not answer 200 (within {PING_TIMEOUT_SECONDS:.0f} s) before the start-up health check "
        f"timeout of {startup_timeout:.0f} s",
        StartupTimedOut,
    )
