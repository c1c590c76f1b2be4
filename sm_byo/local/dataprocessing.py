"""A transform job's DataProcessing, record by record: what is sent of each input record, and what is written.

As SageMaker documents it (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html
and https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html):

* ``InputFilter`` selects, from each input record, what is sent to the container. A CSV record "is taken as
  a JSON array" of its columns (so only indexes apply: ``$[1:]``); a JSON (JSON Lines) record is the JSON
  value of its line (``$.features``).
* ``JoinSource`` ``Input`` joins each *input* record (as read, before the input filter) with its output
  record. CSV: "the joined input data is followed by the transformed data" on one line. JSON: the output is
  added to the input object under ``SageMakerOutput``; "If the input isn't a key-value pair object,
  SageMaker creates a new JSON file" with the input under ``SageMakerInput`` and the output under
  ``SageMakerOutput``.
* ``OutputFilter`` selects from the joined record (without a join, from the output record) what is written.

A record that the filter does not fit (not JSON, not an object where a name is asked, an index outside its
columns) is a :class:`RecordError`: the job fails naming the file and its lines, as a SageMaker job fails on
such a record. Records are one line each (SplitType Line; for CSV "you cannot use embedded newline
characters"), or the whole file (SplitType None, JSON only).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sm_byo.errors import UsageError
from sm_byo.jsonpath import JsonPath, PathError, PathSyntaxError, parse
from sm_byo.rules import CSV_TYPE

OUTPUT_KEY = "SageMakerOutput"
INPUT_KEY = "SageMakerInput"


class RecordError(ValueError):
    """One record cannot be filtered or joined; the message says why (the caller names the file and line)."""


def _text(record: bytes) -> str:
    try:
        return record.decode("utf-8").removeprefix("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise RecordError(f"the record is not UTF-8 (byte {exc.start})") from None


def _csv_columns(record: bytes) -> list[str]:
    text = _text(record)
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise RecordError(f"the record is not a CSV row: {exc}") from None
    return rows[0] if rows else []


def _json_value(record: bytes) -> Any:
    try:
        return json.loads(_text(record))
    except RecursionError:
        raise RecordError("the record is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or a number beyond int()'s digit limit
        raise RecordError(f"the record is not JSON: {str(exc)[:200]}") from None


def _csv_line(value: Any) -> bytes:
    items = value if isinstance(value, list) else [value]
    cells = [item if isinstance(item, str) else json.dumps(item, separators=(",", ":")) for item in items]
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue().encode("utf-8")


def _json_line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class RecordFormat:
    """CSV (a record is the array of its columns) or JSON (a record is the JSON value of its line)."""

    csv: bool

    def read(self, record: bytes) -> Any:
        return _csv_columns(record) if self.csv else _json_value(record)

    def write(self, value: Any) -> bytes:
        return _csv_line(value) if self.csv else _json_line(value)


def _select(path: JsonPath | None, value: Any, which: str) -> Any:
    if path is None:
        return value
    try:
        return path.select(value)
    except PathError as exc:
        raise RecordError(f"{which} {path.text}: {exc}") from None


@dataclass(frozen=True)
class RecordProcessing:
    """The DataProcessing of one job, compiled: :meth:`to_send` per input record, :meth:`to_write` per output."""

    input_filter: JsonPath | None  # None: $ (the whole record)
    join: bool
    output_filter: JsonPath | None
    input_format: RecordFormat
    output_format: RecordFormat  # the output record's (Accept); a joined record is in the input's format

    @classmethod
    def from_request(cls, processing: Mapping[str, Any], content_type: str, accept: str) -> RecordProcessing | None:
        """None when the request leaves every record as it is (no DataProcessing, or only its defaults)."""
        input_filter = _compiled(processing.get("InputFilter"), "DataProcessing.InputFilter")
        output_filter = _compiled(processing.get("OutputFilter"), "DataProcessing.OutputFilter")
        join = processing.get("JoinSource") == "Input"
        if input_filter is None and output_filter is None and not join:
            return None
        return cls(input_filter, join, output_filter, RecordFormat(content_type == CSV_TYPE),
                   RecordFormat(accept == CSV_TYPE))  # fmt: skip

    @property
    def per_output_record(self) -> bool:
        """True when every output record is rewritten (a join or an output filter), so each answer is split
        into one record per input record."""
        return self.join or self.output_filter is not None

    def to_send(self, record: bytes) -> bytes:
        """What the container gets of ``record`` (without its line end)."""
        if self.input_filter is None:
            return record.rstrip(b"\r\n")
        value = _select(self.input_filter, self.input_format.read(record), "InputFilter")
        return self.input_format.write(value)

    def to_write(self, record: bytes, output: bytes) -> bytes:
        """The line written for input ``record`` and its ``output`` record (without its line end)."""
        if not self.join:
            value = self.output_format.read(output)
            return self.output_format.write(_select(self.output_filter, value, "OutputFilter"))
        source = self.input_format.read(record)
        result = self.output_format.read(output)
        if self.input_format.csv:
            joined: Any = [*source, *(result if isinstance(result, list) else [result])]
        elif isinstance(source, dict):
            joined = {**source, OUTPUT_KEY: result}
        else:
            joined = {INPUT_KEY: source, OUTPUT_KEY: result}
        return self.input_format.write(_select(self.output_filter, joined, "OutputFilter"))


def _compiled(expression: Any, field: str) -> JsonPath | None:
    """The parsed expression; None for ``$`` or no expression (the whole record)."""
    if expression is None:
        return None
    try:
        path = parse(str(expression))
    except PathSyntaxError as exc:
        raise UsageError(
            f"{field} {expression!r}: {exc}",
            hint="Use the JSONPath subset SageMaker supports (see docs/local.md), or drop the filter.",
        ) from None
    return None if path.is_root else path


def split_answer(answer: bytes, records: int) -> list[bytes] | None:
    """An answer for ``records`` input records as one output record per line; None when the count differs."""
    lines = answer.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines if len(lines) == records else None
