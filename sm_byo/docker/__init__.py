"""The Docker adapter: the only place smbyo talks to docker-py.

Build and push streams report failures *inside* a successful HTTP stream (``error``/``errorDetail``
events), so every event is scanned. An unreachable daemon becomes :class:`DockerUnavailable` (exit 3)
with how to start one, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_byo.errors import BuildFailed, DockerUnavailable, PushFailed, RegistryAuthError, UsageError
from sm_byo.reporting import Reporter

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
STEP_PATTERN = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
AUTH_ERROR_PATTERN = re.compile(
    r"no basic auth credentials|unauthorized|authentication required|denied: |401 Unauthorized", re.IGNORECASE
)


def _where() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: int = 120) -> DockerAdapter:
    """A client for the daemon at DOCKER_HOST (or the default socket), checked with a ping."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (DockerException, OSError) as exc:
        raise DockerUnavailable(
            f"smbyo needs a Docker Engine and none answered at {_where()} ({_short(exc)}).",
            hint="Start Docker (Docker Desktop, or `sudo systemctl start docker` / `sudo dockerd &` on Linux), "
            "or point DOCKER_HOST at a running daemon, then run the command again.",
        ) from exc
    return DockerAdapter(client)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


@dataclass(frozen=True)
class Bind:
    """A host path mounted into a container (``--mount type=bind``). A list of these, unlike a mapping
    keyed by host path, can mount one host path at several places."""

    source: str
    target: str
    read_only: bool = False


@dataclass
class BuildOutcome:
    image_id: str
    tag: str
    steps: int = 0
    instructions: dict[int, str] = field(default_factory=dict)
    cached_steps: list[int] = field(default_factory=list)

    @property
    def rebuilt_steps(self) -> list[int]:
        return [step for step in sorted(self.instructions) if step not in self.cached_steps]

    def layers(self) -> list[dict[str, Any]]:
        """Every step with its instruction and whether the layer cache served it."""
        return [
            {"step": step, "instruction": self.instructions[step], "cached": step in self.cached_steps}
            for step in sorted(self.instructions)
        ]


@dataclass
class _BuildState:
    """Follows the classic builder's stream: which step runs, its output, what came from cache."""

    outcome: BuildOutcome
    current: int = 0
    output: list[str] = field(default_factory=list)

    def on_stream(self, text: str, reporter: Reporter) -> None:
        for line in ANSI_ESCAPE.sub("", text).splitlines():
            match = STEP_PATTERN.match(line.strip())
            if match:
                self.current = int(match.group(1))
                self.outcome.steps = int(match.group(2))
                self.outcome.instructions[self.current] = match.group(3)
                self.output = []
                reporter.detail(line.strip())
                continue
            if line.strip() == "---> Using cache":
                self.outcome.cached_steps.append(self.current)
            if line.strip():
                self.output.append(line)
                reporter.detail(line)

    def failure(self, message: str) -> BuildFailed:
        instruction = self.outcome.instructions.get(self.current, "(before the first step)")
        tail = "\n".join(self.output[-25:])
        return BuildFailed(
            f"step {self.current}/{self.outcome.steps} `{instruction}` failed: {message.strip()}"
            + (f"\n--- last output of the step ---\n{tail}" if tail else ""),
            hint="Fix the cause shown in the step's output (a requirement that does not install, a missing "
            "system package: add it to image.system_packages or image.build_packages), then build again.",
        )


