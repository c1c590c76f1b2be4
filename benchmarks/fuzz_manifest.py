"""Fuzz the manifest loader: every outcome must be a clean load or a usage error (exit 2), never a bug.

Each case is a mutation of the example manifest (``algorithms/decision_trees/smbyo.yaml``), written to a
project that has the example's files, and read with ``load_manifest`` as every command reads it. The cases
mix text edits (characters and YAML tokens inserted, lines deleted, duplicated, swapped and re-indented),
structural edits (one field set to a hostile value: shell and Dockerfile syntax, control characters, huge
numbers, NaN, wrong types, long strings and lists) and generated documents of known classes (alias bombs,
alias cycles, deep nesting in flow and block style, many aliases, merge keys, several documents, invalid
UTF-8, UTF-16). A clean load must also render a Dockerfile with exactly the template's instructions (no
value adds one). Prints the outcome counts and the time per load (max, p99, mean); exit 1 when any case
ended in another exception, a render failure or an added instruction (each is printed with its input,
and saved under --save when given).

    python3 benchmarks/fuzz_manifest.py [--cases 10000] [--seed 1] [--save DIR]
"""

from __future__ import annotations

import argparse
import collections
import copy
import random
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import yaml

from sm_byo.container import DOCKERFILE_FILTERS, template_context
from sm_byo.errors import ManifestError, UsageError
from sm_byo.manifest import LoadedManifest, load_manifest
from sm_byo.render import CONTAINER_TEMPLATES

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "algorithms" / "decision_trees"
EXAMPLE_TEXT = (EXAMPLE / "smbyo.yaml").read_text(encoding="utf-8")

TOKENS = [
    "&a ", "*a", "<<: *a", "!!binary ", "!!python/object/apply:os.system ['id']", "!!str ", "!!int ", "!!float ",
    "!!map ", "!!set ", "!!omap ", "? ", "- ", ": ", "{", "}", "[", "]", "'", '"', "\t", "\n", "\r", "\x00", "\x1b",
    "\ufeff", "\u2028", "\x85", "%YAML 1.1\n", "%TAG ! tag:x:\n", "---\n", "...\n", "|", ">", ">-", "#", "${HOME}",
    "$(id)", "`id`", ";", "&&", "\\", "\\n", "9" * 5000, "1e400", ".inf", ".nan", "-.inf", "2024-13-45",
    "2001-12-14t21:59:43.10-05:00", "0x" + "f" * 100, "0o777", "0b101", "~", "null", "yes", "no", "on", "off",
    "1:2:3:4:5", "x" * 5000, "\u00e9", "\U0001f680", "\ud800", ",", "=", "..", ".", " AS evil", "\nRUN id\n",
]  # fmt: skip
HOSTILE_VALUES: list[Any] = [
    "x; rm -rf /", "$(id)", "`id`", "a && b", "a\nRUN id", "a\\", '"', "'", "${HOME}", "\x00", "\t", "\u2028",
    "", " ", ".", "..", "x" * 5000, "\ud800", "Upper", "-o", "1", 0, -1, 1.5, 10**400, float("inf"), float("nan"),
    True, None, [], {}, ["a"], {"a": 1}, [[[[]]]], ["x"] * 200, list(range(200)), "2024-13-45",
    "python:3.12 AS evil", "localhost:5000/a:b", "arn:aws:iam::123456789012:role/x", "s3://bucket/key",
    "ml.m5.large", "File", "Gzip", "Integer", "(\\S+)", "(", "*",
]  # fmt: skip


# --- the generator ----------------------------------------------------------------------------------


