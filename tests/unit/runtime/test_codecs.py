"""The built-in request decoders and response encoders (text/csv, application/json)."""

from __future__ import annotations

import numpy as np
import pytest

from sm_byo.runtime import codecs
from sm_byo.runtime.errors import InvalidInput, NotAcceptable, UnsupportedMediaType


def test_media_type_parameters_are_split_and_lowered() -> None:
    assert codecs.parse_media_type("Text/CSV; Charset=UTF-8") == ("text/csv", {"charset": "utf-8"})
    assert codecs.parse_media_type(None) == ("", {})


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        (None, "text/csv"),
        ("*/*", "text/csv"),
        ("application/json", "application/json"),
        ("application/xml;q=0.9, application/json", "application/json"),
        ("text/csv;q=0.1, application/json;q=0.8", "application/json"),
        ("application/*", "application/json"),
    ],
)
def test_accept_negotiation(header: str | None, chosen: str) -> None:
    assert codecs.choose_accept(header, ["text/csv", "application/json"]) == chosen


def test_an_accept_nothing_offered_matches_is_not_acceptable() -> None:
    with pytest.raises(NotAcceptable, match="image/png"):
        codecs.choose_accept("image/png", ["text/csv"])


def test_csv_rows_become_a_float_matrix() -> None:
    rows = codecs.decode(b"5.1,3.5,1.4,0.2\r\n\n6.1,3,4.6,1.4\n", codecs.CSV, {})
    assert rows.dtype == np.float64
    assert rows.tolist() == [[5.1, 3.5, 1.4, 0.2], [6.1, 3.0, 4.6, 1.4]]


def test_one_csv_row_without_newline_is_a_1_by_n_matrix() -> None:
    assert codecs.decode(b"1,2,3", codecs.CSV, {}).shape == (1, 3)


def test_quoted_csv_values_are_numbers_too() -> None:
    assert codecs.decode(b'"1","2"\n', codecs.CSV, {"charset": "utf-8"}).tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"1,2,3\n4,5\n", "row 2 has 2 values but row 1 has 3"),
        (b"1,2\n3,abc\n", "row 2, column 2: 'abc' is not a number"),
        (b"1,,2\n", "row 1, column 2: '' is not a number"),
        (b'"1","x"\n', "row 1, column 2: 'x' is not a number"),
        (b"\n \n", "no CSV rows"),
        (b"1,\xff\n", "not valid UTF-8"),
    ],
)
def test_bad_csv_names_the_row_and_value(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        codecs.decode(body, codecs.CSV, {})


def test_a_charset_other_than_utf8_is_unsupported() -> None:
    with pytest.raises(UnsupportedMediaType, match="latin-1"):
        codecs.decode(b"1,2\n", codecs.CSV, {"charset": "latin-1"})


def test_a_6_mb_csv_body_parses_whole() -> None:
    body = b"5.1,3.5,1.4,0.2\n" * (6 * 1024 * 1024 // 16)
    rows = codecs.decode(body, codecs.CSV, {})
    assert rows.shape == (6 * 1024 * 1024 // 16, 4)
    assert rows[-1].tolist() == [5.1, 3.5, 1.4, 0.2]


@pytest.mark.parametrize(
    "body",
    [b'{"instances": [[1, 2], [3, 4]]}', b"[[1, 2], [3, 4]]"],
)
def test_json_rows(body: bytes) -> None:
    assert codecs.decode(body, codecs.JSON, {}).tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_a_single_json_row() -> None:
    assert codecs.decode(b"[1, 2]", codecs.JSON, {}).shape == (1, 2)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{[", "not valid JSON"),
        (b'{"rows": []}', "instances"),
        (b"[]", "no rows"),
        (b"[[1, 2], [3]]", "same length"),
        (b'[["a", "b"]]', "only numbers"),
    ],
)
def test_bad_json_is_invalid_input(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        codecs.decode(body, codecs.JSON, {})


def test_csv_output_is_one_line_per_prediction() -> None:
    assert codecs.encode(np.array(["setosa", "virginica"]), codecs.CSV) == b"setosa\nvirginica\n"
    assert codecs.encode(np.array([0.5, 2.0]), codecs.CSV) == b"0.5\n2.0\n"
    assert codecs.encode(np.array([1, 2]), codecs.CSV) == b"1\n2\n"
    assert codecs.encode(np.array([b"a", b"b"]), codecs.CSV) == b"a\nb\n"
    assert codecs.encode([[0.25, "a"], (1, 2)], codecs.CSV) == b"0.25,a\n1,2\n"
    assert codecs.encode(np.array([[0.1, 0.9]]), codecs.CSV) == b"0.1,0.9\n"
    assert codecs.encode(np.array([], dtype=str), codecs.CSV) == b""


def test_json_output_wraps_predictions() -> None:
    assert codecs.encode(np.array(["a", "b"]), codecs.JSON) == b'{"predictions": ["a", "b"]}'


def test_an_unknown_output_type_is_not_acceptable() -> None:
    with pytest.raises(NotAcceptable):
        codecs.encode(["a"], "application/x-protobuf")
