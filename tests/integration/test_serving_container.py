"""The SageMaker inference HTTP contract, against real running containers of the example image.

A model is trained once per module by running the image's own ``train`` with docker (a temp /opt/ml
with the config JSONs), then served by ``serve`` exactly as SageMaker would start it. Containers are
shared by the module; each test talks real HTTP to them.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sm_byo.runtime.payload import MB, REALTIME_MAX_PAYLOAD_BYTES
from tests.conftest import EXAMPLE_DIR, EXAMPLE_TAG, ca_bundle

PREFIX = "smbyo-perf-test"
MAX_PAYLOAD = REALTIME_MAX_PAYLOAD_BYTES
PAYLOAD = (EXAMPLE_DIR / "payload.csv").read_bytes()
ROW = b"5.1,3.5,1.4,0.2\n"  # 16 bytes: MAX_PAYLOAD is a whole number of rows
ECHO_IMAGE = "{}-echo:{}".format(*EXAMPLE_TAG.rsplit(":", 1))  # per checkout, like conftest's PROBE_TAG
ECHO_PREDICT = """

def predict(model, rows, context):
    if context.custom_attributes == "explode":
        raise RuntimeError("secret internals in /opt/ml/model")
    labels = tree_predict(model, rows, context)
    return np.array([f"{label}|{context.custom_attributes}" for label in labels])
"""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def lines(self) -> list[str]:
        return self.body.decode("utf-8").splitlines()


@dataclass
class Server:
    handle: Any
    port: int

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def invoke(self, body: bytes, content_type: str = "text/csv", **headers: str) -> Reply:
        return self.request("POST", "/invocations", body, {"Content-Type": content_type, **headers})


def _ml_root(root: Path) -> Path:
    """A /opt/ml for `train`: config JSONs and the example's training channel."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"max_leaf_nodes": "10"}))
    (config / "inputdataconfig.json").write_text(
        json.dumps({"training": {"ContentType": "text/csv", "TrainingInputMode": "File", "RecordWrapperType": "None"}})
    )
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    shutil.copytree(EXAMPLE_DIR / "data" / "training", root / "input" / "data" / "training")
    for directory in ("model", "output"):
        (root / directory).mkdir()
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


@pytest.fixture(scope="module")
def model_dir(docker_adapter, example_image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    root = _ml_root(tmp_path_factory.mktemp("ml"))
    handle = docker_adapter.run(
        example_image, ["train"], volumes={str(root): {"bind": "/opt/ml", "mode": "rw"}}, name=f"{PREFIX}-train"
    )
    try:
        code = handle.wait(timeout=300)
        assert code == 0, handle.logs()
    finally:
        handle.remove()
    assert (root / "model" / "model.npz").is_file()
    return root / "model"


def _wait_until_answering(server: Server, deadline_seconds: float = 120) -> Reply:
    """The first /ping answer from the app (nginx's own 503 while gunicorn starts does not count)."""
    deadline = time.monotonic() + deadline_seconds
    last: Reply | None = None
    while time.monotonic() < deadline:
        if not server.handle.running():
            pytest.fail(f"the container exited before answering /ping:\n{server.handle.logs()}")
        try:
            last = server.request("GET", "/ping")
        except (ConnectionError, http.client.HTTPException, OSError):
            last = None
        if last is not None and (last.status == 200 or b"loaded from" in last.body):
            return last
        time.sleep(0.2)
    pytest.fail(f"/ping did not answer from the app in {deadline_seconds}s (last: {last}):\n{server.handle.logs()}")


def _start(  # type: ignore[no-untyped-def]
    docker_adapter, image: str, model: Path, name: str, environment: dict[str, str] | None = None, port: int = 8080
) -> Server:
    container_port = f"{port}/tcp"
    handle = docker_adapter.run(
        image,
        ["serve"],
        volumes={str(model): {"bind": "/opt/ml/model", "mode": "ro"}},
        environment=environment or {},
        ports={container_port: None},
        name=f"{PREFIX}-{name}-{int(time.time() * 1000) % 100000}",
    )
    host_port = None
    for _ in range(100):
        host_port = handle.host_port(container_port)
        if host_port:
            break
        time.sleep(0.1)
    assert host_port, handle.logs()
    return Server(handle, host_port)


@pytest.fixture(scope="module")
def server(docker_adapter, example_image: str, model_dir: Path) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    running = _start(docker_adapter, example_image, model_dir, "main")
    try:
        reply = _wait_until_answering(running)
        assert reply.status == 200, reply
        yield running
    finally:
        running.handle.remove()


@pytest.fixture(scope="module")
def configured(docker_adapter, example_image: str, model_dir: Path) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    """A container started with the SAGEMAKER_* / MODEL_SERVER_* knobs set."""
    environment = {
        "SAGEMAKER_BIND_TO_PORT": "9123",
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "3",
        "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": "5",
        "MODEL_SERVER_WORKERS": "3",
    }
    running = _start(docker_adapter, example_image, model_dir, "knobs", environment, port=9123)
    try:
        assert _wait_until_answering(running).status == 200
        yield running
    finally:
        running.handle.remove()


@pytest.fixture(scope="module")
def batch_20(docker_adapter, example_image: str, model_dir: Path) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    """A container as a transform job with MaxPayloadInMB 20 starts it."""
    environment = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "20"}
    running = _start(docker_adapter, example_image, model_dir, "batch20", environment)
    try:
        assert _wait_until_answering(running).status == 200
        yield running
    finally:
        running.handle.remove()


