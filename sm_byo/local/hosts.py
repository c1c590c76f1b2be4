"""The hosts of a local training job: one container per instance, as SageMaker runs a job on N instances.

SageMaker starts a training job's N instances as ``algo-1`` ... ``algo-N``, each running the image's
``train`` with its own /opt/ml tree, channel data (every object, or its share of a ``ShardedByS3Key``
channel) and resourceconfig.json naming itself among all the hosts; the hosts reach each other by those
names (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html,
"Distributed Training Configuration"). Locally each host is a container; a multi-host job's containers
share a Docker network made for the job, ``--internal`` so that it has no route out (each host reaches
the others and nothing else), removed with the job. Each gets an equal share of this machine's CPUs, so
N hosts do not oversubscribe it. A one-host job runs with no network at all, as before.

The job ends when every host has exited. A host that fails fails the job: the other hosts are stopped
(SIGTERM, then SIGKILL after :data:`FAILED_JOB_STOP_SECONDS`), and the failure reason is the failed
host's /opt/ml/output/failure.
"""

from __future__ import annotations

import contextlib
import queue
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sm_byo.docker import Bind, ContainerHandle, DockerAdapter, NetworkHandle
from sm_byo.local.containers import LogPump, Start, container_name, cpu_share, own_network, running_all
from sm_byo.local.layout import ChannelInput, MlTree, PipeFeeder, host_names
from sm_byo.reporting import Reporter

# SageMaker stops a job at MaxRuntimeInSeconds with SIGTERM and 120 s to finish
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StoppingCondition.html).
STOP_GRACE_SECONDS = 120
# A stop signal to smbyo (Ctrl-C, SIGTERM, SIGHUP) stops the containers the same way, SIGTERM then SIGKILL,
# with a shorter grace: an interrupted local job keeps no output, so the 120 s StopTrainingJob gives a job
# to save its model (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_StopTrainingJob.html)
# would only delay the exit, and could outlast a CI runner's own grace before it kills smbyo.
INTERRUPT_GRACE_SECONDS = 10
# Once one host has failed the job has failed: the others get as long to stop as an interrupted job.
FAILED_JOB_STOP_SECONDS = INTERRUPT_GRACE_SECONDS
WAIT_POLL_SECONDS = 0.25
LOG_CATCH_UP_SECONDS = 5.0


@dataclass
class Host:
    """One instance of a local training job: its name, /opt/ml tree and channel data, and how it ended."""

    name: str
    tree: MlTree
    channels: list[ChannelInput]
    exit_code: int | None = None
    pump: LogPump | None = field(default=None, repr=False)


@dataclass(frozen=True)
class HostsOutcome:
    """How a job's hosts ended: the first host that failed (None when all exited 0), and whether the
    stopping condition stopped them."""

    hosts: list[Host]
    failed: Host | None
    timed_out: bool

    @property
    def exit_code(self) -> int:
        return 0 if self.failed is None else int(self.failed.exit_code or 0)


def prepare_hosts(
    scratch: Path, count: int, channels: list[ChannelInput], hyperparameters: dict[str, str], instance_type: str
) -> list[Host]:
    """An /opt/ml tree per host under ``scratch``, each with its config files and its share of the data."""
    names = host_names(count)
    hosts = []
    for index, name in enumerate(names):
        tree = MlTree.create(scratch / name / "ml")
        own = [channel.for_host(index, count) for channel in channels]
        tree.write_config(hyperparameters, own, instance_type, name, names)
        hosts.append(Host(name, tree, own))
    return hosts


def empty_shards(hosts: list[Host]) -> list[str]:
    """``"algo-3: training"`` for each host that gets no file of a sharded channel (fewer objects than hosts)."""
    return [f"{host.name}: {channel.name}" for host in hosts for channel in host.channels if channel.shard == ()]


@contextmanager
def job_network(adapter: DockerAdapter, job_name: str, count: int) -> Iterator[NetworkHandle | None]:
    """The job's own internal network when it has more than one host, removed after its containers."""
    if count == 1:
        yield None
        return
    labels = {"dev.smbyo.job": job_name, "dev.smbyo.kind": "train"}
    with own_network(adapter, f"smbyo-train-{secrets.token_hex(6)}", labels) as network:
        yield network


