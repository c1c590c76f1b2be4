"""The built-in request decoders and response encoders (text/csv, application/json)."""

from __future__ import annotations

import io
import json
import random
import string

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


# Hostile CSV bodies: each is refused with a 400 that names the row (and column) and the fix, never
# another exception. (body, what the message must say)
HOSTILE_CSV = [
    (b"1e400,1\n", "row 1, column 1: Infinity"),
    (b"1,2\n3,-1e400\n", "row 2, column 2: -Infinity"),
    (b"nan,1\n", "row 1, column 1: NaN"),
    (b"1,inf\n", "row 1, column 2: Infinity"),
    (b"1,2\n3,-Infinity\n", "row 2, column 2: -Infinity"),
    (b"1," + b"9" * 400 + b"\n", "row 1, column 2: Infinity"),
    (b"1," + b"1" * 5000 + b"\n", "row 1, column 2: Infinity"),
    (b'"' + b"x" * 200_000 + b'",1\n', "row 1: not valid CSV \\(a value is too long\\)"),
    (b"1,2\n" * 50_000 + b'"' + b"x" * 200_000 + b'",1\n', "row 50001: not valid CSV \\(a value is too long\\)"),
    (b"1,2\n" * 100_000 + b"1,x\n" + b"1,2\n" * 100_000, "row 100001, column 2: 'x' is not a number"),
    (b"1,2\n" * 100_000 + b"\n\n1,2,3\n", "row 100001 has 3 values but row 1 has 2"),
    (b"1,2\n" * 30_000 + b" \n" + b"1,2\n" * 30_000 + b"1,2,3\n", "row 60001 has 3 values but row 1 has 2"),
    (b"1,2\n" * 30_000 + b'"1",x\n', "row 30001, column 2: 'x' is not a number"),
    (b"1," + b"x" * 200_000 + b"\n", r"row 1, column 2: 'xxxx.*\(200,000 characters\)"),
    (b"1,2\x00\n", r"row 1, column 2: '2\\x00' is not a number"),
    (b"1_000,2\n", "row 1, column 1: '1_000' is not a number"),
    ("\uff11,2\n".encode(), "row 1, column 1: '\uff11' is not a number"),
    ("\u0661,2\n".encode(), "row 1, column 1: '\u0661' is not a number"),
    (b"0x10,2\n", "row 1, column 1: '0x10' is not a number"),
    (b"true,1\n", "row 1, column 1: 'true' is not a number"),
    (b"1,2\x0b3,4\n", r"row 1, column 2: '2\\x0b3' is not a number"),
    (b'1,"2\n3",4\n', r"row 1, column 2: '2\\n3' is not a number"),
    (b'"1,2",3\n', "row 1, column 1: '1,2' is not a number"),
    (b"a,b\n1,2\n", "row 1, column 1: 'a' is not a number"),
    (b"1,2,\n", "row 1, column 3: '' is not a number"),
    (b"1,2\n1,2,3\n", "row 2 has 3 values but row 1 has 2"),
    (b"\xef\xbb\xbf", "no CSV rows"),
    (b"\r\n\r\n", "no CSV rows"),
    (b"\xc3\x28", "not valid UTF-8 \\(byte 0\\)"),
    (b"\xed\xa0\x80,1", "not valid UTF-8"),  # a UTF-16 surrogate, encoded
    (b'{"instances": [[1, 2]]}', "row 1, column 1: '{\"instances\": \\[\\[1' is not a number"),
]


