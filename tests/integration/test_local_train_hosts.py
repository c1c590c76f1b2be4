"""`smbyo train --local --instance-count N`: a job of several hosts, as SageMaker runs one, on real Docker.

The probe image (tests/probe/train.py) reports, from every host, its resourceconfig.json, the files
and streams of its channels, whether it reached each other host by name, whether it reached a server
outside the job's network, and its CPU quota.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.conftest import EXAMPLE_DIR, probe_report, run_cli
from tests.integration.local_helpers import local_containers

pytestmark = pytest.mark.docker
OUTSIDE_PORT = 8000


@pytest.fixture
def distributed_project(tmp_path: Path) -> Path:
    """The example's manifest, saying the algorithm supports distributed training."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE_DIR, project)
    text = (project / "smbyo.yaml").read_text()
    assert "supports_distributed: false" in text
    (project / "smbyo.yaml").write_text(text.replace("supports_distributed: false", "supports_distributed: true"))
    return project


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    """Five data files (one in a subdirectory), to be dealt out to the hosts."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    for index in range(4):
        (data / f"part-{index}.csv").write_text(f"{index},1,2,3,4\n" * (index + 1))
    (data / "sub" / "part-4.csv").write_text("4,1,2,3,4\n")
    return data


@pytest.fixture
def outside_server(probe_image: str) -> Iterator[str]:
    """A TCP server in a container on Docker's default network: outside any job's network."""
    client = docker.from_env()
    container = client.containers.run(
        probe_image,
        entrypoint=["python3", "-m", "http.server", str(OUTSIDE_PORT)],
        detach=True,
        labels={"dev.smbyo.test": "outside"},
    )
    try:
        address = _address_when_listening(container)
        yield f"{address}:{OUTSIDE_PORT}"
    finally:
        container.remove(force=True)
        client.close()


def _address_when_listening(container: Any) -> str:
    """The container's address once the host reaches its server (so that 'not reached' means blocked)."""
    for _ in range(100):
        container.reload()
        address = str(container.attrs["NetworkSettings"]["IPAddress"])
        if address:
            try:
                with socket.create_connection((address, OUTSIDE_PORT), timeout=1):
                    return address
            except OSError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"the outside server never listened: {container.logs()[-500:]!r}")


def _job_networks(job: str) -> list[str]:
    client = docker.from_env()
    try:
        return [network.name for network in client.networks.list(filters={"label": f"dev.smbyo.job={job}"})]
    finally:
        client.close()


def _train(project: Path, image: str, data: Path, out: Path, *extra: str, tmpdir: Path) -> Any:
    return run_cli(
        "--json", "train", "--local", "--image", image, "--data", f"training={data}", "--out", str(out),
        "--instance-count", "2", *extra,
        cwd=project, env={"TMPDIR": str(tmpdir)},
    )  # fmt: skip


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", ["File", "Pipe"])
def test_two_hosts_see_each_other_by_name_read_their_shards_and_reach_nothing_else(
    distributed_project: Path, probe_image: str, shards: Path, outside_server: str, tmp_path: Path, mode: str
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    result = _train(
        distributed_project, probe_image, shards, tmp_path / "out",
        "--distribution", "training=ShardedByS3Key", "--input-mode", mode, "--env", f"PROBE_OUTSIDE={outside_server}",
        tmpdir=tmpdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert done["instance_count"] == 2
    archive = Path(done["model_artifacts"])
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["probe-algo-1.json", "probe-algo-2.json"]  # both hosts' model/, merged
    files = sorted(p for p in shards.rglob("*") if p.is_file())
    dealt: dict[str, list[str]] = {}
    for host, other in (("algo-1", "algo-2"), ("algo-2", "algo-1")):
        report = probe_report(archive, host)
        resource = report["config"]["resourceconfig.json"]
        assert resource["current_host"] == host and resource["hosts"] == ["algo-1", "algo-2"]
        assert resource["network_interface_name"] == "eth0" and resource["current_group_name"] == "homogeneousCluster"
        assert resource["instance_groups"] == [
            {"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.large", "hosts": ["algo-1", "algo-2"]}
        ]
        assert report["config"]["inputdataconfig.json"]["training"]["S3DistributionType"] == "ShardedByS3Key"
        cluster = report["cluster"]
        assert cluster["hostname"] == host
        assert cluster["peers"][other]["connected"], cluster  # by name, over the job's network
        assert cluster["outside"] is False  # the job's network has no route out
        assert cluster["cpu_quota"] == pytest.approx((os.cpu_count() or 1) / 2, abs=0.01)  # its share, not all
        if mode == "File":
            dealt[host] = sorted(report["files"]["training"])
        else:
            dealt[host] = report["streams"]["training"]
    # Sorted by key and dealt round-robin: no object twice, none lost, shares differ by at most one.
    keys = [p.relative_to(shards).as_posix() for p in files]
    if mode == "File":
        assert dealt == {"algo-1": sorted(keys[0::2]), "algo-2": sorted(keys[1::2])}
    else:  # one Pipe stream per epoch: the host's files concatenated
        concatenated = {
            host: hashlib.sha256(b"".join(p.read_bytes() for p in files[index::2])).hexdigest()
            for index, host in enumerate(("algo-1", "algo-2"))
        }
        assert {host: streams[0] for host, streams in dealt.items()} == concatenated
    assert not _job_networks(done["job_name"])
    assert not local_containers(**{"dev.smbyo.job": done["job_name"]})
    assert not list(tmpdir.glob("smbyo-*"))


def test_fully_replicated_gives_every_host_every_file(
    distributed_project: Path, probe_image: str, shards: Path, tmp_path: Path
) -> None:
    result = _train(distributed_project, probe_image, shards, tmp_path / "out", tmpdir=tmp_path)
    assert result.returncode == 0, result.stderr
    archive = Path(json.loads(result.stdout)["model_artifacts"])
    expected = {p.relative_to(shards).as_posix(): _sha(p) for p in shards.rglob("*") if p.is_file()}
    for host in ("algo-1", "algo-2"):
        assert probe_report(archive, host)["files"]["training"] == expected


def test_one_host_failing_fails_the_job_and_stops_the_others(
    distributed_project: Path, probe_image: str, shards: Path, tmp_path: Path
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    # algo-1 would sleep for 10 minutes after reporting: the job ends because it is stopped.
    result = _train(
        distributed_project, probe_image, shards, tmp_path / "out",
        "--env", "PROBE_FAIL_HOST=algo-2", "--env", "PROBE_SLEEP=600", tmpdir=tmpdir,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)
    assert error["error"] == "JobFailed" and error["message"].startswith("training job ")
    assert "algo-2: RuntimeError: probe told to fail on algo-2" in error["message"]
    assert "algo-2 failed (exit code 1): stopping the other hosts" in result.stderr
    assert not (tmp_path / "out" / "model.tar.gz").exists()  # a failed job writes no model
    job = error["details"]["job_name"]
    assert not _job_networks(job) and not local_containers(**{"dev.smbyo.job": job})
    assert not list(tmpdir.glob("smbyo-*"))


def test_hosts_writing_the_same_file_keep_algo_1s_copy_and_are_told(
    distributed_project: Path, probe_image: str, shards: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = _train(distributed_project, probe_image, shards, out, "--env", "PROBE_CLASH=1", tmpdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "more than one host wrote clash.txt" in result.stderr
    with tarfile.open(json.loads(result.stdout)["model_artifacts"]) as tar:
        assert tar.getnames().count("clash.txt") == 1
        member = tar.extractfile("clash.txt")
        assert member is not None and member.read() == b"algo-1"
