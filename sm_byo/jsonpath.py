"""The subset of JSONPath that SageMaker batch transform accepts in DataProcessing, parsed and applied.

SageMaker "supports only a subset of the defined JSONPath operators"
(https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html#data-processing-operators):

=================================  ==============================================================
``$``                              the root; required at the start of every expression
``.name``                          a child by name
``*`` (``.*``, ``[*]``)            every child (an object's values, an array's items)
``['name'(,'name')]``              one child by name, or several (a ``.`` before the bracket is allowed,
                                   ``$.a.['b','c']``); no nesting inside the brackets (``'b.c'`` is refused)
``[n(,n)]``                        an index or several; negative indexes count from the end (-1: the last)
``[start:end]``                    a slice; start or end may be left out (the first, the last element)
=================================  ==============================================================

Slices are **inclusive** of their end, as the same page says twice: "``$[1:4]`` specifies the second
through fifth columns" and "``[:5]`` ... the first column (index 0) through the sixth column". The
examples of the API reference combine indexes and slices in one bracket (``$[0,5:]``,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html), so a bracket holds a
list of indexes and slices. "If you specify indexes that aren't within the dimension size of the joined
dataset, you get an error": an index or an explicit slice bound outside the array is a :class:`PathError`.

A path with only single names and single indexes selects one value; one with a wildcard, several
indexes or a slice selects a list (as JSONPath implementations answer); several names select an object
holding those keys (``$['id','SageMakerOutput']`` keeps both). Expressions are at most 63 characters
(the service model's ``JsonPath``), so parsing is a small hand-written scanner, not a grammar engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ROOT = "$"
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
INDEX = re.compile(r"-?[0-9]+")


class PathSyntaxError(ValueError):
    """The expression is not in the subset SageMaker supports."""


class PathError(ValueError):
    """The expression does not apply to a record (a missing key, an index outside the array, a wrong type)."""


@dataclass(frozen=True)
class Slice:
    """``[start:end]``, both ends included; None: from the first / through the last element."""

    start: int | None
    end: int | None


@dataclass(frozen=True)
class Segment:
    """One step of a path: names (``.a``, ``['a','b']``), indexes and slices (``[0,2:4]``), or ``*``."""

    names: tuple[str, ...] = ()
    items: tuple[int | Slice, ...] = ()
    wildcard: bool = False

    @property
    def selects_many(self) -> bool:
        """A wildcard, several indexes or a slice give a list; one name, one index or several names do not."""
        return self.wildcard or len(self.items) > 1 or any(isinstance(item, Slice) for item in self.items)


@dataclass(frozen=True)
class JsonPath:
    """A parsed expression: apply it with :meth:`select`."""

    text: str
    segments: tuple[Segment, ...]

    @property
    def is_root(self) -> bool:
        """``$``: the whole record (DataProcessing's default, a no-op)."""
        return not self.segments

    @property
    def index_only(self) -> bool:
        """Only indexes, slices and wildcards: what a CSV row (a JSON array of its columns) can take."""
        return all(not segment.names for segment in self.segments)

    def select(self, value: Any) -> Any:
        """The part of ``value`` the path names; :class:`PathError` when it does not apply."""
        nodes = [value]
        many = False
        for segment in self.segments:
            nodes = [found for node in nodes for found in _apply(segment, node)]
            many = many or segment.selects_many
        return nodes if many else nodes[0]


def parse(text: str) -> JsonPath:
    """The expression, or :class:`PathSyntaxError` saying what is outside SageMaker's subset and where."""
    if not text.startswith(ROOT):
        raise PathSyntaxError("must start with $ (the root element)")
    segments: list[Segment] = []
    position = 1
    while position < len(text):
        segment, position = _segment(text, position)
        segments.append(segment)
    return JsonPath(text, tuple(segments))


def syntax_problem(text: str) -> str | None:
    """Why ``text`` is not a JSONPath SageMaker supports (None when it is)."""
    try:
        parse(text)
    except PathSyntaxError as exc:
        return str(exc)
    return None


def _unsupported(text: str, position: int, what: str) -> PathSyntaxError:
    return PathSyntaxError(
        f"{what} at character {position + 1} of {text!r}; SageMaker supports $, .name, .*, ['name','name'], "
        "[n,n] (negative n counts from the end), [start:end] and [*]"
    )


def _segment(text: str, position: int) -> tuple[Segment, int]:
    if text.startswith("..", position):
        raise _unsupported(text, position, "recursive descent (..) is not supported")
    if text.startswith(".[", position):  # $.a.['b','c']: the page's own example of a bracket after a dot
        return _bracket(text, position + 1)
    if text.startswith(".*", position):
        return Segment(wildcard=True), position + 2
    if text.startswith(".", position):
        match = NAME.match(text, position + 1)
        if match is None:
            raise _unsupported(text, position + 1, "a name (letters, digits, _ and -) is expected")
        return Segment(names=(match.group(),)), match.end()
    if text.startswith("[", position):
        return _bracket(text, position)
    raise _unsupported(text, position, f"{text[position]!r} is not a supported operator")


def _bracket(text: str, position: int) -> tuple[Segment, int]:
    close = text.find("]", position)
    if close < 0:
        raise _unsupported(text, position, "an unclosed [")
    inside = text[position + 1 : close]
    if inside.strip() == "*":
        return Segment(wildcard=True), close + 1
    parts = [part.strip() for part in inside.split(",")]
    if all(len(part) >= 2 and part[0] == part[-1] and part[0] in "'\"" for part in parts):
        names = tuple(part[1:-1] for part in parts)
        for name in names:
            if not name or any(char in name for char in ".[]'\"*"):
                raise _unsupported(text, position, f"{name!r} is not a plain name (no nesting inside brackets)")
        return Segment(names=names), close + 1
    return Segment(items=tuple(_item(text, position, part) for part in parts)), close + 1


def _item(text: str, position: int, part: str) -> int | Slice:
    if ":" not in part:
        if not INDEX.fullmatch(part):
            raise _unsupported(text, position, f"{part!r} is neither an index nor a quoted name")
        return int(part)
    bounds = [bound.strip() for bound in part.split(":")]
    if len(bounds) != 2 or any(bound and not INDEX.fullmatch(bound) for bound in bounds):
        raise _unsupported(text, position, f"{part!r} is not a slice [start:end] (no step)")
    start, end = (int(bound) if bound else None for bound in bounds)
    return Slice(start, end)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"an array of {len(value)}"
    return "null" if value is None else f"a {type(value).__name__} ({str(value)[:40]!r})"


def _apply(segment: Segment, node: Any) -> list[Any]:
    if segment.wildcard:
        if isinstance(node, dict):
            return list(node.values())
        if isinstance(node, list):
            return list(node)
        raise PathError(f"* needs an object or an array, not {_kind(node)}")
    if segment.names:
        if not isinstance(node, dict):
            raise PathError(f"{', '.join(map(repr, segment.names))} needs an object, not {_kind(node)}")
        missing = [name for name in segment.names if name not in node]
        if missing:
            raise PathError(f"the record has no key {missing[0]!r}")
        if len(segment.names) == 1:
            return [node[segment.names[0]]]
        return [{name: node[name] for name in segment.names}]
    if not isinstance(node, list):
        raise PathError(f"an index needs an array, not {_kind(node)}")
    found: list[Any] = []
    for item in segment.items:
        if isinstance(item, Slice):
            first = 0 if item.start is None else _position(item.start, len(node))
            last = len(node) - 1 if item.end is None else _position(item.end, len(node))
            found.extend(node[first : last + 1])  # both ends included (see the module docstring)
        else:
            found.append(node[_position(item, len(node))])
    return found


def _position(index: int, length: int) -> int:
    position = index + length if index < 0 else index
    if not 0 <= position < length:
        raise PathError(f"index {index} is outside the array of {length} (indexes 0 to {length - 1})")
    return position
