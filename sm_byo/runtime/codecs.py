"""Request decoding and response encoding for the built-in content types (text/csv, application/json).

Parsing avoids pandas on the hot path: a CSV body becomes a float64 matrix with one call to numpy's
C reader, and only when that fails is the body walked row by row to name the bad row in the 400 answer.

Every body is hostile until decoded: whatever it holds, decoding ends in a matrix of finite float64
values, one row per record and one width for all, or in :class:`InvalidInput` naming the row and column
(never in another exception: the server would answer 500). Responses are standard JSON (no NaN).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .errors import InvalidInput, NotAcceptable, UnsupportedMediaType

CSV = "text/csv"
JSON = "application/json"
BUILTIN_DECODERS = (CSV, JSON)
BUILTIN_ENCODERS = (CSV, JSON)


def parse_media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """``'text/csv; charset=utf-8'`` -> ``('text/csv', {'charset': 'utf-8'})``."""
    if not header:
        return "", {}
    kind, _, rest = header.partition(";")
    params = {}
    for item in rest.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"').lower()
    return kind.strip().lower(), params


def choose_accept(header: str | None, offered: Sequence[str]) -> str:
    """The response type: the first offered type the client accepts (q-values respected)."""
    if not header or header.strip() in ("*/*", ""):
        return offered[0]
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        kind, params = parse_media_type(item)
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 1.0
        if quality > 0:
            ranked.append((-quality, position, kind))
    for _, _, kind in sorted(ranked):
        if kind == "*/*":
            return offered[0]
        for candidate in offered:
            if kind == candidate or (kind.endswith("/*") and candidate.startswith(kind[:-1])):
                return candidate
    raise NotAcceptable(f"cannot answer with {header!r}; this model answers with {', '.join(offered)}")


def decode_text(body: bytes, params: dict[str, str]) -> str:
    """The body as text: UTF-8 only; a leading byte order mark (as Excel writes) is not data and is dropped."""
    charset = params.get("charset", "utf-8")
    if charset not in ("utf-8", "utf8", "us-ascii", "ascii"):
        raise UnsupportedMediaType(f"charset {charset!r} is not supported; send UTF-8")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"body is not valid UTF-8 (byte {exc.start})") from None
    return text.removeprefix("\ufeff")


def show(value: str, limit: int = 40) -> str:
    """A value from the body as an error message quotes it: repr'd (control characters escaped), cut short."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value):,} characters)"


def _not_finite(value: float) -> str:
    if math.isnan(value):
        return "NaN is not a number the model can take; send finite numbers"
    return (
        f"{'-' if value < 0 else ''}Infinity (or a number beyond float64's range, about 1.8e308) "
        "is not a number the model can take; send finite numbers"
    )


def _first_not_finite(matrix: np.ndarray) -> InvalidInput:
    row, column = (int(i) for i in np.argwhere(~np.isfinite(matrix))[0])
    return InvalidInput(f"row {row + 1}, column {column + 1}: {_not_finite(float(matrix[row, column]))}")


def _require_values(matrix: np.ndarray) -> np.ndarray:
    if matrix.shape[1] == 0:
        raise InvalidInput("rows have no values")
    return matrix


# --- CSV ----------------------------------------------------------------------------------------------

LINE_BREAK = re.compile(r"\r\n|\r|\n")
FLOAT64_MAX = float(np.finfo(np.float64).max)


def parse_csv(text: str) -> np.ndarray:
    """A CSV body (no header) as a 2-D float64 array; InvalidInput names the first bad row and column.

    SageMaker's text/csv request: one record per line, values separated by commas, no header
    (https://docs.aws.amazon.com/sagemaker/latest/dg/cdf-inference.html).

    numpy's C reader (``loadtxt``) parses a valid body several times faster than splitting in Python;
    only a body it rejects is walked again row by row, to say which row and value are wrong. Rows are
    counted without blank lines. NaN, Infinity and numbers beyond float64 (1e400) are refused too.
    """
    if not text.strip():
        raise InvalidInput("body has no CSV rows")
    try:
        matrix = _loadtxt(text)
    except ValueError:
        matrix = _walk_csv(text)
    if not np.isfinite(matrix).all():
        raise _first_not_finite(matrix)
    return _require_values(matrix)


