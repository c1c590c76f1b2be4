"""What buyer conditions cost a local serving container: start-up to a healthy /ping, and requests through
the relay, with network isolation (own internal network + relay container) and without (port published
directly), alternating so that a machine shared with other work affects both equally.

Trains the example once with the image's own ``train``, then for each round starts the serving container
both ways through :func:`sm_byo.local.serving.serving_containers` (the one way serve, transform and
validate start it) and measures:

* start-up: from the call to the first /ping 200 (network, containers, relay, model load);
* one-row requests: requests/s from 8 client threads for ``--seconds``;
* one large body: seconds for a ``--megabytes`` MB CSV body (the container started as a transform job with
  MaxPayloadInMB 100 starts it).

    python3 benchmarks/serve_isolation.py [--image smbyo-test/decision-trees:latest] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from sm_byo.docker import DockerAdapter, connect
from sm_byo.local.archive import model_directory
from sm_byo.local.containers import LogPump, container_name
from sm_byo.local.http import ContainerClient
from sm_byo.local.serving import ServingStart, serving_containers, wait_until_healthy
from sm_byo.local.training import local_training_plan, run_training_job
from sm_byo.manifest import load_manifest
from sm_byo.options import TrainCommand
from sm_byo.reporting import RecordingReporter

EXAMPLE = Path(__file__).resolve().parent.parent / "algorithms" / "decision_trees"
ROW = b"5.1,3.5,1.4,0.2\n"
MB = 1024 * 1024


def train(adapter: DockerAdapter, image: str, work: Path) -> Path:
    options = TrainCommand(
        local=True, image=image, data={"training": str(EXAMPLE / "data" / "training")}, out=work / "train"
    )
    plan = local_training_plan(load_manifest(EXAMPLE / "smbyo.yaml"), options)
    trained = run_training_job(plan.request("CreateTrainingJob").kwargs, RecordingReporter(), docker=adapter)
    return model_directory(Path(str(trained.model_artifacts)), work)


def requests_per_second(url: str, seconds: float, threads: int = 8) -> float:
    client = ContainerClient(url)
    counts = [0] * threads
    end = time.monotonic() + seconds

    def send(index: int) -> None:
        while time.monotonic() < end:
            if client.invoke(ROW, content_type="text/csv", timeout=30).ok:
                counts[index] += 1

    workers = [threading.Thread(target=send, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def large_body_seconds(url: str, megabytes: int) -> float:
    body = ROW * (megabytes * MB // len(ROW))
    answer = ContainerClient(url).invoke(body, content_type="text/csv", timeout=600)
    assert answer.ok, answer.error()
    return answer.seconds


def one_round(
    adapter: DockerAdapter, image: str, model: Path, isolated: bool, args: argparse.Namespace
) -> dict[str, float]:
    environment = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100"}
    start = ServingStart(image, model, container_name("bench-isolation"), {"dev.smbyo.kind": "benchmark"}, environment)
    began = time.perf_counter()
    with serving_containers(adapter, [start], isolated=isolated) as containers:
        pump = LogPump(containers[0].handle, RecordingReporter(), "serve").start()
        url = wait_until_healthy(containers[0], pump, 120)
        healthy = time.perf_counter() - began
        return {
            "start-up to healthy /ping (s)": healthy,
            "one-row requests/s (8 threads)": requests_per_second(url, args.seconds),
            f"{args.megabytes} MB body (s)": large_body_seconds(url, args.megabytes),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="smbyo-test/decision-trees:latest", help="a built example image")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of one-row requests (default 5)")
    parser.add_argument("--megabytes", type=int, default=50, help="size of the large body (default 50)")
    args = parser.parse_args()
    adapter = connect()
    with tempfile.TemporaryDirectory(prefix="smbyo-bench-isolation-") as work:
        model = train(adapter, args.image, Path(work))
        results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        for _ in range(args.rounds):
            for isolated in (True, False):
                results[isolated].append(one_round(adapter, args.image, model, isolated, args))
    print(f"{'median of ' + str(args.rounds) + ' rounds':36} {'isolated':>10} {'not':>10} {'ratio':>7}")
    for metric in results[True][0]:
        on = statistics.median(row[metric] for row in results[True])
        off = statistics.median(row[metric] for row in results[False])
        print(f"{metric:36} {on:10.2f} {off:10.2f} {on / off:7.2f}")


if __name__ == "__main__":
    main()
