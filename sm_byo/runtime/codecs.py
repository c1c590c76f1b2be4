"""Request decoding and response encoding for the built-in content types (text/csv, application/json).

Parsing avoids pandas on the hot path: a CSV body becomes a float64 matrix with one call to numpy's
C reader, and only when that fails is the body walked row by row to name the bad row in the 400 answer.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
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
    charset = params.get("charset", "utf-8")
    if charset not in ("utf-8", "utf8", "us-ascii", "ascii"):
        raise UnsupportedMediaType(f"charset {charset!r} is not supported; send UTF-8")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"body is not valid UTF-8 (byte {exc.start})") from None


def parse_csv(text: str) -> np.ndarray:
    """A CSV body (no header) as a 2-D float64 array; InvalidInput names the first bad row.

    numpy's C reader (``loadtxt``) parses a valid body several times faster than splitting in Python;
    only a body it rejects is walked again row by row, to say which row and value are wrong.
    """
    if not text.strip():
        raise InvalidInput("body has no CSV rows")
    try:
        return np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None, quotechar='"')
    except ValueError:
        raise _diagnose_csv(text) from None


def _diagnose_csv(text: str) -> InvalidInput:
    """Why numpy refused the body, in terms of the user's rows (1-based) and values."""
    lines = [line for line in text.splitlines() if line.strip()]
    rows = list(csv.reader(lines)) if '"' in text else [line.split(",") for line in lines]
    width = len(rows[0])
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            return InvalidInput(f"row {number} has {len(row)} values but row 1 has {width}")
    return _first_bad_value(rows)


def _first_bad_value(rows: list[list[str]]) -> InvalidInput:
    for number, row in enumerate(rows, start=1):
        for column, value in enumerate(row, start=1):
            try:
                float(value)
            except ValueError:
                return InvalidInput(f"row {number}, column {column}: {value.strip()!r} is not a number")
    return InvalidInput("body is not numeric CSV")


def parse_json(text: str) -> np.ndarray:
    """``{"instances": [[...], ...]}``, ``[[...], ...]`` or one row ``[...]`` as a 2-D float64 array."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if isinstance(data, dict):
        if "instances" not in data:
            raise InvalidInput('JSON body must be a list of rows or {"instances": [rows]}')
        data = data["instances"]
    if isinstance(data, list) and data and not isinstance(data[0], list):
        data = [data]
    if not isinstance(data, list) or not data:
        raise InvalidInput("JSON body has no rows")
    widths = {len(row) if isinstance(row, list) else -1 for row in data}
    if len(widths) != 1 or -1 in widths:
        raise InvalidInput("every JSON row must be a list of the same length")
    try:
        return np.array(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("JSON rows must contain only numbers") from None


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


def encode(predictions: Any, media_type: str) -> bytes:
    """Predictions (one per input row) as CSV lines or ``{"predictions": [...]}``."""
    if media_type == CSV:
        return _csv_lines(predictions).encode("utf-8")
    if media_type == JSON:
        items = predictions.tolist() if isinstance(predictions, np.ndarray) else list(predictions)
        return json.dumps({"predictions": items}).encode("utf-8")
    raise NotAcceptable(f"no built-in encoder for {media_type}; define encode_output() in the predictor")
