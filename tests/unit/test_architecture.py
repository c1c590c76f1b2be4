"""The package's import graph: arrows point down, and each outside library has one door.

Read from the source (``ast``), so a lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "sm_byo"

# Lowest first. A module may import its own layer or lower ones, never a higher one.
LAYERS: list[tuple[str, ...]] = [
    (
        "sm_byo",
        "sm_byo.errors",
        "sm_byo.runtime",
        "sm_byo.jsonpath",
        "sm_byo.rules",
        "sm_byo.reporting",
        "sm_byo.signals",
    ),
    ("sm_byo.manifest",),
    (
        "sm_byo.specs",
        "sm_byo.metrics",
        "sm_byo.hyperparameters",
        "sm_byo.container",
        "sm_byo.options",
        "sm_byo.results",
    ),
    ("sm_byo.aws", "sm_byo.docker", "sm_byo.polling"),  # the adapters
    ("sm_byo.preflight", "sm_byo.plan"),
    (  # what commands are made of
        "sm_byo.local",  # the packages themselves (their __init__)
        "sm_byo.cloud",
        "sm_byo.render",
        "sm_byo.cloud.logs",
        "sm_byo.cloud.session",
        "sm_byo.cloud.s3",
        "sm_byo.cloud.product",
        "sm_byo.cloud.waiting",
        "sm_byo.cloud.executor",
        "sm_byo.cloud.published",
        "sm_byo.local.archive",
        "sm_byo.local.outputs",
        "sm_byo.local.untrusted",
        "sm_byo.local.containers",
        "sm_byo.local.layout",
        "sm_byo.local.hosts",
        "sm_byo.local.serving",
        "sm_byo.local.health",
        "sm_byo.local.ping_load",
        "sm_byo.local.http",
        "sm_byo.local.dataprocessing",
    ),
    (  # the commands, by mode
        "sm_byo.build",
        "sm_byo.scaffold",
        "sm_byo.doctor",
        "sm_byo.local.training",
        "sm_byo.local.transform",
        "sm_byo.local.hosting",
        "sm_byo.local.invoke",
        "sm_byo.cloud.training",
        "sm_byo.cloud.transform",
        "sm_byo.cloud.hosting",
        "sm_byo.cloud.push",
        "sm_byo.cloud.publish",
        "sm_byo.cloud.delete",
    ),
    (  # commands built on other commands
        "sm_byo.local.validate",
        "sm_byo.local.tuning",
        "sm_byo.cloud.tuning",
        "sm_byo.cloud.listing_checks",
        "sm_byo.cloud.listing",
        "sm_byo.cloud.wait",
    ),
    ("sm_byo.ui",),
    ("sm_byo.cli", "sm_byo.__main__"),
]


# These name the package's own __init__ only: every module inside them must be placed explicitly.
PACKAGES_ONLY = frozenset({"sm_byo", "sm_byo.local", "sm_byo.cloud"})


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _sources() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "templates" not in path.relative_to(PACKAGE).parts:
            yield _module(path), ast.parse(path.read_text(encoding="utf-8"))


def _imports(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def layer_of(module: str) -> int:
    """The layer of the longest prefix that names ``module`` (``sm_byo.specs.training`` -> specs)."""
    best = (-1, -1)
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            below = module.startswith(prefix + ".") and prefix not in PACKAGES_ONLY
            if (module == prefix or below) and len(prefix) > best[1]:
                best = (index, len(prefix))
    if best[0] < 0:
        raise AssertionError(f"{module} is in no layer of tests/unit/test_architecture.py: place it")
    return best[0]


SOURCES = dict(_sources())


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_imports_point_down(module: str) -> None:
    mine = layer_of(module)
    upward = [name for name in _imports(SOURCES[module]) if name.startswith("sm_byo") and layer_of(name) > mine]
    assert upward == [], f"{module} (layer {mine}) imports {upward}, which sit above it"


@pytest.mark.parametrize(
    ("library", "door"),
    [("boto3", "sm_byo.aws"), ("botocore", "sm_byo.aws"), ("docker", "sm_byo.docker"), ("click", "sm_byo.cli")],
)
def test_each_outside_library_has_one_door(library: str, door: str) -> None:
    users = sorted(
        module
        for module, tree in SOURCES.items()
        if any(name == library or name.startswith(library + ".") for name in _imports(tree))
        and not (module == door or module.startswith(door + "."))
    )
    assert users == [], f"only {door} may import {library}; also: {users}"


def test_the_in_container_runtime_imports_nothing_from_the_host_package() -> None:
    for module, tree in SOURCES.items():
        if module.startswith("sm_byo.runtime"):
            outside = [name for name in _imports(tree) if name.startswith("sm_byo") and name != "sm_byo.runtime"]
            assert not [name for name in outside if not name.startswith("sm_byo.runtime.")], module
