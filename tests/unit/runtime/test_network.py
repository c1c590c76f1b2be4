"""Recognising a network call in a failure (sm_byo.runtime.network), with real sockets on this machine."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from sm_byo.runtime.network import ISOLATION_PHRASE, forget_attempts, network_failure, watch_connections


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def watched() -> None:
    watch_connections()
    forget_attempts()


def test_a_refused_connection_behind_a_library_error_names_the_endpoint() -> None:
    port = _closed_port()
    with pytest.raises(urllib.error.URLError) as raised:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/weights", timeout=5)
    failure = network_failure(raised.value)
    assert failure is not None
    assert failure.endpoint == f"127.0.0.1:{port}" and failure.reason == "Connection refused"
    described = failure.describe("the predictor")
    assert f"to 127.0.0.1:{port}" in described and ISOLATION_PHRASE in described


def test_an_error_raised_while_handling_a_network_error_is_one_too() -> None:
    port = _closed_port()
    try:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            raise RuntimeError("could not fetch the tokenizer") from None  # the chain keeps __context__
    except RuntimeError as exc:
        failure = network_failure(exc)
    assert failure is not None and failure.endpoint == f"127.0.0.1:{port}"


def test_a_name_that_does_not_resolve_is_a_network_failure() -> None:
    with pytest.raises(socket.gaierror) as raised:
        socket.getaddrinfo("weights.smbyo-test.invalid", 443)
    failure = network_failure(raised.value)
    assert failure is not None and failure.endpoint == "weights.smbyo-test.invalid:443"
    assert failure.reason.startswith("name resolution failed")


def test_other_errors_are_not_network_failures() -> None:
    assert network_failure(ValueError("expected 4 features")) is None
    assert network_failure(FileNotFoundError(2, "No such file or directory")) is None
    assert network_failure(TimeoutError("the model took too long")) is None  # no connection was attempted


def test_a_new_request_forgets_the_endpoint_an_earlier_one_tried() -> None:
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", _closed_port()), timeout=5)
    forget_attempts()
    assert network_failure(TimeoutError("slow")) is None