@pytest.fixture(scope="module")
def batch_unlimited(docker_adapter, example_image: str, model_dir: Path) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    """A container as a transform job with MaxPayloadInMB 0 (no limit) starts it."""
    environment = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "0"}
    running = _start(docker_adapter, example_image, model_dir, "batch0", environment)
    try:
        assert _wait_until_answering(running).status == 200
        yield running
    finally:
        running.handle.remove()


# --- health -----------------------------------------------------------------------------------------------


def test_ping_is_healthy_once_the_model_is_loaded(server: Server) -> None:
    assert server.request("GET", "/ping").status == 200
    assert "model loaded from /opt/ml/model" in server.handle.logs()


def test_a_model_that_cannot_be_loaded_fails_ping_with_the_reason_logged(  # type: ignore[no-untyped-def]
    docker_adapter, example_image: str, tmp_path: Path
) -> None:
    empty = tmp_path / "model"
    empty.mkdir()
    empty.chmod(0o755)
    broken = _start(docker_adapter, example_image, empty, "nomodel")
    try:
        reply = _wait_until_answering(broken)
        assert reply.status == 503
        assert "could not be loaded" in reply.json()["error"]
        logs = broken.handle.logs()
        assert "model could not be loaded from /opt/ml/model" in logs and "model.npz" in logs
        assert broken.invoke(PAYLOAD).status == 503
    finally:
        broken.handle.remove()


