"""Names of local jobs and containers: SageMaker's name rules, recognisable prefixes."""

from __future__ import annotations

import re

from sm_byo.local.containers import container_name, job_name
from sm_byo.rules import NAME_PATTERN


def test_job_names_follow_sagemaker_rules_even_for_long_algorithm_names() -> None:
    for base in ("decision-trees", "a" * 80, "x" * 40 + "-" * 10 + "y"):
        name = job_name(base, "train")
        assert len(name) <= 63 and NAME_PATTERN.match(name), name
        assert re.search(r"-train-\d{8}-\d{6}-\d{3}$", name)


def test_container_names_carry_the_local_prefix_and_are_unique() -> None:
    names = {container_name("serve") for _ in range(50)}
    assert len(names) == 50 and all(n.startswith("smbyo-local-serve-") for n in names)