@pytest.mark.parametrize(("body", "message"), HOSTILE_CSV, ids=[str(i) for i in range(len(HOSTILE_CSV))])
def test_hostile_csv_is_refused_naming_the_row(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        codecs.decode(body, codecs.CSV, {})


@pytest.mark.parametrize(
    ("body", "rows"),
    [
        (b"\xef\xbb\xbf1,2\n", [[1.0, 2.0]]),  # a byte order mark is not data
        (b"1,2\r\n3,4\r\n", [[1.0, 2.0], [3.0, 4.0]]),
        (b"1,2\r3,4", [[1.0, 2.0], [3.0, 4.0]]),
        (b"1,2\n \n\t\n3,4\n", [[1.0, 2.0], [3.0, 4.0]]),  # whitespace-only lines are blank lines
        (b"-0,+1,.5,5.,1E5,1e-400\n", [[-0.0, 1.0, 0.5, 5.0, 1e5, 0.0]]),
        (b" 1 , 2 \n", [[1.0, 2.0]]),
    ],
)
def test_csv_that_is_unusual_but_valid_is_taken(body: bytes, rows: list[list[float]]) -> None:
    assert codecs.decode(body, codecs.CSV, {}).tolist() == rows


def test_a_very_wide_csv_row_is_one_row() -> None:
    assert codecs.decode(b",".join([b"1.5"] * 200_000), codecs.CSV, {}).shape == (1, 200_000)


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


# Hostile JSON bodies: (body, what the message must say).
HOSTILE_JSON = [
    (b"{[", "not valid JSON: .* at line 1 column 2"),
    (b'{"rows": []}', "unexpected key\\(s\\): 'rows'"),
    (b"{}", 'a list of rows or {"instances": \\[rows\\]}$'),
    (b'{"instances": [[1]], "extra": 1}', "unexpected key\\(s\\): 'extra'"),
    (b'{"instances": [[1]], "instances": [[2]]}', "the key 'instances' twice"),
    (b'{"instances": [[1]], "a": 1, "a": 2}', "the key 'a' twice"),
    (b'[{"a": 1, "a": 2}]', "row 1, column 1: is an object"),  # refused as a row; its keys do not matter
    (b'{"instances": 5}', "a list of rows"),
    (b'"abc"', "a list of rows"),
    (b"3", "a list of rows"),
    (b"null", "a list of rows"),
    (b"[]", "no rows"),
    (b'{"instances": []}', "no rows"),
    (b"[[]]", "rows have no values"),
    (b"[[], []]", "rows have no values"),
    (b"[[1, 2], [3]]", "row 2 has 1 values but row 1 has 2"),
    (b"[[1, 2], 3]", "row 2 is not a list"),
    (b'[["a", "b"]]', "row 1, column 1: 'a' is a string; send numbers without quotes"),
    (b'[[1, "2"]]', "row 1, column 2: '2' is a string"),
    (b'{"instances": [[1, "2"]]}', "row 1, column 2: '2' is a string"),
    (b"[[1, true]]", "row 1, column 2: true is not a number \\(JSON booleans are not numbers\\)"),
    (b"[false, 1]", "row 1, column 1: false is not a number"),
    (b"[[1, null]]", "row 1, column 2: null is not a number"),
    (b"[[[1, 2]]]", "row 1, column 1: is a list; a row is a flat list of numbers"),
    (b"[[1, [2]]]", "row 1, column 2: is a list"),
    (b"[1, [2, 3]]", "row 1, column 2: is a list"),
    (b'[[1, {"a": 1}]]', "row 1, column 2: is an object"),
    (b"[[1, NaN]]", "row 1, column 2: NaN is not a number the model can take"),
    (b"[[Infinity]]", "row 1, column 1: Infinity"),
    (b"[[1], [-Infinity]]", "row 2, column 1: -Infinity"),
    (b"[[1e400]]", "row 1, column 1: Infinity .*beyond float64"),
    (b"[[-1e400, 1]]", "row 1, column 1: -Infinity"),
    (b"[[" + b"9" * 400 + b"]]", "row 1, column 1: Infinity"),  # an integer beyond float64
    (b"[[1, " + b"1" * 5000 + b"]]", "a number in the JSON body has more than 4,300 digits"),  # int()'s limit
    (b"[[1, -" + b"1" * 4300 + b"]]", "row 1, column 2: Infinity"),  # the longest int() reads, beyond float64
    (b"[" * 100_000, "nested too deeply"),
    (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested too deeply"),
    (b"[[1, 2]] \x00", "not valid JSON: Extra data"),
    (b"[[1,\x002]]", "not valid JSON"),
    (b"[[1, 2]]\n[[3, 4]]", "not valid JSON: Extra data at line 2 column 1"),
    (b"[[1, 2,]]", "not valid JSON"),
    (b"[[01]]", "not valid JSON"),
    (b'["\\ud800"]', "row 1, column 1: '\\\\ud800' is a string"),  # a lone surrogate escape
    ("[[\uff11]]".encode(), "not valid JSON"),
    (b"1,2\n3,4\n", "not valid JSON: Extra data"),  # CSV sent as JSON
    (b"\xff[1]", "not valid UTF-8 \\(byte 0\\)"),
]


@pytest.mark.parametrize(("body", "message"), HOSTILE_JSON, ids=[str(i) for i in range(len(HOSTILE_JSON))])
def test_hostile_json_is_refused_naming_the_row(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        codecs.decode(body, codecs.JSON, {})


@pytest.mark.parametrize(
    ("body", "rows"),
    [
        (b"\xef\xbb\xbf[1, 2]", [[1.0, 2.0]]),
        (b'{"\\u0069nstances": [[1, 2]]}', [[1.0, 2.0]]),  # the key written with an escape
        (b"[-0, 1E5, 1.5e-3, 12345678901234567890]", [[-0.0, 1e5, 0.0015, 1.2345678901234567e19]]),
        (b" \r\n[[1,2],\r\n [3,4]]\r\n", [[1.0, 2.0], [3.0, 4.0]]),
        (b'{"instances": [1, 2]}', [[1.0, 2.0]]),
    ],
)
def test_json_that_is_unusual_but_valid_is_taken(body: bytes, rows: list[list[float]]) -> None:
    assert codecs.decode(body, codecs.JSON, {}).tolist() == rows


def test_decoded_rows_are_finite_float64_matrices() -> None:
    for body, media_type in [(b"[[1, 2]]", codecs.JSON), (b"1,2\n", codecs.CSV)]:
        rows = codecs.decode(body, media_type, {})
        assert rows.dtype == np.float64 and rows.ndim == 2 and np.isfinite(rows).all()


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


@pytest.mark.parametrize(
    ("predictions", "encoded"),
    [
        (np.array([0.5, np.nan, np.inf, -np.inf]), b'{"predictions": [0.5, null, null, null]}'),
        ([[0.5, float("nan")], {"p": float("inf")}], b'{"predictions": [[0.5, null], {"p": null}]}'),
        (
            [np.float32(0.5), np.int64(2), np.array([1, 2]), np.float64("nan")],
            b'{"predictions": [0.5, 2, [1, 2], null]}',
        ),
    ],
)
def test_json_output_is_standard_json_with_null_for_nan(predictions: object, encoded: bytes) -> None:
    assert codecs.encode(predictions, codecs.JSON) == encoded
    json.loads(encoded, parse_constant=lambda token: pytest.fail(f"non-standard JSON token {token}"))


def test_a_prediction_json_cannot_hold_is_a_type_error_for_the_server_to_log() -> None:
    with pytest.raises(TypeError, match="of type object"):
        codecs.encode([object()], codecs.JSON)


def test_an_unknown_output_type_is_not_acceptable() -> None:
    with pytest.raises(NotAcceptable):
        codecs.encode(["a"], "application/x-protobuf")


def test_a_large_body_with_whitespace_lines_parses_whole_across_the_slow_path_blocks() -> None:
    body = b"1,2\n" * 50_000 + b" \n\t\n" + b"3,4\r\n" * 50_000
    rows = codecs.decode(body, codecs.CSV, {})
    assert rows.shape == (100_000, 2)
    assert rows[49_999].tolist() == [1.0, 2.0] and rows[50_000].tolist() == [3.0, 4.0]


# --- large CSV bodies: exactly the values numpy's reader reads, and every bad value named ----------------


def _reader(body: bytes) -> np.ndarray:
    """numpy's own CSV reader on the body: what every decoded value must equal, bit for bit."""
    return np.loadtxt(io.StringIO(body.decode()), delimiter=",", dtype=np.float64, ndmin=2, comments=None)


def _bits(matrix: np.ndarray) -> list[int]:
    return matrix.view(np.int64).ravel().tolist()  # -0.0 and 0.0 differ here, as do neighbouring floats


def _plain_value(rng: random.Random) -> str:
    whole = "".join(rng.choice(string.digits) for _ in range(rng.randint(0, 8)))  # 15 digits at most: exact
    fraction = "".join(rng.choice(string.digits) for _ in range(rng.randint(0, 7)))
    value = rng.choice(["", "", "-", "+"]) + whole + ("." + fraction if rng.random() < 0.7 else "")
    return value if any(c.isdigit() for c in value) else value + "0"


# Values where a hand-written parser would go wrong: -0 keeps its sign; 2**53 and beyond, 22 and 23 decimals,
# 17 significant digits and exponents must round exactly as numpy's reader (and float()) rounds them.
EXACT_EDGES = [
    "-0", "-0.0", "+0", "0.", "-.0", ".5", "-.5", "+.5", "5.", "007.50", "-00", "9007199254740992",
    "-9007199254740992", "0." + "0" * 21 + "1", "5.100000000000001", "0.1", "0.7", "1.1",
]  # fmt: skip
READER_EDGES = [
    "9007199254740993", "0." + "0" * 22 + "1", "0.30000000000000004", "123456789012345678", "1" * 19,
    "-" + "9" * 19, "1e5", "2.5E-3",
]  # fmt: skip


def _large_body(rng: random.Random, edges: list[str]) -> bytes:
    width = rng.randint(1, 6)
    rows = [[_plain_value(rng) if rng.random() > 0.05 else rng.choice(edges) for _ in range(width)]
            for _ in range(rng.randint(200, 400))]  # fmt: skip
    return "\n".join(",".join(row) for row in rows).encode() + rng.choice([b"", b"\n", b"\n\n"])


@pytest.mark.parametrize("seed", range(6))
def test_large_csv_bodies_decode_bit_for_bit_as_numpys_reader(seed: int) -> None:
    body = _large_body(random.Random(seed), READER_EDGES + EXACT_EDGES)
    for sent in (body, body.replace(b"\n", b"\r\n")):
        assert _bits(codecs.decode(sent, codecs.CSV, {})) == _bits(_reader(body))


def test_the_iris_body_of_the_benchmark_decodes_as_numpys_reader() -> None:
    body = b"5.1,3.5,1.4,0.2\n6.1,3,4.6,1.4\n7.7,3.8,6.7,2.2\n-0,-0.0,.5,5.\n" * 250
    assert _bits(codecs.decode(body, codecs.CSV, {})) == _bits(_reader(body))


ROWS_BEFORE = b"5.1,3.5,1.4,0.2\n" * 899


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (b"5.1,-,1.4,0.2\n", "row 900, column 2: '-' is not a number"),
        (b"5.1,.-1,1.4,0.2\n", "row 900, column 2: '.-1' is not a number"),
        (b"5.1,1-2,1.4,0.2\n", "row 900, column 2: '1-2' is not a number"),
        (b"5.1,1.2.3,1.4,0.2\n", "row 900, column 2: '1.2.3' is not a number"),
        (b"5.1,.,1.4,0.2\n", "row 900, column 2: '.' is not a number"),
        (b"5.1,+,1.4,0.2\n", "row 900, column 2: '\\+' is not a number"),
        (b"5.1,,1.4,0.2\n", "row 900, column 2: '' is not a number"),
        (b"5.1,3.5,1.4,\n", "row 900, column 4: '' is not a number"),
        (b",3.5,1.4,0.2\n", "row 900, column 1: '' is not a number"),
        (b"5.1,3.5,1.4\n", "row 900 has 3 values but row 1 has 4"),
        (b"5.1,3.5,1.4,0.2,9\n", "row 900 has 5 values but row 1 has 4"),
        (b"5.1," + b"9" * 400 + b",1.4,0.2\n", "row 900, column 2: Infinity"),
        (b"5.1,-" + b"9" * 400 + b",1.4,0.2\n", "row 900, column 2: -Infinity"),
        (b"5.1,1e400,1.4,0.2\n", "row 900, column 2: Infinity"),
        (b"5.1,nan,1.4,0.2\n", "row 900, column 2: NaN"),
        (b"5.1,0x10,1.4,0.2\n", "row 900, column 2: '0x10' is not a number"),
        (b"5.1,1_0,1.4,0.2\n", "row 900, column 2: '1_0' is not a number"),
    ],
)
def test_a_bad_value_in_a_large_body_is_named_by_row_and_column(bad_row: bytes, message: str) -> None:
    body = ROWS_BEFORE + bad_row + b"5.1,3.5,1.4,0.2\n" * 100
    with pytest.raises(InvalidInput, match=message):
        codecs.decode(body, codecs.CSV, {})


@pytest.mark.parametrize(
    ("body", "rows"),
    [
        (b"1.5,2\n" * 300 + b"\n" + b"3,4.25\n" * 300, 600),  # a blank line between rows
        (b"1.5,2\n" * 300 + b" \n" + b"3,4.25\n" * 300, 600),  # a whitespace-only line
        (b"1.5, 2\n" * 300, 300),  # spaces around values
        (b'"1.5",2\n' * 300, 300),  # quoted values
        (b"1.5e0,2\r" * 300, 300),  # an exponent, and old Mac line breaks
    ],
)
def test_large_bodies_with_blank_lines_spaces_quotes_or_exponents_decode(body: bytes, rows: int) -> None:
    matrix = codecs.decode(body, codecs.CSV, {})
    assert matrix.shape == (rows, 2) and matrix[0].tolist() == [1.5, 2.0]


# --- CSV output bytes: what a client reads, pinned -------------------------------------------------------


@pytest.mark.parametrize(
    ("predictions", "encoded"),
    [
        (np.array([0.1, 1e-05, 1e16, 123456789.0, -0.0, 2.5]), b"0.1\n1e-05\n1e+16\n123456789.0\n-0.0\n2.5\n"),
        (np.array([0.1], dtype=np.float32), b"0.10000000149011612\n"),
        (np.array([np.nan, np.inf, -np.inf]), b"nan\ninf\n-inf\n"),
        (np.array([-3, 0, 2**62], dtype=np.int64), b"-3\n0\n4611686018427387904\n"),
        (np.array([7], dtype=np.uint8), b"7\n"),
        (np.array([True, False]), b"True\nFalse\n"),
        (np.array(["setosa", "a,b", "é"]), "setosa\na,b\né\n".encode()),
        (np.array([[1, 2], [3, 4]]), b"1,2\n3,4\n"),
        (np.array([[0.5, 1.0]], dtype=np.float32), b"0.5,1.0\n"),
        ([0.1, 2, "x", np.float64(0.2), np.int64(3), np.float32(0.1)], b"0.1\n2\nx\n0.2\n3\n0.10000000149011612\n"),
        (np.array(["a", 1], dtype=object), b"a\n1\n"),
    ],
)
def test_csv_output_bytes_are_pinned(predictions: object, encoded: bytes) -> None:
    assert codecs.encode(predictions, codecs.CSV) == encoded


def test_a_6_mb_body_of_random_decimals_decodes_as_numpys_reader() -> None:
    body = _large_body(random.Random(7), READER_EDGES + EXACT_EDGES)
    body = (body.rstrip(b"\n") + b"\n") * (6 * 1024 * 1024 // len(body))
    assert _bits(codecs.decode(body, codecs.CSV, {})) == _bits(_reader(body))


def test_a_wider_row_past_the_first_64_kb_is_named() -> None:
    rows = codecs.WALK_BLOCK // 8 + 10  # "1.5,2.5\n" is 8 characters: the bad row is in the slow path's block 2
    with pytest.raises(InvalidInput, match=f"row {rows + 1} has 3 values but row 1 has 2"):
        codecs.decode(b"1.5,2.5\n" * rows + b"1.5,2.5,3\n" + b"1.5,2.5\n" * 10, codecs.CSV, {})