def _loadtxt(text: str) -> np.ndarray:
    return np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None, quotechar='"')


def _is_csv_number(value: str) -> bool:
    """Whether numpy's reader takes ``value`` as a number: what float() takes (a decimal number, inf,
    nan; spaces around it), in ASCII (float() would also take non-ASCII digits and spaces) and without
    the '_' float() allows between digits. No regex: nothing to backtrack on a 200,000-digit value."""
    try:
        float(value)
    except ValueError:
        return False
    return value.isascii() and "_" not in value


class _BadCsv(Exception):
    """The csv module could not split a row (the walk numbers it)."""


def _csv_rows(text: str) -> Iterator[list[str]]:
    """The text's rows split into values, blank lines skipped (quotes honoured only when it has any)."""
    if '"' not in text:
        yield from (line.split(",") for line in LINE_BREAK.split(text) if line.strip())
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a value over the csv module's field limit, a stray quote
            raise _BadCsv("a value is too long" if "field limit" in str(exc) else "its quotes do not pair up") from None
        if len(row) > 1 or (row and row[0].strip()):
            yield row


# The slow path hands numpy this many characters at a time (whole lines): only the block that fails is
# walked in Python, so naming the bad row of a 6 MB body costs about two numpy parses, not a Python walk
# of every value (seconds and hundreds of MB for a 100 MB transform request).
WALK_BLOCK = 1 << 16


def _walk_csv(text: str) -> np.ndarray:
    """The slow path, for a body numpy refused: the first row of another width or the first non-number.

    The body is parsed again in blocks of whole lines; the first block numpy refuses is walked row by row
    to word the 400. A body with no bad row (numpy refused whitespace-only lines between rows, which it
    counts as rows) is the blocks' rows, put together.
    """
    parts: list[np.ndarray] = []
    rows_before = 0
    width: int | None = None
    start = 0
    while start < len(text):
        end = text.find("\n", start + WALK_BLOCK)
        end = len(text) if end < 0 else end + 1
        block, start = text[start:end], end
        if not block.strip():
            continue
        try:
            matrix = _loadtxt(block)
        except ValueError:
            matrix = _walk_block(block, rows_before, width)
        if width is None:
            width = matrix.shape[1]
        elif matrix.shape[1] != width:  # every row of the block has this width: its first row is the culprit
            raise InvalidInput(f"row {rows_before + 1} has {matrix.shape[1]} values but row 1 has {width}")
        rows_before += matrix.shape[0]
        parts.append(matrix)
    if not parts:
        raise InvalidInput("body has no CSV rows")
    return np.concatenate(parts)


def _walk_block(block: str, rows_before: int, width: int | None) -> np.ndarray:
    """One block row by row: InvalidInput for its first bad row (numbered in the whole body), or its rows."""
    number = rows_before
    try:
        for row in _csv_rows(block):
            number += 1
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise InvalidInput(f"row {number} has {len(row)} values but row 1 has {width}")
            for column, value in enumerate(row, start=1):
                if not _is_csv_number(value):
                    raise InvalidInput(f"row {number}, column {column}: {show(value.strip())} is not a number")
    except _BadCsv as exc:
        raise InvalidInput(f"row {number + 1}: not valid CSV ({exc})") from None
    rows = number - rows_before
    lines = [line for line in LINE_BREAK.split(block) if line.strip()]
    try:
        matrix = _loadtxt("\n".join(lines))
    except ValueError:
        raise InvalidInput(f"rows {rows_before + 1} to {rows_before + rows} are not numeric CSV") from None
    return matrix


# --- JSON ---------------------------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads keeps the last of two equal keys, silently; a body that says two things is refused."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InvalidInput(f"JSON object has the key {show(key)} twice")
            seen.add(key)
    return data