class DockerAdapter:
    def __init__(self, client: docker.DockerClient):
        self.client = client

    # --- images ---------------------------------------------------------------------------------
    def build(
        self,
        context_dir: Path,
        tag: str,
        reporter: Reporter,
        *,
        network_mode: str | None = None,
        pull: bool = False,
        no_cache: bool = False,
        target: str | None = None,
        platform: str | None = None,
    ) -> BuildOutcome:
        """Build with the classic builder, streaming each step; raise BuildFailed on any error event.

        ``target`` names a Dockerfile stage (multi-stage ``--target``, which the classic builder has too);
        ``platform`` (``linux/amd64``) the platform to build for, whatever the Docker host's own is
        (https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Image/operation/ImageBuild)."""
        from docker.errors import APIError

        state = _BuildState(BuildOutcome(image_id="", tag=tag))
        try:
            stream = self.client.api.build(
                path=str(context_dir),
                tag=tag,
                rm=True,
                forcerm=True,
                decode=True,
                pull=pull,
                nocache=no_cache,
                network_mode=network_mode,
                target=target,
                platform=platform,
            )
            for event in stream:
                if "error" in event or "errorDetail" in event:
                    detail = event.get("errorDetail", {}).get("message") or event.get("error", "")
                    raise state.failure(ANSI_ESCAPE.sub("", str(detail)))
                if "stream" in event:
                    state.on_stream(event["stream"], reporter)
                elif "aux" in event and "ID" in event["aux"]:
                    state.outcome.image_id = event["aux"]["ID"]
                elif "status" in event:
                    reporter.detail(str(event["status"]))
        except APIError as exc:
            raise state.failure(exc.explanation or str(exc)) from exc
        if not state.outcome.image_id:
            state.outcome.image_id = self.image_id(tag)
        return state.outcome

    def image_id(self, reference: str) -> str:
        return str(self.inspect_image(reference)["Id"])

    def inspect_image(self, reference: str) -> dict[str, Any]:
        from docker.errors import ImageNotFound

        try:
            info: dict[str, Any] = self.client.api.inspect_image(reference)
        except ImageNotFound as exc:
            raise UsageError(
                f"image {reference!r} not found in the local Docker Engine",
                hint="Build it first with `smbyo build`, or pass --image with an image that exists.",
            ) from exc
        return info

    def engine_version(self) -> dict[str, str]:
        """The daemon's version and API version (``smbyo doctor`` shows them)."""
        info = self.client.version()
        return {"version": str(info.get("Version", "unknown")), "api_version": str(info.get("ApiVersion", "unknown"))}

    def cpu_count(self) -> int:
        """How many CPUs the Docker Engine's machine has (``docker info``'s NCPU): what its containers share."""
        return max(1, int(self.client.info().get("NCPU") or 1))

    def image_exists(self, reference: str) -> bool:
        from docker.errors import ImageNotFound

        try:
            self.client.api.inspect_image(reference)
        except ImageNotFound:
            return False
        return True

    def tag(self, source: str, repository: str, tag: str) -> None:
        self.client.api.tag(source, repository, tag=tag)

    def remove_image(self, reference: str) -> None:
        """Remove a tag this process created (layers other images share stay); a missing image is fine."""
        from docker.errors import APIError, ImageNotFound

        with contextlib.suppress(ImageNotFound, APIError):
            self.client.api.remove_image(reference, noprune=False)

    def push(self, repository: str, tag: str, auth_config: dict[str, str], reporter: Reporter) -> str:
        """Push with per-layer progress; returns the manifest digest. Credentials never leave memory."""
        from docker.errors import APIError

        digest = ""
        try:
            for event in self.client.api.push(repository, tag=tag, auth_config=auth_config, stream=True, decode=True):
                if "error" in event or "errorDetail" in event:
                    message = str(event.get("errorDetail", {}).get("message") or event.get("error"))
                    raise self._push_error(repository, message)
                digest = self._on_push_event(event, reporter) or digest
        except APIError as exc:
            raise self._push_error(repository, exc.explanation or str(exc)) from exc
        return digest

    @staticmethod
    def _on_push_event(event: dict[str, Any], reporter: Reporter) -> str | None:
        aux = event.get("aux") or {}
        if "Digest" in aux:
            return str(aux["Digest"])
        layer, status = event.get("id"), str(event.get("status", ""))
        detail = event.get("progressDetail") or {}
        if layer and "current" in detail:
            reporter.progress(f"layer {layer}", int(detail["current"]), detail.get("total"))
        elif layer and status in ("Pushed", "Layer already exists", "Mounted from"):
            reporter.detail(f"layer {layer}: {status}")
        return None

    @staticmethod
    def _push_error(repository: str, message: str) -> PushFailed | RegistryAuthError:
        if AUTH_ERROR_PATTERN.search(message):
            return RegistryAuthError(
                f"the registry refused the push to {repository}: {message}",
                hint="Check the AWS credentials and region (the ECR token comes from them) and that the role may "
                "push to this repository (ecr:InitiateLayerUpload, ecr:PutImage).",
            )
        return PushFailed(
            f"pushing {repository} failed: {message}", hint="Check the network and the registry, then push again."
        )

    # --- containers -----------------------------------------------------------------------------
    def run(
        self,
        image: str,
        command: list[str],
        *,
        volumes: dict[str, dict[str, str]] | list[Bind] | None = None,
        environment: dict[str, str] | None = None,
        ports: dict[str, int | tuple[str, int | None] | None] | None = None,
        network_mode: str | None = None,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        network: Attachment | None = None,
        hostname: str | None = None,
        cpus: float | None = None,
        entrypoint: list[str] | None = None,
        user: str | None = None,
    ) -> ContainerHandle:
        """Start a detached container (removed by :meth:`ContainerHandle.remove`). ``volumes``: docker-py's
        mapping of host path to ``{"bind", "mode"}``, or a list of :class:`Bind`. ``network``: a network
        of :meth:`create_network` and the names the container answers to there (instead of
        ``network_mode``). ``cpus``: at most this many of the machine's CPUs (``docker run --cpus``).

        The container's environment is the image's and ``environment``, nothing else: docker-py would add
        the proxies of this machine's ~/.docker/config.json (``use_config_proxy``), which a SageMaker
        container never gets."""
        from docker.errors import APIError, ImageNotFound
        from docker.types import Mount

        binds = volumes if isinstance(volumes, list) else []
        mounts = [Mount(b.target, b.source, type="bind", read_only=b.read_only) for b in binds]
        extra: dict[str, Any] = {}
        if network is not None:
            endpoint = self.client.api.create_endpoint_config(aliases=list(network.aliases))
            extra = {"network": network.network, "networking_config": {network.network: endpoint}}
        else:
            extra = {"network_mode": network_mode}
        if hostname:
            extra["hostname"] = hostname
        if cpus is not None:
            extra["nano_cpus"] = max(1, int(cpus * 1e9))
        if entrypoint is not None:
            extra["entrypoint"] = entrypoint
        if user is not None:
            extra["user"] = user
        try:
            container = self.client.containers.run(
                image,
                command,
                detach=True,
                volumes={} if isinstance(volumes, list) else volumes or {},
                mounts=mounts,
                environment=environment or {},
                ports=ports or {},
                name=name,
                labels={"dev.smbyo": "1", **(labels or {})},
                use_config_proxy=False,
                **extra,
            )
        except ImageNotFound as exc:
            raise UsageError(
                f"image {image!r} not found in the local Docker Engine",
                hint="Build it with `smbyo build`, or pass --image with an image that exists.",
            ) from exc
        except APIError as exc:
            raise DockerUnavailable(
                f"Docker could not start a container from {image}: {exc.explanation or exc}",
                hint="Check that the Docker Engine is healthy (`docker info`) and that the port is free.",
            ) from exc
        return ContainerHandle(container)

    # --- networks -------------------------------------------------------------------------------
    def create_network(self, name: str, labels: dict[str, str] | None = None) -> NetworkHandle:
        """A user-defined bridge network with no route out (``docker network create --internal``): its
        containers resolve each other by alias through Docker's embedded DNS and reach nothing else."""
        from docker.errors import APIError

        try:
            network = self.client.networks.create(
                name, driver="bridge", internal=True, check_duplicate=True, labels={"dev.smbyo": "1", **(labels or {})}
            )
        except APIError as exc:
            raise DockerUnavailable(
                f"Docker could not create the network {name}: {exc.explanation or exc}",
                hint="Check that the Docker Engine is healthy (`docker info`) and has address pools left "
                "(`docker network ls`; remove networks you no longer use).",
            ) from exc
        return NetworkHandle(network)


