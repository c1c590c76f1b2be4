"""The Flask application behind gunicorn: /ping, /invocations and /execution-parameters.

The model is loaded when the app is created (gunicorn preloads it once, before forking workers),
so /ping answers healthy only once the model is in memory and never triggers a load. Bad input is
answered with a 4xx JSON error; only a bug in the user's code (or ours) answers 500, with a generic
message and an error id: the exception and its traceback go to the container log (CloudWatch on
SageMaker), never to the client.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.utils import get_content_type
from werkzeug.wsgi import get_input_stream

from . import codecs
from .errors import InvalidInput, PayloadTooLarge, RequestError, UnsupportedMediaType
from .network import NETWORK_CAUSE, NetworkFailure, forget_attempts, network_failure, watch_connections
from .paths import MlPaths, code_dir, load_spec
from .payload import PayloadLimit, payload_limit
from .usercode import load_module

log = logging.getLogger("smbyo.serving")


@dataclass
class ModelState:
    """The loaded predictor module and model, or why loading failed."""

    module: ModuleType | None = None
    model: Any = None
    error: str | None = None
    load_seconds: float = 0.0
    cause: str | None = None  # NETWORK_CAUSE when load_model failed on a network call

    @property
    def ready(self) -> bool:
        return self.error is None and self.module is not None

    @classmethod
    def load(cls, predictor: Path, model_dir: Path) -> ModelState:
        started = time.perf_counter()
        try:
            module = load_module(predictor, "smbyo_user_predictor")
            loader = getattr(module, "load_model", None)
            if not callable(loader):
                raise TypeError(f"{predictor.name} must define load_model(model_dir)")
            if not callable(getattr(module, "predict", None)):
                raise TypeError(f"{predictor.name} must define predict(model, rows, context)")
            model = loader(str(model_dir))
        except Exception as exc:
            reason = f"model could not be loaded from {model_dir}: {type(exc).__name__}: {exc}"
            failure = network_failure(exc)
            if failure is not None:
                reason = f"model could not be loaded from {model_dir}: {failure.describe('load_model')}"
            print(reason, file=sys.stderr, flush=True)
            traceback.print_exc()
            return cls(error=reason, cause=NETWORK_CAUSE if failure else None)
        seconds = time.perf_counter() - started
        print(f"model loaded from {model_dir} in {seconds:.3f}s", file=sys.stderr, flush=True)
        return cls(module=module, model=model, load_seconds=seconds)


@dataclass
class ServingConfig:
    content_types: list[str]
    accept: list[str]
    payload: PayloadLimit = field(default_factory=payload_limit)
    execution_parameters: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> ServingConfig:
        serving = spec.get("serving", {})
        limit = payload_limit()  # the rule nginx's client_max_body_size follows too (server.py)
        return cls(
            content_types=list(serving.get("content_types", [codecs.CSV])),
            accept=list(serving.get("accept", [codecs.CSV])),
            payload=limit,
            execution_parameters=execution_parameters(limit),
        )


def execution_parameters(limit: PayloadLimit) -> dict[str, Any]:
    """What batch transform should use, from the SAGEMAKER_* environment or sensible defaults.

    MaxPayloadInMB is the body limit this container enforces (``payload_limit``): 6 unless
    SAGEMAKER_MAX_PAYLOAD_IN_MB says otherwise, so a transform never sends more than the container takes.
    """
    cpus = os.cpu_count() or 1
    return {
        "MaxConcurrentTransforms": int(os.environ.get("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", cpus)),
        "BatchStrategy": os.environ.get("SAGEMAKER_BATCH_STRATEGY", "MULTI_RECORD"),
        "MaxPayloadInMB": limit.megabytes,
    }


# An error message quotes values from the request or the user's ValueError; it is cut to this length.
MAX_ERROR_MESSAGE = 1000


@dataclass(frozen=True)
class Answer:
    """A finished /invocations answer: what both the WSGI front and Flask send (see ``InvocationsFront``)."""

    status: int
    body: bytes
    content_type: str = "application/json"

    def response(self) -> Response:
        return Response(self.body, status=self.status, content_type=self.content_type)


def _json_answer(status: int, message: str, **extra: str) -> Answer:
    if len(message) > MAX_ERROR_MESSAGE:
        message = message[: MAX_ERROR_MESSAGE - 1] + "…"
    return Answer(status, json.dumps({"error": message, "status": status, **extra}).encode("utf-8"))


def _json_error(status: int, message: str, **extra: str) -> Response:
    return _json_answer(status, message, **extra).response()


def _internal_error(what: str) -> Answer:
    """A 500 for a bug, in the user's code or ours: the details go to the log under an id, not to the client.

    The exception's text can hold anything (paths, model internals, the request's values), so the body
    says only what failed and the id to look for in the container's log.
    """
    error_id = uuid.uuid4().hex[:12]
    log.exception("%s (error id %s)", what, error_id)
    return _json_answer(
        500, f"{what}: an internal error; the container log has the details (error id {error_id})", error_id=error_id
    )


def _network_error(failure: NetworkFailure) -> Answer:
    """A 500 that says the predictor called the network, which a buyer's container cannot: the one failure
    whose cause is worth naming to the client (the traceback still goes to the log)."""
    log.exception("prediction failed on a network call")
    extra = {"cause": NETWORK_CAUSE, **({"endpoint": failure.endpoint} if failure.endpoint else {})}
    return _json_answer(500, f"prediction failed: {failure.describe('the predictor')}", **extra)


def _http_error(exc: HTTPException) -> Answer:
    """Any error Werkzeug raises (a body cut short, a bad method) as JSON, not Werkzeug's HTML page."""
    status = exc.code or 500
    return _json_answer(status, (exc.description or exc.name).rstrip(".") if status < 500 else exc.name)


