"""Offline checks against SageMaker's service model: botocore's validation plus what only AWS enforces."""

from __future__ import annotations

from sm_byo.aws.service_model import _compiled, _parse_botocore_name, check_request, enum_values

MINIMAL = {
    "AlgorithmName": "algo",
    "TrainingSpecification": {
        "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/algo:latest",
        "SupportedTrainingInstanceTypes": ["ml.m5.large"],
        "TrainingChannels": [
            {"Name": "training", "SupportedContentTypes": ["text/csv"], "SupportedInputModes": ["File"]}
        ],
    },
}


def paths(request: dict) -> dict[tuple, str]:
    return {violation.path: violation.message for violation in check_request("CreateAlgorithm", request)}


def test_a_minimal_request_passes() -> None:
    assert check_request("CreateAlgorithm", MINIMAL) == []


def test_botocore_errors_carry_the_path_of_the_value() -> None:
    request = {**MINIMAL, "Unknown": 1, "TrainingSpecification": {**MINIMAL["TrainingSpecification"]}}
    del request["TrainingSpecification"]["TrainingImage"]
    found = paths(request)
    assert ("TrainingSpecification", "TrainingImage") in found
    assert "Unknown parameter" in found[("Unknown",)]


def test_patterns_enums_and_maximums_botocore_leaves_to_aws() -> None:
    spec = dict(MINIMAL["TrainingSpecification"])
    spec["SupportedTrainingInstanceTypes"] = ["ml.m5.large", "ml.nope.large"]
    spec["MetricDefinitions"] = [{"Name": f"m{i}", "Regex": "(x)"} for i in range(41)]
    found = paths({**MINIMAL, "AlgorithmName": "no spaces allowed", "TrainingSpecification": spec})
    assert "does not match the pattern" in found[("AlgorithmName",)]
    assert "not one of the values AWS accepts" in found[("TrainingSpecification", "SupportedTrainingInstanceTypes", 1)]
    assert "at most 40" in found[("TrainingSpecification", "MetricDefinitions")]


def test_java_only_patterns_are_translated_or_skipped_never_crash() -> None:
    # TagValue uses \p{L}: Python's re cannot compile it; the regex package can, or it is skipped.
    compiled = _compiled(r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)")
    if compiled is not None:
        assert compiled.fullmatch("héllo wörld")
    tagged = {**MINIMAL, "Tags": [{"Key": "team", "Value": "données"}]}
    assert check_request("CreateAlgorithm", tagged) == []


def test_botocore_names_become_request_paths() -> None:
    assert _parse_botocore_name("A.B[0].C") == ("A", "B", 0, "C")
    assert _parse_botocore_name("Name") == ("Name",)


def test_enum_values_come_from_the_model() -> None:
    assert "ml.c5.xlarge" in enum_values("TrainingInstanceType")