def text_mutation(rng: random.Random) -> str:
    lines = EXAMPLE_TEXT.split("\n")
    for _ in range(rng.randint(1, 6)):
        kind = rng.random()
        index = rng.randrange(len(lines))
        if kind < 0.35:
            line = lines[index]
            where = rng.randint(0, len(line))
            lines[index] = line[:where] + rng.choice(TOKENS) + line[where:]
        elif kind < 0.5:
            line = lines[index]
            if line:
                where = rng.randrange(len(line))
                lines[index] = (
                    line[:where]
                    + chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x3000)]))
                    + (line[where + 1 :])
                )
        elif kind < 0.6:
            del lines[index]
        elif kind < 0.7:
            lines.insert(index, lines[rng.randrange(len(lines))])
        elif kind < 0.8:
            other = rng.randrange(len(lines))
            lines[index], lines[other] = lines[other], lines[index]
        elif kind < 0.9:
            lines[index] = " " * rng.choice([1, 2, 3, 4, 8]) + lines[index].lstrip()
        else:
            lines[index] = lines[index][: rng.randint(0, len(lines[index]))]
    return "\n".join(lines)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def structural_mutation(rng: random.Random) -> str:
    data = yaml.safe_load(EXAMPLE_TEXT)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(data)[1:])
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        value = copy.deepcopy(rng.choice(HOSTILE_VALUES))  # shared lists would end up inside themselves
        if rng.random() < 0.2 and isinstance(parent, dict):
            parent[rng.choice(["extra", "tags", "x-", str(path[-1]) + "_"])] = value
        else:
            parent[path[-1]] = value
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=rng.random() < 0.5)


def _laughs(levels: int, width: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines)


ANCHORED_TYPES = EXAMPLE_TEXT.replace(
    "  realtime_instance_types: [ml.m5.large, ml.c5.xlarge]", "  realtime_instance_types: *t"
).replace("  transform_instance_types: [ml.m5.large, ml.c5.xlarge]", "  transform_instance_types: &t [ml.m5.large]")
MERGED_HYPERPARAMETER = EXAMPLE_TEXT.replace(
    "    - name: max_leaf_nodes\n",
    "    - &h {name: a, type: Integer, min: 1, max: 2}\n    - <<: *h\n      name: max_leaf_nodes\n",
)


def generated(rng: random.Random) -> str | bytes:
    depth = rng.choice([10, 31, 32, 33, 100, 1000, 50_000])
    laughs = _laughs(rng.randint(2, 10), rng.randint(2, 12))
    choices: list[Callable[[], str | bytes]] = [
        lambda: laughs,
        lambda: EXAMPLE_TEXT + "\ntags: {x: *l0}\n" + laughs.replace("\n", "\n# "),
        lambda: EXAMPLE_TEXT + "\nx-bomb: [" + laughs.replace("\n", ", ") + "]\n",
        lambda: EXAMPLE_TEXT + "\ntags: {" + laughs.replace("\n", ", ") + "}\n",
        lambda: "name: x\ntags: " + "[" * depth + "]" * depth + "\n",
        lambda: "name: x\ntags: " + "{a: " * depth + "1" + "}" * depth + "\n",
        lambda: "name: x\n" + "".join("  " * i + f"k{i}:\n" for i in range(min(depth, 2000))),
        lambda: "name: x\n" + "".join("  " * i + "- \n" for i in range(min(depth, 2000))),
        lambda: "name: x\ntags: &a {x: *a}\n",
        lambda: "name: x\ntags: &a [a, [b, *a]]\n",
        lambda: "name: x\na: &a 1\nl: [" + ", ".join(["*a"] * rng.randint(50, 150)) + "]\n",
        lambda: ANCHORED_TYPES,
        lambda: MERGED_HYPERPARAMETER,
        lambda: EXAMPLE_TEXT + "\n---\n" + EXAMPLE_TEXT,
        lambda: EXAMPLE_TEXT.encode("utf-16"),
        lambda: EXAMPLE_TEXT.encode() + bytes(rng.randrange(256) for _ in range(20)),
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(0, 400))),
        lambda: rng.choice(["", "\n", "~", "[]", "name", "- a", "'", "{", "a: b: c", "\ufeff", "---", "..."]),
    ]
    return rng.choice(choices)()


def cases(seed: int, count: int) -> list[tuple[str, str | bytes]]:
    rng = random.Random(seed)
    out: list[tuple[str, str | bytes]] = []
    while len(out) < count:
        roll = rng.random()
        if roll < 0.45:
            out.append(("text", text_mutation(rng)))
        elif roll < 0.8:
            out.append(("structural", structural_mutation(rng)))
        else:
            out.append(("generated", generated(rng)))
    return out


