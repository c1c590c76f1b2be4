from __future__ import annotations

from datetime import UTC, datetime

from sm_byo.rules import NAME_PATTERN
from sm_byo.specs.names import unique_name

NOW = datetime(2026, 11, 24, 1, 2, 3, 456789, tzinfo=UTC)


def test_names_are_base_plus_a_millisecond_timestamp() -> None:
    assert unique_name("decision-trees", now=lambda: NOW) == "decision-trees-2026-11-24-01-02-03-456"


def test_long_or_odd_bases_are_trimmed_and_cleaned_to_a_valid_name() -> None:
    name = unique_name("my_algo." + "x" * 80, now=lambda: NOW)
    assert len(name) <= 63 and NAME_PATTERN.match(name)
    assert name.endswith("-2026-11-24-01-02-03-456")
    assert NAME_PATTERN.match(unique_name("--", now=lambda: NOW))


def test_the_project_tag_names_the_manifest_and_wins_over_a_tags_entry_of_its_key() -> None:
    from sm_byo.manifest import load_manifest
    from sm_byo.specs.names import PROJECT_TAG, project_tags
    from tests.conftest import EXAMPLE_DIR

    manifest = load_manifest(EXAMPLE_DIR / "smbyo.yaml").manifest
    own = manifest.model_copy(update={"tags": {"team": "ml", PROJECT_TAG: "someone-else"}})
    assert project_tags(own) == {"team": "ml", PROJECT_TAG: manifest.name}
