"""Metric extraction from logs with the manifest's regexes."""

from __future__ import annotations

from sm_byo.manifest import MetricSpec
from sm_byo.metrics import MetricScanner, parse_metrics

ACCURACY = MetricSpec(name="validation:accuracy", regex=r"validation-accuracy: (\S+)")
LOSS = MetricSpec(name="train:loss", regex=r"loss=([0-9.eE+-]+)")

LOG = """epoch 1 loss=0.9 validation-accuracy: 0.50
epoch 2 loss=0.5
noise validation-accuracy: nan
epoch 3 loss=2.5e-1 validation-accuracy: 0.9333
"""


def test_final_value_is_the_last_match_and_the_series_keeps_every_point() -> None:
    scanner = parse_metrics([ACCURACY, LOSS], LOG)
    assert scanner.finals() == {"validation:accuracy": 0.9333, "train:loss": 0.25}
    assert scanner.all_series() == {"validation:accuracy": [0.5, 0.9333], "train:loss": [0.9, 0.5, 0.25]}


def test_metrics_that_never_appear_are_absent() -> None:
    scanner = parse_metrics([ACCURACY, MetricSpec(name="f1", regex=r"f1=(\S+)")], "validation-accuracy: 1\n")
    assert scanner.finals() == {"validation:accuracy": 1.0}
    assert scanner.to_dict() == {"final": {"validation:accuracy": 1.0}, "series": {"validation:accuracy": [1.0]}}


def test_lines_can_be_fed_one_by_one() -> None:
    scanner = MetricScanner([LOSS])
    for line in LOG.splitlines():
        scanner.feed(line)
    assert scanner.series["train:loss"].final == 0.25


def test_a_regex_without_a_group_uses_the_whole_match() -> None:
    assert parse_metrics([MetricSpec(name="n", regex=r"\d+\.\d+")], ["took 1.5 s"]).finals() == {"n": 1.5}