# --- checking a loaded manifest's Dockerfile --------------------------------------------------------


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(CONTAINER_TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(DOCKERFILE_FILTERS)
    return env


def instructions(dockerfile: str) -> list[str]:
    """Instruction keywords as Docker's parser reads them: split at \\n only, comments dropped, continued
    lines joined."""
    keywords: list[str] = []
    current = ""
    for line in dockerfile.split("\n"):
        if line.lstrip().startswith("#") or (not current and not line.strip()):
            continue
        if line.endswith("\\"):
            current += line[:-1]
            continue
        keywords.append((current + line).split()[0].upper())
        current = ""
    return keywords


def dockerfile_of(env: jinja2.Environment, loaded: LoadedManifest) -> str:
    variables = template_context(loaded.manifest, base_image=None, ca_bundle=False, manifest_file=loaded.path.name)
    return env.get_template("Dockerfile.j2").render(**variables)


# --- the run ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases to run (default 10,000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--save", type=Path, help="write each failing case here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="smbyo-fuzz-manifest-"))
    try:
        project = work / "project"
        shutil.copytree(EXAMPLE, project, symlinks=False)
        manifest = project / "smbyo.yaml"
        env = _environment()
        base = load_manifest(EXAMPLE / "smbyo.yaml")
        expected = instructions(dockerfile_of(env, base))
        builder = expected.index("FROM", 1)
        with_build_packages = [*expected[: builder + 1], "RUN", *expected[builder + 1 :]]

        outcomes: collections.Counter[str] = collections.Counter()
        by_kind: collections.Counter[tuple[str, str]] = collections.Counter()
        seconds: list[float] = []
        slowest: tuple[float, str, str | bytes] = (0.0, "", "")
        failures: list[tuple[str, str, str | bytes]] = []
        generated_cases = cases(args.seed, args.cases)
        began = time.perf_counter()
        for number, (kind, text) in enumerate(generated_cases, start=1):
            if isinstance(text, bytes):
                manifest.write_bytes(text)
            else:
                manifest.write_text(text, encoding="utf-8", errors="surrogatepass")
            started = time.perf_counter()
            try:
                loaded = load_manifest(manifest)
                outcome = "loaded"
            except ManifestError:
                outcome = "ManifestError (exit 2)"
            except UsageError:
                outcome = "UsageError (exit 2)"
            except Exception:
                outcome = "other exception"
                failures.append((kind, traceback.format_exc(limit=4), text))
            elapsed = time.perf_counter() - started
            seconds.append(elapsed)
            if elapsed > slowest[0]:
                slowest = (elapsed, kind, text)
            if outcome == "loaded":
                try:
                    keywords = instructions(dockerfile_of(env, loaded))
                except Exception:
                    outcome = "render failed"
                    failures.append((kind, traceback.format_exc(limit=4), text))
                else:
                    wanted = with_build_packages if loaded.manifest.image.build_packages else expected
                    if keywords != wanted:
                        outcome = "instruction added"
                        failures.append((kind, f"instructions {keywords}", text))
            outcomes[outcome] += 1
            by_kind[(kind, outcome)] += 1
            if number % 2000 == 0:
                print(f"  {number:,} cases, {len(failures)} failures", file=sys.stderr)
        total = time.perf_counter() - began

        print(f"cases: {len(generated_cases):,} in {total:.1f} s (seed {args.seed})")
        for outcome, count in outcomes.most_common():
            print(f"  {outcome}: {count:,}")
        for kind in ("text", "structural", "generated"):
            counts = {o: c for (k, o), c in by_kind.items() if k == kind}
            print(f"    {kind}: " + ", ".join(f"{o}: {c:,}" for o, c in sorted(counts.items())))
        ordered = sorted(seconds)
        print(
            f"time per load: max {ordered[-1] * 1000:.1f} ms, p99 {ordered[int(len(ordered) * 0.99)] * 1000:.1f} ms, "
            f"mean {statistics.mean(ordered) * 1000:.2f} ms; slowest: a {slowest[1]} case of {len(slowest[2]):,} "
            "characters"
        )
        print(f"failures (another exception, a render failure or an added instruction): {len(failures)}")
        for index, (kind, detail, text) in enumerate(failures[:20]):
            print(f"--- {kind}: {detail.strip()}\n    input: {text[:300]!r}")
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
                (args.save / f"case-{index}.yaml").write_bytes(data)
        sys.exit(1 if failures else 0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
