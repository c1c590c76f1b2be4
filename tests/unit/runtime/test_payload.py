"""The container's body limit: one function (payload_limit) behind nginx, Flask and /execution-parameters."""

from __future__ import annotations

import pytest

from sm_byo.runtime.payload import (
    MB,
    REALTIME_MAX_PAYLOAD_BYTES,
    PayloadLimit,
    PayloadLimitError,
    nginx_directives,
    payload_limit,
)
from sm_byo.runtime.server import server_conf


def test_the_real_time_limit_is_6_mib() -> None:
    assert REALTIME_MAX_PAYLOAD_BYTES == 6_291_456


@pytest.mark.parametrize("environ", [{}, {"SAGEMAKER_MAX_PAYLOAD_IN_MB": ""}, {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "  "}])
def test_without_the_variable_the_limit_is_the_real_time_6_mb(environ: dict[str, str]) -> None:
    limit = payload_limit(environ)
    assert (limit.megabytes, limit.max_bytes) == (6, REALTIME_MAX_PAYLOAD_BYTES)
    assert limit.allows(REALTIME_MAX_PAYLOAD_BYTES) and not limit.allows(REALTIME_MAX_PAYLOAD_BYTES + 1)


@pytest.mark.parametrize(("value", "megabytes"), [("20", 20), (" 100 ", 100), ("1", 1), ("6", 6), ("007", 7)])
def test_the_variable_sets_the_limit_in_mib(value: str, megabytes: int) -> None:
    limit = payload_limit({"SAGEMAKER_MAX_PAYLOAD_IN_MB": value})
    assert limit.megabytes == megabytes and limit.max_bytes == megabytes * MB
    assert limit.allows(megabytes * MB) and not limit.allows(megabytes * MB + 1)


def test_zero_means_no_limit() -> None:
    limit = payload_limit({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "0"})
    assert limit.megabytes == 0 and limit.max_bytes is None
    assert limit.allows(10**12)
    assert "no limit" in limit.describe()


@pytest.mark.parametrize("value", ["abc", "-1", "101", "1.5", "6MB", "0x10", "1e2"])
def test_anything_else_is_refused_with_the_value_and_the_rule(value: str) -> None:
    with pytest.raises(PayloadLimitError) as raised:
        payload_limit({"SAGEMAKER_MAX_PAYLOAD_IN_MB": value})
    message = str(raised.value)
    assert f"SAGEMAKER_MAX_PAYLOAD_IN_MB={value!r}" in message
    assert "0 (no limit) to 100" in message


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_MAX_PAYLOAD_IN_MB", "12")
    assert payload_limit().megabytes == 12
    monkeypatch.delenv("SAGEMAKER_MAX_PAYLOAD_IN_MB")
    assert payload_limit().megabytes == 6


def test_nginx_gets_the_same_number_and_0_for_no_limit() -> None:
    twenty = nginx_directives(PayloadLimit(20, "test"))
    assert f"client_max_body_size {20 * MB};" in twenty
    assert f"client_body_buffer_size {20 * MB};" in twenty
    assert f"larger than {20 * MB} bytes (20 MB)" in twenty and "error_page 413 @too_large;" in twenty
    unlimited = nginx_directives(PayloadLimit(0, "test"))
    assert "client_max_body_size 0;" in unlimited
    assert f"client_body_buffer_size {REALTIME_MAX_PAYLOAD_BYTES};" in unlimited  # bigger bodies: a temp file


def test_the_per_start_server_conf_carries_port_timeouts_and_limit() -> None:
    conf = server_conf(9123, 45, payload_limit({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "20"}))
    assert conf.startswith("listen 9123 reuseport backlog=4096;\nproxy_read_timeout 45s;\n")
    assert f"client_max_body_size {20 * MB};" in conf
    assert conf.count("{") == conf.count("}")  # the 413 location block is closed
