"""The JSONPath subset of SageMaker's DataProcessing: what parses, what is refused, and what each path selects
(https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html#data-processing-operators)."""

from __future__ import annotations

from typing import Any

import pytest

from sm_byo.jsonpath import PathError, PathSyntaxError, parse, syntax_problem
from sm_byo.rules import jsonpath_problem

ROW = ["id-7", "5.1", "3.5", "1.4", "0.2"]  # a CSV record: the array of its columns
RECORD = {"id": 7, "features": [5.1, 3.5, 1.4, 0.2], "meta": {"a": 1, "b": 2}}


@pytest.mark.parametrize(
    ("path", "value", "selected"),
    [
        ("$", ROW, ROW),
        ("$[0]", ROW, "id-7"),
        ("$[-1]", ROW, "0.2"),
        ("$[1,3]", ROW, ["5.1", "1.4"]),
        ("$[0,2]", ROW, ["id-7", "3.5"]),
        ("$[1:]", ROW, ROW[1:]),
        ("$[:1]", ROW, ROW[:2]),  # both ends included: "[:5] ... index 0 through the sixth column"
        ("$[1:3]", ROW, ROW[1:4]),  # "$[1:4] specifies the second through fifth columns"
        ("$[-2:]", ROW, ROW[-2:]),
        ("$[0,3:]", ROW, ["id-7", "1.4", "0.2"]),  # the API reference's "$[0,5:]" shape
        ("$[*]", ROW, ROW),
        ("$.features", RECORD, [5.1, 3.5, 1.4, 0.2]),
        ("$.features[1:]", RECORD, [3.5, 1.4, 0.2]),
        ("$.features[0]", RECORD, 5.1),
        ("$['id']", RECORD, 7),
        ("$['id','features']", RECORD, {"id": 7, "features": [5.1, 3.5, 1.4, 0.2]}),
        ("$.meta.['a','b']", RECORD, {"a": 1, "b": 2}),  # the page's $.field1.['child1','child2']
        ("$.meta.*", RECORD, [1, 2]),
        ("$.*", {"x": [1], "y": 2}, [[1], 2]),
    ],
)
def test_each_supported_operator_selects_what_the_aws_page_says(path: str, value: Any, selected: Any) -> None:
    assert syntax_problem(path) is None and jsonpath_problem(path) is None
    assert parse(path).select(value) == selected


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("features", "must start with $"),
        ("", "must start with $"),
        ("$..id", "recursive descent"),
        ("$[?(@.id > 1)]", "neither an index nor a quoted name"),
        ("$[1:5:2]", "no step"),
        ("$.meta.['a','b.c']", "no nesting"),
        ("$[0", "unclosed"),
        ("$.", "a name"),
        ("$ .id", "not a supported operator"),
        ("$.length()", "not a supported operator"),
    ],
)
def test_expressions_outside_the_subset_are_refused_saying_why(path: str, named: str) -> None:
    problem = jsonpath_problem(path)
    assert problem is not None and named in problem
    with pytest.raises(PathSyntaxError):
        parse(path)


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        ("$[5]", ROW, "outside the array of 5"),
        ("$[-6]", ROW, "outside the array of 5"),
        ("$[1:9]", ROW, "index 9 is outside"),  # "indexes that aren't within the dimension size ... an error"
        ("$.features", ["not", "an", "object"], "needs an object"),
        ("$.features", "a string", "needs an object"),
        ("$.features", None, "needs an object, not null"),
        ("$.missing", RECORD, "no key 'missing'"),
        ("$['id','missing']", RECORD, "no key 'missing'"),
        ("$[0]", {"0": "a"}, "needs an array"),
        ("$.id.*", RECORD, "needs an object or an array"),
    ],
)
def test_a_path_that_does_not_fit_a_record_is_an_error_not_a_guess(path: str, value: Any, why: str) -> None:
    with pytest.raises(PathError, match=why):
        parse(path).select(value)


def test_root_and_index_only_paths_are_recognised() -> None:
    assert parse("$").is_root and not parse("$[0]").is_root
    assert parse("$[1:]").index_only and parse("$[*]").index_only
    assert not parse("$.features").index_only and not parse("$['id']").index_only