# Duplicate keys are looked for only in a body that is an object ({"instances": ...}): the hook is a Python
# call per object, and objects anywhere else are refused anyway.
_JSON_DECODER = json.JSONDecoder()
_JSON_OBJECT_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null is not a number"
    if isinstance(value, bool):
        return f"{str(value).lower()} is not a number (JSON booleans are not numbers)"
    if isinstance(value, str):
        return f"{show(value)} is a string; send numbers without quotes"
    if isinstance(value, list):
        return "is a list; a row is a flat list of numbers"
    if isinstance(value, dict):
        return "is an object; a row is a flat list of numbers"
    return f"is not a number ({type(value).__name__})"


def _walk_json(rows: list[Any]) -> InvalidInput | None:
    """The slow path, for rows numpy refused or the fast checks doubt: the first row that is not a list
    of the first row's width, or the first value that is not a finite number (None when all are)."""
    width = len(rows[0]) if isinstance(rows[0], list) else 0
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list):
            return InvalidInput(f"row {number} is not a list; send rows as [[numbers], ...]")
        if len(row) != width:
            return InvalidInput(f"row {number} has {len(row)} values but row 1 has {width}")
        for column, value in enumerate(row, start=1):
            kind = type(value)
            if kind is float and not math.isfinite(value):
                return InvalidInput(f"row {number}, column {column}: {_not_finite(value)}")
            if kind is int and not -FLOAT64_MAX <= value <= FLOAT64_MAX:
                return InvalidInput(f"row {number}, column {column}: {_not_finite(math.inf)}")
            if kind is not float and kind is not int:
                return InvalidInput(f"row {number}, column {column}: {_json_kind(value)}")
    return None


MAX_JSON_DEPTH = 32  # rows need 3 levels ({"instances": [[...]]}); the parser's own limit varies by Python


def _nesting_problem(data: Any) -> InvalidInput | None:
    """A 400 for a body nested deeper than :data:`MAX_JSON_DEPTH`, found without recursion.

    Python 3.11's parser stops deep nesting with RecursionError; 3.12+ parse thousands of levels. Either
    way the answer must be the same, so the depth is measured here (only on bodies that fail a check).
    """
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return InvalidInput("JSON body is nested too deeply; send rows as [[numbers], ...]")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, list | dict))
    return None


def parse_json(text: str) -> np.ndarray:
    """``{"instances": [[...], ...]}``, ``[[...], ...]`` or one row ``[...]`` as a 2-D float64 array.

    ``{"instances": [...]}`` is the wrapper of SageMaker's JSON request format, each instance here a
    list of numbers (https://docs.aws.amazon.com/sagemaker/latest/dg/cdf-inference.html).

    Defensive: nesting is bounded by the parser's recursion limit (a 400, not a RecursionError), an
    integer of more than 4,300 digits (int()'s limit) or beyond float64 is refused, duplicate keys and
    keys other than ``instances`` are refused, and every row must be a flat list of finite numbers, all
    of one width. The fast path is one ``json.loads`` and one ``np.array``, with checks that cost
    microseconds; the Python walk that names the bad row and column runs only for a body that fails one.
    """
    decoder = _JSON_OBJECT_DECODER if text.lstrip().startswith("{") else _JSON_DECODER
    try:
        data: Any = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidInput("JSON body is nested too deeply; send rows as [[numbers], ...]") from None
    except ValueError as exc:  # int()'s limit: 4,300 digits (float64 holds about 309)
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(
            f"a number in the JSON body has more than {sys.get_int_max_str_digits():,} digits; "
            "send numbers float64 can hold (up to about 1.8e308)"
        ) from None
    start = 0
    if isinstance(data, dict):
        if set(data) != {"instances"}:
            if (deep := _nesting_problem(data)) is not None:
                raise deep
            others = ", ".join(show(key) for key in sorted(data) if key != "instances")
            raise InvalidInput(
                'JSON body must be a list of rows or {"instances": [rows]}'
                + (f"; unexpected key(s): {others}" if others else "")
            )
        data = data["instances"]
        start = text.index(":") + 1  # after the one key: the rows
    if not isinstance(data, list):
        raise InvalidInput('JSON body must be a list of rows or {"instances": [rows]}')
    if not data:
        raise InvalidInput("JSON body has no rows")
    rows = data if isinstance(data[0], list) else [data]
    try:
        matrix = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError, OverflowError, RecursionError):  # ragged rows, lists or objects among numbers
        problem = _nesting_problem(rows) or _walk_json(rows)
        raise problem or InvalidInput("JSON rows must contain only numbers") from None
    # numpy takes "1", true and false for numbers and null for NaN: rows with a quote or a 't' or 'f' (no
    # JSON number has one) are walked, as are 3-D rows and NaN/Infinity. Each find() is one memchr.
    doubtful = text.find('"', start) >= 0 or text.find("t", start) >= 0 or text.find("f", start) >= 0
    if doubtful or matrix.ndim != 2 or not np.isfinite(matrix).all():
        problem = _nesting_problem(rows) or _walk_json(rows)
        if problem is not None:
            raise problem
    return _require_values(matrix)