def test_ping_answers_within_2_s_while_the_only_worker_is_busy(  # type: ignore[no-untyped-def]
    docker_adapter, example_image: str, model_dir: Path
) -> None:
    """SageMaker gives each /ping 2 s, also under load: a long /invocations must not hold it up."""
    environment = {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100", "MODEL_SERVER_WORKERS": "1"}
    busy = _start(docker_adapter, example_image, model_dir, "busy", environment)
    try:
        assert _wait_until_answering(busy).status == 200
        body = ROW * (60 * MB // len(ROW))  # seconds of work for the one worker
        outcome: dict[str, Any] = {}

        def long_request() -> None:
            started = time.monotonic()
            outcome["reply"] = busy.invoke(body)
            outcome["seconds"] = time.monotonic() - started

        worker = threading.Thread(target=long_request)
        worker.start()
        time.sleep(0.5)  # the request is in the worker by now
        pings = []
        while worker.is_alive():
            started = time.monotonic()
            status = busy.request("GET", "/ping").status
            pings.append((status, time.monotonic() - started))
            time.sleep(0.1)
        worker.join()
        assert outcome["reply"].status == 200 and outcome["seconds"] > 2, outcome.get("seconds")
        assert pings, "the long request ended before any /ping was sent"
        assert all(status == 200 for status, _ in pings)
        assert max(seconds for _, seconds in pings) < 2.0, pings
    finally:
        busy.handle.remove()


# --- predictions ------------------------------------------------------------------------------------------


def test_csv_gets_one_label_per_row(server: Server) -> None:
    reply = server.invoke(PAYLOAD)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/csv")
    assert reply.lines == ["setosa", "versicolor", "virginica", "virginica", "virginica"]


def test_csv_with_a_charset_parameter_is_accepted(server: Server) -> None:
    reply = server.invoke(PAYLOAD, "text/csv; charset=utf-8")
    assert reply.status == 200 and len(reply.lines) == 5


def test_json_rows_get_one_prediction_per_row(server: Server) -> None:
    rows = [[float(v) for v in line.split(",")] for line in PAYLOAD.decode().splitlines()]
    reply = server.invoke(json.dumps({"instances": rows}).encode(), "application/json", Accept="application/json")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json()["predictions"] == ["setosa", "versicolor", "virginica", "virginica", "virginica"]


def test_accept_chooses_the_response_type(server: Server) -> None:
    reply = server.invoke(PAYLOAD, Accept="application/xml;q=0.9, application/json")
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    assert len(reply.json()["predictions"]) == 5


def test_an_accept_the_model_cannot_answer_is_406(server: Server) -> None:
    reply = server.invoke(PAYLOAD, Accept="image/png")
    assert reply.status == 406
    assert "text/csv" in reply.json()["error"]


def test_a_1000_row_body_gets_the_answer_the_same_rows_get_through_numpys_reader(server: Server) -> None:
    rows = PAYLOAD.decode().splitlines()
    plain = ("\n".join(rows[i % len(rows)] for i in range(1000)) + "\n").encode()
    spaced = plain.replace(b",", b" , ")  # the same values with spaces: not plain decimals, numpy's reader parses them
    reply = server.invoke(plain)
    assert reply.status == 200 and len(reply.lines) == 1000
    assert reply.lines[:5] == ["setosa", "versicolor", "virginica", "virginica", "virginica"]
    assert server.invoke(spaced).body == reply.body


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (b"5.1,-,1.4,0.2\n", "row 900, column 2: '-' is not a number"),
        (b"5.1,3.5,1.4\n", "row 900 has 3 values but row 1 has 4"),
        (b"5.1,1e400,1.4,0.2\n", "row 900, column 2: Infinity"),
    ],
)
def test_a_bad_row_in_a_1000_row_body_is_a_400_naming_it(server: Server, bad_row: bytes, message: str) -> None:
    reply = server.invoke(ROW * 899 + bad_row + ROW * 100)
    assert reply.status == 400 and reply.headers["content-type"].startswith("application/json")
    assert message in reply.json()["error"]


BAD_REQUESTS = {
    "unsupported content type": ("application/x-parquet", b"PAR1", 415),
    "malformed CSV": ("text/csv", b"5.1,3.5,1.4,0.2\n6.1,3\n", 400),
    "wrong number of features": ("text/csv", b"5.1,3.5,1.4\n", 400),
    "empty body": ("text/csv", b"", 400),
    "not UTF-8": ("text/csv", b"5.1,3.5,\xff\xfe,0.2\n", 400),
    "not numbers": ("text/csv", b"5.1,abc,1.4,0.2\n", 400),
    "malformed JSON": ("application/json", b"{[1, 2", 400),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS), ids=list(BAD_REQUESTS))
def test_bad_requests_get_a_4xx_json_message_and_the_server_survives(server: Server, case: str) -> None:
    content_type, body, status = BAD_REQUESTS[case]
    reply = server.invoke(body, content_type)
    assert reply.status == status, reply
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json()["error"]
    assert server.invoke(PAYLOAD).status == 200