class Context(dict[str, Any]):
    """Per-request information for the user's predict: content_type, accept, custom_attributes."""

    @property
    def custom_attributes(self) -> str | None:
        value = self.get("custom_attributes")
        return value if value is None else str(value)


def _decode(state: ModelState, body: bytes, media_type: str, params: dict[str, str], config: ServingConfig) -> Any:
    if not body:
        raise InvalidInput("request body is empty")
    if not config.payload.allows(len(body)):
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {config.payload.describe()}")
    if media_type not in config.content_types:
        raise UnsupportedMediaType(
            f"content type {media_type or '(none)'!r} is not supported; send one of {', '.join(config.content_types)}"
        )
    custom = getattr(state.module, "decode_input", None)
    if callable(custom):
        try:
            return custom(body, media_type)
        except RequestError:
            raise
        except ValueError as exc:  # the same contract as predict: a ValueError is the input's fault
            raise InvalidInput(_value_error_message(exc, "decode_input")) from None
    return codecs.decode(body, media_type, params)


def _value_error_message(exc: ValueError, function: str) -> str:
    return str(exc) or f"{function} refused the input without saying why"


def _encode(state: ModelState, predictions: Any, accept: str) -> bytes:
    custom = getattr(state.module, "encode_output", None)
    if callable(custom):
        encoded = custom(predictions, accept)
        return encoded.encode("utf-8") if isinstance(encoded, str) else bytes(encoded)
    return codecs.encode(predictions, accept)


class Headers(Protocol):
    def get(self, name: str) -> str | None: ...


def invoke(state: ModelState, config: ServingConfig, body: bytes, headers: Headers) -> Answer:
    """One /invocations request, from raw body and headers to the answer."""
    media_type, params = codecs.parse_media_type(headers.get("Content-Type") or config.content_types[0])
    accept = codecs.choose_accept(headers.get("Accept"), config.accept)
    rows = _decode(state, body, media_type, params, config)
    context = Context(
        content_type=media_type,
        accept=accept,
        custom_attributes=headers.get("X-Amzn-SageMaker-Custom-Attributes"),
    )
    try:
        predictions = state.module.predict(state.model, rows, context)  # type: ignore[union-attr]
    except RequestError:
        raise
    except ValueError as exc:
        raise InvalidInput(_value_error_message(exc, "predict")) from None
    return Answer(200, _encode(state, predictions, accept), _content_type(accept))


@functools.lru_cache(maxsize=64)
def _content_type(mimetype: str) -> str:
    """Werkzeug's Content-Type for a mimetype (``text/csv`` gets ``; charset=utf-8``), as Flask's Response sets it."""
    return get_content_type(mimetype, "utf-8")


def answer_invocation(state: ModelState, config: ServingConfig, body: bytes, headers: Headers) -> Answer:
    """POST /invocations: the prediction, a 4xx for bad input, or a 500 whose details go to the log."""
    if not state.ready:
        return _json_answer(503, state.error or "model not loaded")
    forget_attempts()
    try:
        return invoke(state, config, body, headers)
    except RequestError as exc:
        return _json_answer(exc.status, exc.message)
    except Exception as exc:
        failure = network_failure(exc)
        return _internal_error("prediction failed") if failure is None else _network_error(failure)