def _start(
    image: str,
    job_name: str,
    host: Host,
    network: NetworkHandle | None,
    env: dict[str, str],
    shared: Sequence[Bind],
    cpus: float | None,
) -> Start:
    options: dict[str, Any] = {
        "volumes": [*host.tree.volumes(host.channels), *shared],
        "environment": env,
        "name": container_name("train"),
        "labels": {"dev.smbyo.job": job_name, "dev.smbyo.kind": "train", "dev.smbyo.host": host.name},
        "hostname": host.name,
        "cpus": cpus,
    }
    if network is None:
        options["network_mode"] = "none"  # training needs no network; a one-host job has no one to talk to
    else:
        options["network"] = network.attachment(host.name)
    return Start(image, ["train"], options)


def _stop_after(
    handles: list[ContainerHandle], seconds: float | None, fired: threading.Event
) -> threading.Timer | None:
    if seconds is None:
        return None

    def stop() -> None:
        fired.set()
        _stop_in_background(handles, STOP_GRACE_SECONDS)

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()
    return timer


def _stop_in_background(handles: list[ContainerHandle], grace: int) -> None:
    def stop(handle: ContainerHandle) -> None:
        with contextlib.suppress(Exception):  # already removed (an interrupt) or Docker went away
            handle.stop(timeout=grace)

    for handle in handles:
        threading.Thread(target=stop, args=(handle,), name="stop-host", daemon=True).start()


def _follow(index: int, handle: ContainerHandle, pump: LogPump, exits: queue.Queue[tuple[int, int]]) -> None:
    """Wait for the host's container to exit, let its log catch up, and report its exit code."""
    try:
        code = handle.wait()
    except Exception:  # removed under us (an interrupt is unwinding): it did not succeed
        code = -1
    pump.join(LOG_CATCH_UP_SECONDS)
    exits.put((index, code))


def _watch(hosts: list[Host], handles: list[ContainerHandle], reporter: Reporter) -> Host | None:
    """Wait for every host to exit; the first that fails stops the others. Runs in the calling (main)
    thread with a short poll, so that Ctrl-C reaches it."""
    exits: queue.Queue[tuple[int, int]] = queue.Queue()
    for index, (host, handle) in enumerate(zip(hosts, handles, strict=True)):
        assert host.pump is not None
        threading.Thread(target=_follow, args=(index, handle, host.pump, exits), daemon=True).start()
    failed: Host | None = None
    for _ in hosts:
        while True:
            try:
                index, code = exits.get(timeout=WAIT_POLL_SECONDS)
                break
            except queue.Empty:
                continue
        hosts[index].exit_code = code
        if code != 0 and failed is None:
            failed = hosts[index]
            others = [handle for host, handle in zip(hosts, handles, strict=True) if host.exit_code is None]
            if others:
                reporter.step(
                    f"{failed.name} failed (exit code {code}): stopping the other hosts, as SageMaker ends a job "
                    "when one of its instances fails"
                )
                _stop_in_background(others, FAILED_JOB_STOP_SECONDS)
    return failed


def run_hosts(
    adapter: DockerAdapter,
    image: str,
    job_name: str,
    hosts: list[Host],
    reporter: Reporter,
    environment: dict[str, str],
    max_runtime: float | None,
    on_master_line: Callable[[str], None],
    shared: Sequence[Bind] = (),
) -> HostsOutcome:
    """Run the job's hosts until all have exited, with every host's log streamed (prefixed with its name
    when there are several) and the first host's lines also given to ``on_master_line``. ``shared``:
    mounts every host gets besides its /opt/ml tree (the checkpoint directory: on SageMaker every
    instance syncs its checkpoints with the same S3 location)."""
    count = len(hosts)
    feeders: list[PipeFeeder] = [feeder for host in hosts for feeder in host.tree.start_pipes(host.channels)]
    fired = threading.Event()
    try:
        with job_network(adapter, job_name, count) as network:
            cpus = cpu_share(adapter, count)
            starts = [_start(image, job_name, host, network, environment, shared, cpus) for host in hosts]
            with running_all(adapter, starts, stop_grace=INTERRUPT_GRACE_SECONDS, reporter=reporter) as handles:
                for index, (host, handle) in enumerate(zip(hosts, handles, strict=True)):
                    source = host.name if count > 1 else "train"
                    host.pump = LogPump(handle, reporter, source, on_master_line if index == 0 else None).start()
                timer = _stop_after(handles, max_runtime, fired)
                try:
                    failed = _watch(hosts, handles, reporter)
                finally:
                    if timer is not None:
                        timer.cancel()
    finally:
        for feeder in feeders:
            feeder.stop()
            if feeder.error:
                reporter.warn(feeder.error)
    return HostsOutcome(hosts, failed, fired.is_set())
