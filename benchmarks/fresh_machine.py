"""Issue 15 figures: how long the README's two commands take on a fresh Debian machine, first and second run.

Run on demand (needs a Docker Engine, mmdebstrap, and the base image from scripts/base-image.sh):
    python benchmarks/fresh_machine.py [--suite bookworm --suite trixie] [--full-tests]

Each suite gets a new container of `smbyo-test/fresh:SUITE` (Debian's python3, python3-pip, python3-venv,
curl, git; see tests/fresh_machine.py). The commands are read from README.md and typed in order, then
typed again in the same container: the first run pays for apt, the venv and pip downloads (no cache),
the second shows what a user pays every later time. The test command runs with `tests/unit` unless
--full-tests (the full suite needs the registry and moto, which the container installs itself).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fresh_machine import SUITES, fresh_machine, readme_commands


def measure(suite: str, full_tests: bool) -> list[dict[str, object]]:
    install_and_demo, tests = readme_commands()
    commands = [install_and_demo, tests if full_tests else f"{tests} tests/unit"]
    rows: list[dict[str, object]] = []
    with (
        tempfile.TemporaryDirectory(prefix="smbyo-fresh-bench-") as work,
        fresh_machine(suite, Path(work), env={"SMBYO_DEMO_PORT": "18482"}) as machine,
    ):
        python = machine.run("python3 -V").output.strip()
        for attempt in ("first", "second"):
            for command in commands:
                run = machine.run(command)
                rows.append(
                    {
                        "suite": f"{SUITES[suite]} ({python})",
                        "run": attempt,
                        "command": command,
                        "exit_code": run.exit_code,
                        "seconds": round(run.seconds, 1),
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr)
                if run.exit_code != 0:
                    print(run.tail(), file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", choices=sorted(SUITES))
    parser.add_argument("--full-tests", action="store_true")
    args = parser.parse_args()
    rows = [row for suite in args.suite or sorted(SUITES) for row in measure(suite, args.full_tests)]
    print("| machine | run | command | exit | seconds |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['suite']} | {row['run']} | `{row['command']}` | {row['exit_code']} | {row['seconds']} |")


if __name__ == "__main__":
    main()