def decode(body: bytes, media_type: str, params: dict[str, str]) -> np.ndarray:
    text = decode_text(body, params)
    if media_type == CSV:
        return parse_csv(text)
    if media_type == JSON:
        return parse_json(text)
    raise UnsupportedMediaType(f"no built-in decoder for {media_type}; define decode_input() in the predictor")


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _csv_lines(predictions: Any) -> str:
    """One line per prediction; a 1-D numpy array (the common case) is joined without a per-item check."""
    if isinstance(predictions, np.ndarray) and predictions.ndim == 1 and predictions.dtype.kind in "USifub":
        items = predictions.tolist()
        kind = predictions.dtype.kind
        cells = items if kind == "U" else map(repr, items) if kind == "f" else map(_text, items)
        return "\n".join(cells) + "\n" if items else ""
    items = predictions.tolist() if isinstance(predictions, np.ndarray) else list(predictions)
    out = io.StringIO()
    for item in items:
        if isinstance(item, list | tuple):
            out.write(",".join(_cell(v) for v in item))
        else:
            out.write(_cell(item))
        out.write("\n")
    return out.getvalue()


def _json_default(value: Any) -> Any:
    """numpy values a predictor may return inside lists (np.float32(0.5), np.int64(2), an array row)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"a prediction of type {type(value).__name__} cannot be written as JSON")


# One encoder for every response (json.dumps with options would build a new one per call).
_JSON_ENCODER = json.JSONEncoder(allow_nan=False, default=_json_default)


def _finite_or_null(value: Any) -> Any:
    """``value`` with every NaN and ±Infinity replaced by null (what JavaScript's JSON.stringify writes)."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return _finite_or_null(value.tolist())
    return value


def encode_json(predictions: Any) -> bytes:
    """``{"predictions": [...]}`` in standard JSON (RFC 8259 has no NaN or Infinity): a prediction that is
    NaN or ±Infinity is written as null, like JavaScript's JSON.stringify; Python's json would write the
    bare tokens ``NaN``/``Infinity``, which strict JSON parsers (Java, Go, JavaScript) refuse."""
    items = predictions.tolist() if isinstance(predictions, np.ndarray) else list(predictions)
    try:
        text = _JSON_ENCODER.encode({"predictions": items})
    except ValueError:  # "Out of range float values are not JSON compliant": only then walk the values
        text = _JSON_ENCODER.encode({"predictions": _finite_or_null(items)})
    return text.encode("utf-8")


def encode(predictions: Any, media_type: str) -> bytes:
    """Predictions (one per input row) as CSV lines or ``{"predictions": [...]}``."""
    if media_type == CSV:
        return _csv_lines(predictions).encode("utf-8")
    if media_type == JSON:
        return encode_json(predictions)
    raise NotAcceptable(f"no built-in encoder for {media_type}; define encode_output() in the predictor")
