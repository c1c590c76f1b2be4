"""Names of local containers: recognisable prefixes, unique."""

from __future__ import annotations

from sm_byo.local.containers import container_name


def test_container_names_carry_the_local_prefix_and_are_unique() -> None:
    names = {container_name("serve") for _ in range(50)}
    assert len(names) == 50 and all(n.startswith("smbyo-local-serve-") for n in names)
