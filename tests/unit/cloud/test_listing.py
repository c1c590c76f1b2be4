"""Reading DescribeChangeSet answers: every ErrorDetailList entry, whatever shape a hostile answer has."""

from __future__ import annotations

from sm_byo.cloud.listing import ListingResult, change_set_failed, error_details


def test_every_error_of_every_change_is_kept_with_its_change() -> None:
    description = {
        "Status": "FAILED",
        "ChangeSet": [
            {
                "ChangeType": "AddDeliveryOptions",
                "Entity": {"Identifier": "prod-1"},
                "ErrorDetailList": [
                    {
                        "ErrorCode": "DUPLICATE_VERSION_TITLE",
                        "ErrorMessage": "The provided version title is already in use.",
                    },
                    {"ErrorCode": "DUPLICATE_ASSET", "ErrorMessage": "You didn't provide a unique ARN."},
                ],
            },
            {"ChangeType": "UpdatePricingTerms", "Entity": {"Identifier": "offer-1"}, "ErrorDetailList": []},
        ],
    }
    rows = error_details(description)
    assert [(r["change"], r["entity"], r["code"]) for r in rows] == [
        ("AddDeliveryOptions", "prod-1", "DUPLICATE_VERSION_TITLE"),
        ("AddDeliveryOptions", "prod-1", "DUPLICATE_ASSET"),
    ]
    error = change_set_failed(ListingResult("add-version", "cs-1", "FAILED", errors=rows, failure="CLIENT_ERROR"))
    assert error.exit_code == 1
    assert "AddDeliveryOptions prod-1: DUPLICATE_ASSET: You didn't provide a unique ARN." in error.message
    assert error.details["errors"] == rows


def test_hostile_answers_are_read_without_crashing() -> None:
    for description in (
        {"ChangeSet": "x"},
        {"ChangeSet": [None, 3, {"Entity": "x", "ErrorDetailList": [None, 1]}]},
        {"ChangeSet": [{"ErrorDetailList": [{"ErrorCode": 7, "ErrorMessage": None}]}]},
    ):
        rows = error_details(description)
        assert all(isinstance(value, str) for row in rows for value in row.values())
    assert error_details({"ChangeSet": [{"ErrorDetailList": [{"ErrorCode": 7}]}]})[0]["code"] == "7"


def test_a_failure_without_details_still_says_why() -> None:
    error = change_set_failed(
        ListingResult("restrict-versions", "cs-2", "CANCELLED", failure="SERVER_FAULT: cancelled")
    )
    assert "ended CANCELLED" in error.message and "SERVER_FAULT: cancelled" in error.message
