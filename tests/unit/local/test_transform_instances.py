"""Which instance transforms which file: SageMaker "distributes the objects ... among the instances", never
splitting a file, and some instances get none when there are fewer files than instances
(https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform.html)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_byo.local.layout import host_name
from sm_byo.local.transform import distribute, list_inputs


def _inputs(tmp_path: Path, sizes: dict[str, int]) -> Path:
    for name, size in sizes.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"1\n" * size)
    return tmp_path


@pytest.mark.parametrize("instances", [1, 2, 3, 5, 8])
def test_every_file_goes_to_exactly_one_instance_in_input_order(tmp_path: Path, instances: int) -> None:
    inputs = list_inputs(_inputs(tmp_path, {"a": 5, "b": 400, "c": 30, "d/e": 120, "f": 70}))
    shares = distribute(inputs, instances)
    assert len(shares) == instances
    assert sorted(index for share in shares for index in share) == list(range(len(inputs)))
    assert all(share == sorted(share) for share in shares)


def test_the_bytes_are_balanced_largest_file_first(tmp_path: Path) -> None:
    inputs = list_inputs(_inputs(tmp_path, {"a": 5, "b": 400, "c": 30, "d/e": 120, "f": 70}))
    names = [[inputs[index].relative for index in share] for share in distribute(inputs, 2)]
    assert names == [["b"], ["a", "c", "d/e", "f"]]  # 400 against 225: b alone outweighs the rest


def test_fewer_files_than_instances_leaves_instances_without_files(tmp_path: Path) -> None:
    inputs = list_inputs(_inputs(tmp_path, {"only": 3, "second": 1}))
    assert distribute(inputs, 4) == [[0], [1], [], []]


def test_instances_are_named_algo_1_to_n_in_logs_and_results() -> None:
    assert [host_name(n) for n in (1, 2, 10)] == ["algo-1", "algo-2", "algo-10"]