# Bodies that answered 500 (with the exception's text) before the decoders were hardened, and their kin.
HOSTILE_BODIES = {
    "JSON nested 100,000 deep": ("application/json", b"[" * 100_000),
    "a JSON integer of 5,000 digits": ("application/json", b"[[" + b"1" * 5000 + b", 3.5, 1.4, 0.2]]"),
    "a JSON integer beyond float64": ("application/json", b"[[" + b"9" * 400 + b", 3.5, 1.4, 0.2]]"),
    "JSON NaN": ("application/json", b"[[NaN, 3.5, 1.4, 0.2]]"),
    "a JSON boolean": ("application/json", b"[[true, 3.5, 1.4, 0.2]]"),
    "a JSON string": ("application/json", b'[["5.1", 3.5, 1.4, 0.2]]'),
    "3-D JSON rows": ("application/json", b"[[[5.1, 3.5, 1.4, 0.2]]]"),
    "a duplicate JSON key": ("application/json", b'{"instances": [[5.1, 3.5, 1.4, 0.2]], "instances": []}'),
    "a CSV value over the csv module's field limit": ("text/csv", b'"' + b"1" * 200_000 + b'",3.5,1.4,0.2\n'),
    "200,000 digits then a letter": ("text/csv", b"5.1," + b"2" * 200_000 + b"x,1.4,0.2\n"),
    "CSV 1e400": ("text/csv", b"1e400,3.5,1.4,0.2\n"),
    "CSV nan": ("text/csv", b"nan,3.5,1.4,0.2\n"),
    "a NUL byte": ("text/csv", b"5.1,3.5\x00,1.4,0.2\n"),
}
LEAK = re.compile(r"Traceback|File \"|\b[A-Z][A-Za-z]*(Error|Exception|Warning)\b|(?i:<html)")


@pytest.mark.parametrize("case", list(HOSTILE_BODIES), ids=list(HOSTILE_BODIES))
def test_hostile_bodies_get_a_400_json_that_names_the_problem_and_leaks_nothing(server: Server, case: str) -> None:
    content_type, body = HOSTILE_BODIES[case]
    reply = server.invoke(body, content_type)
    assert reply.status == 400, reply
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json()["status"] == 400 and reply.json()["error"]
    assert not LEAK.search(reply.body.decode()), reply.body
    assert server.request("GET", "/ping").status == 200
    assert server.invoke(PAYLOAD).status == 200


def test_malformed_http_gets_a_json_4xx_from_nginx(server: Server) -> None:
    """Requests nginx refuses before the app sees them (bad framing, huge headers) answer JSON too."""
    requests = [
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",  # TLS to the plain-HTTP port
    ]
    for raw in requests:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
            connection.sendall(raw)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        assert 400 <= status < 500, answer[:300]
        assert b"application/json" in head, answer[:300]
        assert json.loads(body)["status"] == status
    assert server.request("GET", "/ping").status == 200


