"""The host helpers user code gets for distributed training (``env.master_host``, ``host_rank``, ...), read
from the resourceconfig.json SageMaker writes on every host of a multi-instance job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sm_byo.runtime.paths import MlPaths
from sm_byo.runtime.training import TrainingEnv, build_env


def _env(tmp_path: Path, resource_config: dict[str, Any] | None) -> TrainingEnv:
    paths = MlPaths(tmp_path / "ml")
    paths.config_dir.mkdir(parents=True)
    if resource_config is not None:
        (paths.config_dir / "resourceconfig.json").write_text(json.dumps(resource_config))
    return build_env(paths, {"hyperparameters": []})


def _cluster(current: str, hosts: list[str], interface: str = "eth0") -> dict[str, Any]:
    """resourceconfig.json as SageMaker writes it on one host of a homogeneous cluster."""
    return {
        "current_host": current,
        "current_instance_type": "ml.m5.xlarge",
        "current_group_name": "homogeneousCluster",
        "hosts": hosts,
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.xlarge", "hosts": hosts}
        ],
        "network_interface_name": interface,
    }


def test_without_resourceconfig_the_job_is_one_master_host(tmp_path: Path) -> None:
    env = _env(tmp_path, None)
    assert (env.current_host, env.hosts, env.master_host) == ("algo-1", ["algo-1"], "algo-1")
    assert (env.host_rank, env.num_hosts, env.is_master) == (0, 1, True)
    assert env.network_interface_name == "eth0"


@pytest.mark.parametrize(
    ("current", "rank", "master"),
    [("algo-1", 0, True), ("algo-2", 1, False), ("algo-3", 2, False)],
)
def test_each_host_of_three_knows_its_rank_and_the_master(
    tmp_path: Path, current: str, rank: int, master: bool
) -> None:
    env = _env(tmp_path, _cluster(current, ["algo-1", "algo-2", "algo-3"], interface="ethwe"))
    assert env.master_host == "algo-1"
    assert (env.host_rank, env.num_hosts, env.is_master) == (rank, 3, master)
    assert env.network_interface_name == "ethwe"


def test_the_master_is_the_first_host_as_listed_not_the_smallest_name(tmp_path: Path) -> None:
    env = _env(tmp_path, _cluster("algo-1", ["algo-2", "algo-1"]))
    assert env.master_host == "algo-2"
    assert (env.host_rank, env.is_master) == (1, False)


def test_a_current_host_missing_from_hosts_is_refused_naming_both(tmp_path: Path) -> None:
    env = _env(tmp_path, _cluster("algo-9", ["algo-1", "algo-2"]))
    with pytest.raises(ValueError, match=r"'algo-9' is not in hosts \['algo-1', 'algo-2'\]"):
        _ = env.host_rank


def test_hosts_that_are_not_a_list_are_refused(tmp_path: Path) -> None:
    env = _env(tmp_path, {"current_host": "algo-1", "hosts": "algo-1"})
    with pytest.raises(ValueError, match="hosts must be a list"):
        _ = env.master_host


def test_an_empty_or_partial_resourceconfig_falls_back_to_one_host(tmp_path: Path) -> None:
    env = _env(tmp_path, {"current_host": "algo-1", "hosts": []})
    assert (env.hosts, env.master_host, env.num_hosts, env.is_master) == (["algo-1"], "algo-1", 1, True)
    assert env.network_interface_name == "eth0"