@dataclass(frozen=True)
class Attachment:
    """Where a container joins a network: the network's name and the host names it answers to there."""

    network: str
    aliases: tuple[str, ...] = ()


class NetworkHandle:
    """A network :meth:`DockerAdapter.create_network` made, and its removal."""

    def __init__(self, network: Any):
        self.network = network

    @property
    def name(self) -> str:
        return str(self.network.name)

    def attachment(self, *aliases: str) -> Attachment:
        return Attachment(self.name, aliases)

    def connect(self, handle: ContainerHandle, *aliases: str) -> None:
        """Attach a running container to this network too (``docker network connect --alias``)."""
        from docker.errors import APIError

        try:
            self.network.connect(handle.container, aliases=list(aliases))
        except APIError as exc:
            raise DockerUnavailable(
                f"Docker could not connect a container to the network {self.name}: {exc.explanation or exc}",
                hint="Check that the Docker Engine is healthy (`docker info`).",
            ) from exc

    def remove(self) -> None:
        from docker.errors import NotFound

        with contextlib.suppress(NotFound):
            self.network.remove()


class ContainerHandle:
    """A running container: its logs, exit code, published ports, and removal."""

    def __init__(self, container: Container):
        self.container = container

    @property
    def id(self) -> str:
        return str(self.container.id)

    def log_lines(self) -> Iterator[str]:
        """Follow the combined stdout/stderr log, line by line, until the container exits."""
        pending = b""
        for chunk in self.container.logs(stream=True, follow=True, stdout=True, stderr=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", errors="replace")
        if pending:
            yield pending.decode("utf-8", errors="replace")

    def follow_logs(self, on_line: Callable[[str], None]) -> None:
        for line in self.log_lines():
            on_line(line)

    def logs(self) -> str:
        return bytes(self.container.logs(stdout=True, stderr=True)).decode("utf-8", errors="replace")

    def wait(self, timeout: float | None = None) -> int:
        result = self.container.wait(timeout=timeout)
        return int(result.get("StatusCode", 1))

    def running(self) -> bool:
        self.container.reload()
        return bool(self.container.status == "running")

    def host_port(self, container_port: str) -> int | None:
        self.container.reload()
        bindings = (self.container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(container_port)
        if not bindings:
            return None
        return int(bindings[0]["HostPort"])

    def processes(self) -> list[dict[str, str]]:
        """The processes as the host sees them (``user``, ``pid``, ``ppid``, ``args``): no ps needed inside."""
        listing = self.container.top(ps_args="-eo user:32,pid,ppid,args")
        columns = ["args" if title == "COMMAND" else title.lower() for title in listing.get("Titles", [])]
        return [dict(zip(columns, (str(cell) for cell in row), strict=False)) for row in listing.get("Processes") or []]

    def stop(self, timeout: int = 30) -> None:
        from docker.errors import NotFound

        with contextlib.suppress(NotFound):
            self.container.stop(timeout=timeout)

    def remove(self) -> None:
        from docker.errors import NotFound

        with contextlib.suppress(NotFound):
            self.container.remove(force=True)