def test_a_body_of_exactly_the_limit_is_accepted(server: Server) -> None:
    body = ROW * (MAX_PAYLOAD // len(ROW))
    assert len(body) == MAX_PAYLOAD
    reply = server.invoke(body)
    assert reply.status == 200, reply.body[:300]
    assert len(reply.lines) == MAX_PAYLOAD // len(ROW)


def test_one_byte_over_the_limit_is_413(server: Server) -> None:
    body = ROW * (MAX_PAYLOAD // len(ROW)) + b"\n"
    reply = server.invoke(body)
    assert reply.status == 413
    assert "6291456" in reply.json()["error"]
    assert server.invoke(PAYLOAD).status == 200


def test_without_the_variable_a_7_mb_body_is_413_json(server: Server) -> None:
    reply = server.invoke(ROW * (7 * MB // len(ROW)))
    assert reply.status == 413
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json() == {"error": "request body is larger than 6291456 bytes (6 MB)", "status": 413}


def test_max_payload_in_mb_20_accepts_and_answers_a_15_mb_body(batch_20: Server) -> None:
    body = ROW * (15 * MB // len(ROW))
    reply = batch_20.invoke(body)
    assert reply.status == 200, reply.body[:300]
    assert len(reply.lines) == len(body) // len(ROW)
    assert set(reply.lines) == {"setosa"}


def test_max_payload_in_mb_20_refuses_21_mb_with_its_own_number(batch_20: Server) -> None:
    reply = batch_20.invoke(ROW * (21 * MB // len(ROW)))
    assert reply.status == 413
    assert reply.json()["error"] == f"request body is larger than {20 * MB} bytes (20 MB)"
    assert batch_20.invoke(PAYLOAD).status == 200


def test_max_payload_in_mb_0_accepts_a_body_over_6_mb(batch_unlimited: Server) -> None:
    body = ROW * (8 * MB // len(ROW))
    reply = batch_unlimited.invoke(body)
    assert reply.status == 200, reply.body[:300]
    assert len(reply.lines) == len(body) // len(ROW)


def test_execution_parameters_advertise_the_limit_the_container_enforces(
    batch_20: Server, batch_unlimited: Server
) -> None:
    assert batch_20.request("GET", "/execution-parameters").json()["MaxPayloadInMB"] == 20
    assert batch_unlimited.request("GET", "/execution-parameters").json()["MaxPayloadInMB"] == 0
    assert "request body limit: 20971520 bytes (20 MB, SAGEMAKER_MAX_PAYLOAD_IN_MB=20)" in batch_20.handle.logs()


def test_an_invalid_max_payload_in_mb_refuses_to_start_with_the_reason(  # type: ignore[no-untyped-def]
    docker_adapter, example_image: str, model_dir: Path
) -> None:
    handle = docker_adapter.run(
        example_image,
        ["serve"],
        volumes={str(model_dir): {"bind": "/opt/ml/model", "mode": "ro"}},
        environment={"SAGEMAKER_MAX_PAYLOAD_IN_MB": "big"},
        name=f"{PREFIX}-badlimit-{int(time.time() * 1000) % 100000}",
    )
    try:
        assert handle.wait(timeout=60) == 1
        assert "serve: not starting: SAGEMAKER_MAX_PAYLOAD_IN_MB='big' is not a payload size" in handle.logs()
    finally:
        handle.remove()


def test_a_6_mb_body_the_model_rejects_still_gets_a_400(server: Server) -> None:
    row = b"5.1,3.5,1.4\n"
    reply = server.invoke(row * (MAX_PAYLOAD // len(row)))
    assert reply.status == 400
    assert "features" in reply.json()["error"]


def test_unknown_paths_are_404_json(server: Server) -> None:
    reply = server.request("GET", "/nope")
    assert reply.status == 404 and reply.json()["error"]


# --- custom attributes (an extra image whose predictor echoes them) ----------------------------------------


@pytest.fixture(scope="module")
def echo_server(docker_adapter, base_image: str, model_dir: Path, tmp_path_factory) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    from sm_byo.build import build_image
    from sm_byo.manifest import load_manifest
    from sm_byo.reporting import RecordingReporter

    project = tmp_path_factory.mktemp("echo") / "project"
    shutil.copytree(EXAMPLE_DIR, project, symlinks=False)
    predictor = project / "predictor.py"
    predictor.write_text(predictor.read_text().replace("\ndef predict(", "\ndef tree_predict(") + ECHO_PREDICT)
    build_image(
        load_manifest(project / "smbyo.yaml"),
        RecordingReporter(),
        tag=ECHO_IMAGE,
        base_image=base_image,
        network="host",
        ca_bundle=ca_bundle(),
        docker=docker_adapter,
    )
    running = _start(docker_adapter, ECHO_IMAGE, model_dir, "echo")
    try:
        assert _wait_until_answering(running).status == 200, running.handle.logs()
        yield running
    finally:
        running.handle.remove()
        docker_adapter.remove_image(ECHO_IMAGE)


def test_custom_attributes_reach_predict(echo_server: Server) -> None:
    reply = echo_server.invoke(PAYLOAD, **{"X-Amzn-SageMaker-Custom-Attributes": "trace=abc-123"})
    assert reply.status == 200
    assert reply.lines[0] == "setosa|trace=abc-123"
    assert echo_server.invoke(PAYLOAD).lines[0] == "setosa|None"


def test_a_bug_in_predict_is_a_500_with_an_error_id_and_the_details_only_in_the_log(echo_server: Server) -> None:
    reply = echo_server.invoke(PAYLOAD, **{"X-Amzn-SageMaker-Custom-Attributes": "explode"})
    assert reply.status == 500 and reply.headers["content-type"].startswith("application/json")
    answer = reply.json()
    assert "secret" not in reply.body.decode() and not LEAK.search(reply.body.decode())
    assert answer["error"].startswith("prediction failed: an internal error; the container log has the details")
    deadline = time.monotonic() + 10
    while f"error id {answer['error_id']}" not in echo_server.handle.logs() and time.monotonic() < deadline:
        time.sleep(0.2)
    log = echo_server.handle.logs()
    assert f"prediction failed (error id {answer['error_id']})" in log
    assert "RuntimeError: secret internals in /opt/ml/model" in log
    assert echo_server.request("GET", "/ping").status == 200
    assert echo_server.invoke(PAYLOAD).status == 200


# --- container knobs and process model ------------------------------------------------------------------


def test_the_image_accepts_bind_to_port(docker_adapter, example_image: str) -> None:  # type: ignore[no-untyped-def]
    labels = docker_adapter.inspect_image(example_image)["Config"]["Labels"]
    assert labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"


def test_execution_parameters_default(server: Server) -> None:
    reply = server.request("GET", "/execution-parameters")
    assert reply.status == 200
    assert reply.json()["BatchStrategy"] == "MULTI_RECORD" and reply.json()["MaxPayloadInMB"] == 6


def test_execution_parameters_honour_the_environment(configured: Server) -> None:
    reply = configured.request("GET", "/execution-parameters")
    assert reply.json() == {"MaxConcurrentTransforms": 3, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 5}


def test_bind_to_port_moves_the_port(configured: Server) -> None:
    assert configured.invoke(PAYLOAD).status == 200
    assert "listen 9123" not in configured.handle.logs()  # the port is only in the config, never an error


def _gunicorn_processes(server: Server) -> list[dict[str, str]]:
    return [p for p in server.handle.processes() if "gunicorn" in p["args"]]


def _settled_gunicorn_count(server: Server, expected: int) -> int:
    """The gunicorn process count once it reaches ``expected`` (workers fork just after the first /ping)."""
    deadline = time.monotonic() + 30
    count = len(_gunicorn_processes(server))
    while count != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        count = len(_gunicorn_processes(server))
    return count


def test_model_server_workers_sets_the_worker_count(configured: Server) -> None:
    assert _settled_gunicorn_count(configured, 1 + 3) == 1 + 3


def test_the_default_worker_count_is_one_per_cpu(server: Server) -> None:
    cpus = os.cpu_count() or 1  # the container sees the host's CPUs (no --cpuset-cpus here)
    assert _settled_gunicorn_count(server, 1 + cpus) == 1 + cpus


def test_serving_processes_are_not_root(server: Server) -> None:
    processes = server.handle.processes()
    serving = [p for p in processes if "gunicorn" in p["args"] or "nginx" in p["args"] or "smbyo_runtime" in p["args"]]
    assert any("nginx: worker" in p["args"] for p in serving), processes
    assert serving and all(p["user"] not in ("root", "0") for p in serving), processes


def test_sigterm_stops_the_container_cleanly(docker_adapter, example_image: str, model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    running = _start(docker_adapter, example_image, model_dir, "stop")
    try:
        assert _wait_until_answering(running).status == 200
        running.handle.stop(timeout=30)  # SIGTERM, then SIGKILL (exit 137) only after 30 s
        assert running.handle.wait(timeout=60) == 0, running.handle.logs()
    finally:
        running.handle.remove()
