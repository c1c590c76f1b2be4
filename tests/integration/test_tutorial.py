"""docs/tutorial.md, walked command by command exactly as written, so the tutorial cannot rot.

The ```bash blocks are read from the Markdown. A block followed by ``<!-- tutorial: skip -->`` is not run
(installing smbyo), one followed by
``<!-- tutorial: background -->`` runs until the next block is done (``smbyo serve``), and every block after
``<!-- tutorial: cloud -->`` runs against moto's server and a local docker-registry standing in for ECR.
A ```yaml block followed by ``<!-- tutorial: edit FILE -->`` is an edit the tutorial tells the reader to make:
each of its ``key: value`` lines replaces the line of that key (in the same section) of FILE, as the reader
would in an editor.

Substitutions, each of a value the tutorial itself tells the reader to adapt: the project name gets this
suite's ``smbyo-docs-`` prefix and port 8080 becomes a free port (off other people's resources on a shared
Docker Engine), ``smbyo build`` gets the ``--base-image/--ca-bundle/--network`` flags of the tutorial's
note, and in the edit of ``smbyo.yaml`` the example account id (111122223333) becomes the stand-in AWS's
account and the example bucket (amzn-s3-demo-bucket) one this test creates there first, as the reader's
own role and bucket replace them. Part 1 runs on the scaffold's placeholders untouched (local commands
ignore them); Part 2's first command after the edit is the first that would refuse them.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.aws.fixtures import aws_env, moto, moto_session, registry, registry_session  # noqa: F401
from tests.aws.harness import ACCOUNT_ID, REGION, MotoHarness
from tests.aws.registry import Registry
from tests.conftest import REPO, ca_bundle, run_cli

pytestmark = [pytest.mark.docker]

TUTORIAL = REPO / "docs" / "tutorial.md"
DOC_NAME = "iris-trees"
TEST_NAME = "smbyo-docs-iris"
DOC_PORT = "8080"
PORTS = range(18500, 18600)
MARKER = "<!-- tutorial:"


DOC_ACCOUNT = "111122223333"  # the tutorial's example role's account: the reader's own goes there
DOC_BUCKET = "amzn-s3-demo-bucket"  # the tutorial's example bucket: the reader's own goes there
TEST_BUCKET = "smbyo-docs-tutorial"
FENCES = ("```bash", "```yaml")


@dataclass
class Block:
    commands: list[str]
    mode: str  # "run", "skip", "background" or "edit"
    cloud: bool
    target: str = ""  # the file an "edit" block changes


def tutorial_blocks(text: str) -> list[Block]:
    """Every ```bash block (and ```yaml edit) with the marker that follows it and whether it is in the cloud part."""
    blocks: list[Block] = []
    lines = text.splitlines()
    cloud = False
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if line.startswith(f"{MARKER} cloud"):
            cloud = True
        if line not in FENCES:
            index += 1
            continue
        end = lines.index("```", index + 1)
        following = next((candidate.strip() for candidate in lines[end + 1 :] if candidate.strip()), "")
        words = following[len(MARKER) :].split() if following.startswith(MARKER) else ["run"]
        if line == "```yaml":
            if words[0] == "edit":
                blocks.append(Block([c for c in lines[index + 1 : end] if c.strip()], "edit", cloud, words[1]))
        else:
            commands = [c.strip() for c in lines[index + 1 : end] if c.strip() and not c.strip().startswith("#")]
            blocks.append(Block(commands, words[0], cloud))
        index = end + 1
    return blocks


def free_port() -> int:
    import socket

    for port in PORTS:
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
    pytest.fail("no free port in 18500-18599")


@dataclass
class Walker:
    """Runs tutorial commands the way a reader's shell would: `cd` persists, each smbyo call is a process."""

    cwd: Path
    env: dict[str, str]
    port: int
    base_image: str
    own_values: dict[str, str] = field(default_factory=dict)  # the tutorial's example value -> the reader's

    def args(self, command: str) -> list[str]:
        words = shlex.split(command.replace(DOC_NAME, TEST_NAME).replace(DOC_PORT, str(self.port)))
        if words[:2] == ["smbyo", "build"]:
            words += ["--base-image", self.base_image, "--network", "host"]
            bundle = ca_bundle()
            if bundle:
                words += ["--ca-bundle", str(bundle)]
        return words

    def run(self, command: str) -> subprocess.CompletedProcess[str] | None:
        words = self.args(command)
        if words[0] == "cd":
            self.cwd = (self.cwd / words[1]).resolve()
            return None
        assert words[0] == "smbyo", f"the tutorial runs only smbyo and cd, not {command!r}"
        result = run_cli(*words[1:], cwd=self.cwd, env=self.env)
        assert result.returncode == 0, f"`{command}` exited {result.returncode}:\n{result.stderr[-4000:]}"
        return result

    def edit(self, target: str, lines: list[str]) -> None:
        """Replace, in ``target``, the line of each ``key:`` of the block within its section, as in an editor."""
        path = self.cwd / target
        text = path.read_text(encoding="utf-8").splitlines()
        section = 0
        for line in lines:
            for example, own in self.own_values.items():
                line = line.replace(example, own)
            key = line.split(":", 1)[0]
            if not line.startswith(" "):
                section = text.index(line)
                continue
            at = next(i for i in range(section + 1, len(text)) if text[i].split(":", 1)[0] == key)
            text[at] = line
        path.write_text("\n".join(text) + "\n", encoding="utf-8")

    @contextlib.contextmanager
    def background(self, command: str) -> Iterator[None]:
        """`smbyo serve` until the next block is done, then Ctrl-C (SIGINT) as the reader would."""
        words = self.args(command)
        process = subprocess.Popen(
            [sys.executable, "-m", "sm_byo", *words[1:]],
            cwd=self.cwd,
            env={**__import__("os").environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            self.wait_for_ping(process)
            yield
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, f"`{command}` exited {process.returncode} after Ctrl-C:\n{stderr[-4000:]}"

    def wait_for_ping(self, process: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, f"smbyo serve exited early:\n{process.communicate()[1][-4000:]}"
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{self.port}/ping", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        pytest.fail("smbyo serve did not become healthy within 120 s")


def walk(blocks: list[Block], walker: Walker, before: Callable[[Block], None] | None = None) -> list[str]:
    """Run the blocks in order; returns the commands that ran (for the assertions)."""
    ran: list[str] = []
    pending: contextlib.ExitStack | None = None
    for block in blocks:
        if block.mode == "skip":
            continue
        if before is not None:
            before(block)
        if block.mode == "edit":
            walker.edit(block.target, block.commands)
            ran.append(f"edit {block.target}")
            continue
        if block.mode == "background":
            pending = contextlib.ExitStack()
            pending.enter_context(walker.background(block.commands[0]))
            ran += block.commands
            continue
        for command in block.commands:
            walker.run(command)
            ran.append(command)
        if pending is not None:
            pending.close()
            pending = None
    if pending is not None:
        pending.close()
    return ran


@pytest.fixture(scope="module")
def local_walk(
    tmp_path_factory: pytest.TempPathFactory, example_image: str, base_image: str, docker_adapter: object
) -> Iterator[tuple[Walker, list[str]]]:
    """Part 1 once per module (one build, one trained model); example_image warms the layer cache."""
    blocks = [block for block in tutorial_blocks(TUTORIAL.read_text(encoding="utf-8")) if not block.cloud]
    walker = Walker(cwd=tmp_path_factory.mktemp("tutorial"), env={}, port=free_port(), base_image=base_image)
    ran = walk(blocks, walker)
    yield walker, ran
    client = docker_adapter.client  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):
        client.images.remove(f"{TEST_NAME}:latest", noprune=True)


def _ecr_uri_before_publishing(block: Block, moto: MotoHarness) -> None:  # noqa: F811
    """The test registry stands in for ECR at 127.0.0.1:PORT, a URI CreateAlgorithm rightly refuses.

    Once the image is pushed and trained, give the repository the URI real ECR reports, so `smbyo publish`
    runs as written. This changes the fake AWS's state (moto runs in this process), not smbyo.
    """
    if not block.commands[0].startswith("smbyo publish"):
        return
    from moto.ecr.models import ecr_backends

    repository = ecr_backends[ACCOUNT_ID][REGION].repositories[TEST_NAME]
    repository.uri = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{TEST_NAME}"


def _before_block(block: Block, moto: MotoHarness, before_cleanup: dict[str, object]) -> None:  # noqa: F811
    """ECR's URI before publishing; before the clean-up's real run, what the project has after its dry run."""
    _ecr_uri_before_publishing(block, moto)
    if block.commands == ["smbyo delete project --data --images"]:
        algorithms = moto.client("sagemaker").list_algorithms()["AlgorithmSummaryList"]
        before_cleanup["algorithms"] = [summary["AlgorithmStatus"] for summary in algorithms]
        described = moto.client("sagemaker").describe_algorithm(AlgorithmName=algorithms[0]["AlgorithmName"])
        before_cleanup["role"] = described["ValidationSpecification"]["ValidationRole"]
        listed = moto.client("s3").list_objects_v2(Bucket=TEST_BUCKET, Prefix="iris-trees/")
        before_cleanup["uploaded"] = listed.get("KeyCount", 0) > 0


def test_the_blocks_are_found_and_marked() -> None:
    blocks = tutorial_blocks(TUTORIAL.read_text(encoding="utf-8"))
    commands = [command for block in blocks for command in block.commands]
    assert "smbyo init iris-trees" in commands
    assert [block.mode for block in blocks].count("background") == 1
    assert any(block.cloud and "smbyo publish algorithm" in block.commands for block in blocks)
    # the reader's role and bucket go in before the first cloud command
    cloud = [block for block in blocks if block.cloud]
    assert (cloud[0].mode, cloud[0].target) == ("edit", "smbyo.yaml")
    assert any(line.strip().startswith("role: ") for line in cloud[0].commands)
    assert any(line.strip().startswith("output: s3://") for line in cloud[0].commands)
    # the clean-up ends the tutorial, and runs
    assert blocks[-1].mode == "run" and any(c.startswith("smbyo delete project") for c in blocks[-1].commands)


def test_part_1_runs_locally_as_written(local_walk: tuple[Walker, list[str]]) -> None:
    walker, ran = local_walk

    assert walker.cwd.name == TEST_NAME
    assert (walker.cwd / "output" / "model.tar.gz").is_file()
    predictions = (walker.cwd / "predictions" / "iris.csv.out").read_text().split()
    assert len(predictions) == 150
    assert set(predictions) <= {"setosa", "versicolor", "virginica"}
    assert "smbyo validate --local" in ran


def test_part_2_runs_against_moto_and_a_registry(
    local_walk: tuple[Walker, list[str]],
    aws_env: dict[str, str],  # noqa: F811
    moto: MotoHarness,  # noqa: F811
    registry: Registry,  # noqa: F811
    docker_adapter: object,
    tmp_path: Path,
) -> None:
    walker, _ = local_walk
    moto.state["manifest"] = walker.cwd / "smbyo.yaml"
    walker.env = {**aws_env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    moto.client("s3").create_bucket(Bucket=TEST_BUCKET)  # the reader's bucket (the tutorial: one of your account)
    walker.own_values = {DOC_ACCOUNT: ACCOUNT_ID, DOC_BUCKET: TEST_BUCKET}
    blocks = [block for block in tutorial_blocks(TUTORIAL.read_text(encoding="utf-8")) if block.cloud]
    before_cleanup: dict[str, object] = {}
    try:
        ran = walk(blocks, walker, before=lambda block: _before_block(block, moto, before_cleanup))
    finally:
        moto.state.pop("manifest", None)
        with contextlib.suppress(Exception):
            docker_adapter.client.images.remove(f"{registry.host}/{TEST_NAME}:latest", noprune=True)  # type: ignore[attr-defined]

    assert ran == [
        "edit smbyo.yaml",
        "smbyo doctor",
        "smbyo push",
        "smbyo train --data training=data/training",
        "smbyo publish algorithm --dry-run",
        "smbyo publish algorithm",
        "smbyo delete project --data --images --dry-run",
        "smbyo delete project --data --images",
    ]
    # published with the reader's role, the validation data under the reader's validation.output; the clean-up's
    # dry run deleted nothing (seen just before the real run), the real run deleted the algorithm and that data
    assert before_cleanup == {
        "algorithms": ["Completed"],
        "role": f"arn:aws:iam::{ACCOUNT_ID}:role/SageMakerExecutionRole",
        "uploaded": True,
    }
    assert moto.client("sagemaker").list_algorithms()["AlgorithmSummaryList"] == []
    assert moto.client("s3").list_objects_v2(Bucket=TEST_BUCKET).get("KeyCount", 0) == 0