class _EnvironHeaders:
    """The three request headers /invocations reads, straight from the WSGI environ."""

    __slots__ = ("_environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self._environ = environ

    def get(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        value = self._environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key)
        return value if isinstance(value, str) else None


class InvocationsFront:
    """WSGI middleware (Flask's documented way: it wraps ``app.wsgi_app``) that answers POST /invocations
    itself and passes every other request to Flask.

    Measured in the image, Flask's request context, request and response objects cost about 65 µs a
    request: a quarter of the container's CPU for a 1-row request and a tenth for a 1,000-row one
    (docs/performance.md, "The answer path in front of Flask"). The prediction path needs none of it: it reads the body,
    three headers, and answers bytes. The answer is the one ``answer_invocation`` gives Flask's own
    /invocations view (kept for the 405 and OPTIONS answers Flask's routing gives other methods), so the
    two paths cannot drift.
    """

    def __init__(self, flask_app: Any, state: ModelState, config: ServingConfig) -> None:
        self._flask_app = flask_app
        self._state = state
        self._config = config

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") != "/invocations" or environ.get("REQUEST_METHOD") != "POST":
            return self._flask_app(environ, start_response)
        try:
            body = get_input_stream(environ).read()  # Werkzeug's own reading of a body: Content-Length or chunked
        except HTTPException as exc:  # the body stopped short of its Content-Length
            answer = _http_error(exc)
        else:
            answer = answer_invocation(self._state, self._config, body, _EnvironHeaders(environ))
        reason = HTTP_STATUS_CODES.get(answer.status, "Unknown")
        start_response(
            f"{answer.status} {reason.upper()}",
            [("Content-Type", answer.content_type), ("Content-Length", str(len(answer.body)))],
        )
        return [answer.body]


def _announce_ready(state: ModelState) -> None:
    """Tell nginx the model is loaded (``SMBYO_READY_FILE``, set by the ``serve`` supervisor).

    From then on a /ping's answer cannot change, so nginx gives it without waiting for a gunicorn
    worker: each /ping must answer within 2 s even while every worker is busy with a long
    /invocations (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html).
    Before, or when the load failed, /ping still reaches the app, which answers 503 with the reason.
    """
    ready_file = os.environ.get("SMBYO_READY_FILE")
    if ready_file and state.ready:
        Path(ready_file).touch()


def create_app(model_dir: str | Path | None = None) -> Flask:
    """The WSGI app; loads the model now so that forked workers share it (copy-on-write)."""
    spec = load_spec()
    config = ServingConfig.from_spec(spec)
    directory = Path(model_dir) if model_dir else MlPaths.from_env().model_dir
    watch_connections()
    state = ModelState.load(code_dir() / spec["code"]["predict"], directory)
    _announce_ready(state)
    app = Flask("smbyo_runtime")
    app.config["SMBYO_STATE"] = state

    @app.get("/ping")
    def ping() -> Response:
        if state.ready:
            return Response("", status=200)
        return _json_error(503, state.error or "model not loaded", **({"cause": state.cause} if state.cause else {}))

    @app.get("/execution-parameters")
    def parameters() -> Response:
        return Response(json.dumps(config.execution_parameters), mimetype="application/json")

    # Flask's routing needs this rule for its 405 and OPTIONS answers to other methods; POST itself is answered
    # by the front installed below, so this view runs only where the app is served without it.
    @app.post("/invocations")
    def invocations() -> Response:
        return answer_invocation(state, config, request.get_data(cache=False), request.headers).response()

    app.wsgi_app = InvocationsFront(app.wsgi_app, state, config)  # type: ignore[method-assign]

    @app.errorhandler(404)
    def not_found(_: Exception) -> Response:
        return _json_error(404, "not found; the endpoints are /ping, /invocations and /execution-parameters")

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Response:
        return _json_error(405, "method not allowed: GET /ping, POST /invocations, GET /execution-parameters")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:  # any other error Werkzeug raises: JSON too, not HTML
        return _http_error(exc).response()

    @app.errorhandler(Exception)
    def unexpected(_: Exception) -> Response:
        return _internal_error("request failed").response()

    return app
