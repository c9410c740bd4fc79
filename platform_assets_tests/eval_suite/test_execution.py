"""Cases run for real: a gradient-boosted model exported to ONNX scores scenarios and slices of
its holdout; contract cases go through the real contract check on bundled batches."""

from __future__ import annotations

import math

import pytest

from platform_assets.core.eval_suite.cases import Case
from platform_assets.core.eval_suite.execution import ModelUnderTest, SuiteRunner, derive_columns
from platform_assets_tests.support.evals import case_body
from platform_assets_tests.support.paths import CONTRACTS_DIR

ONLINE_ELECTRONICS = {"filter": "card_present = 0 AND merchant_category = 'electronics'"}
CARD_PRESENT_GROCERY = {"filter": "card_present = 1 AND merchant_category = 'grocery'"}


def case(kind: str, block: dict, case_id: str = "a-case") -> Case:
    return Case.model_validate(case_body(case_id, "scoring#1", kind, block))


@pytest.fixture
def runner(small_model):
    with SuiteRunner(small_model.holdout, CONTRACTS_DIR) as running:
        yield running


@pytest.fixture
def model(small_model) -> ModelUnderTest:
    return ModelUnderTest("challenger", None, small_model.onnx, small_model.threshold)


def test_a_risky_scenario_is_held_and_a_routine_one_approved(runner, model):
    risky = runner.run(
        case(
            "scenario",
            {
                "base": ONLINE_ELECTRONICS,
                "rows": [{"amount_usd": 1800, "hour_of_day": 3}],
                "expect": {"decision": "hold"},
            },
        ),
        model,
    )
    routine = runner.run(
        case(
            "scenario",
            {
                "base": CARD_PRESENT_GROCERY,
                "rows": [{"amount_usd": 12, "hour_of_day": 14}],
                "expect": {"decision": "approve"},
            },
        ),
        model,
    )
    assert risky.status == "passed" and "1 of 1 rows get hold" in risky.detail
    assert routine.status == "passed"
    # The same grocery purchase expected to be held fails, with the row and its score as the
    # example.
    wrong = runner.run(
        case(
            "scenario",
            {
                "base": CARD_PRESENT_GROCERY,
                "rows": [{"amount_usd": 12, "hour_of_day": 14}],
                "expect": {"decision": "hold"},
            },
        ),
        model,
    )
    assert wrong.status == "failed" and wrong.examples[0]["row"]["amount_usd"] == 12
    assert wrong.examples[0]["score"] < model.threshold


def test_a_model_with_a_threshold_above_every_score_holds_nothing(runner, small_model):
    never_holds = ModelUnderTest("challenger", None, small_model.onnx, 1.01)
    risky = runner.run(
        case(
            "scenario",
            {
                "base": ONLINE_ELECTRONICS,
                "rows": [{"amount_usd": 1800, "hour_of_day": 3}],
                "expect": {"decision": "hold"},
            },
        ),
        never_holds,
    )
    assert risky.status == "failed"


def test_rows_recompute_the_columns_the_features_derive():
    row = derive_columns(
        {
            "amount_usd": 10.0,
            "log_amount": math.log1p(10.0),
            "user_amount_mean_7d": 20.0,
            "amount_vs_user_mean_7d": 0.5,
            "hour_of_day": 14,
            "is_night": 0,
            "card_present": 1,
            "has_device_fingerprint": 0,
        },
        {"amount_usd": 100.0, "hour_of_day": 3, "card_present": 0},
    )
    assert (
        row["log_amount"] == pytest.approx(math.log1p(100.0))
        and row["amount_vs_user_mean_7d"] == 5.0
    )
    assert row["is_night"] == 1.0 and row["has_device_fingerprint"] == 1.0
    kept = derive_columns(
        {"amount_usd": 10.0, "log_amount": 0.0}, {"amount_usd": 50.0, "log_amount": 9.0}
    )
    assert kept["log_amount"] == 9.0


def test_a_scenario_missing_model_inputs_is_an_error_naming_them(runner, model):
    outcome = runner.run(
        case("scenario", {"rows": [{"amount_usd": 10}], "expect": {"decision": "approve"}}), model
    )
    assert (
        outcome.status == "error"
        and "lack model inputs" in outcome.detail
        and "merchant_category" in outcome.detail
    )


def test_sampled_holdout_rows_all_get_probabilities(runner, model):
    outcome = runner.run(
        case("scenario", {"sample": {"rows": 500}, "expect": {"score_between": [0, 1]}}), model
    )
    assert outcome.status == "passed" and outcome.detail.startswith("500 of 500 rows")
    narrow = runner.run(
        case("scenario", {"sample": {"rows": 500}, "expect": {"score_between": [0.5, 1]}}), model
    )
    assert narrow.status == "failed"


def test_a_slice_bound_passes_fails_and_refuses_to_judge_too_few_rows(runner, model, small_model):
    flagged = runner.run(
        case("slice_metric", {"metric": "flag_rate", "max": 0.10, "min_support": 100}), model
    )
    assert flagged.status == "passed" and 0 < flagged.measured < 0.10
    tight = runner.run(
        case("slice_metric", {"metric": "flag_rate", "max": flagged.measured / 2}), model
    )
    assert tight.status == "failed" and "must be ≤" in tight.detail
    rows = len(small_model.holdout)
    too_few = runner.run(
        case("slice_metric", {"metric": "recall", "min": 0.0, "min_support": rows}), model
    )
    assert too_few.status == "error" and "needs min_support" in too_few.detail


def test_a_filter_that_does_not_run_is_an_error_naming_the_field(runner, model):
    outcome = runner.run(
        case(
            "slice_metric",
            {"filter": "merchant_categry = 'grocery'", "metric": "recall", "min": 0.1},
        ),
        model,
    )
    assert outcome.status == "error" and outcome.detail.startswith(
        "slice_metric.filter: the condition"
    )


def test_a_gap_between_groups_is_judged_against_its_confidence_bound(runner, model):
    raw = runner.run(
        case(
            "slice_metric",
            {
                "metric": "flag_rate",
                "group_by": "merchant_category",
                "gap_max": 0.0,
                "min_support": 100,
            },
        ),
        model,
    )
    assert raw.status == "failed" and raw.measured > 0 and "largest flag_rate gap" in raw.detail
    lenient = runner.run(
        case(
            "slice_metric",
            {
                "metric": "flag_rate",
                "group_by": "merchant_category",
                "gap_max": raw.measured,
                "min_support": 100,
                "confidence": 0.95,
            },
        ),
        model,
    )
    assert lenient.status == "passed" and "lower 95% bound" in lenient.detail


def test_latency_is_measured_against_its_budget(runner, model):
    fast = runner.run(case("latency", {"budget_ms": 50, "rows": 100}), model)
    assert fast.status == "passed" and 0 < fast.measured < 50
    impossible = runner.run(case("latency", {"budget_ms": 1e-6, "rows": 100}), model)
    assert impossible.status == "failed" and "> budget" in impossible.detail


@pytest.mark.parametrize(
    ("block", "status", "detail"),
    [
        (
            {
                "mutation": {"fault": {"amount_unit": "dollars"}},
                "expect": {
                    "verdict": "reject",
                    "violations": [{"field": "amount_cents", "rule": "unit_change"}],
                },
            },
            "passed",
            "rejected: amount_cents/logicalType, amount_cents/unit_change",
        ),
        ({"expect": {"verdict": "pass"}}, "passed", "the contract passes the batch"),
        # One cent more on every amount is invisible to the contract: a case demanding a rejection
        # fails.
        (
            {
                "mutation": {
                    "sql": "SELECT * REPLACE (amount_cents + 1 AS amount_cents) FROM batch"
                },
                "expect": {"verdict": "reject"},
            },
            "failed",
            "passes a batch it must reject",
        ),
        (
            {
                "mutation": {"fault": {"country_codes": "alpha3"}},
                "expect": {"verdict": "reject", "violations": [{"field": "amount_cents"}]},
            },
            "failed",
            "rejected, but not for the expected reason: missing amount_cents/*",
        ),
        (
            {"mutation": {"sql": "SELECT * FROM batchh"}, "expect": {"verdict": "reject"}},
            "error",
            "contract.mutation.sql does not run",
        ),
        (
            {"table": "orders", "expect": {"verdict": "pass"}},
            "error",
            "contract.table: No contract",
        ),
    ],
)
def test_contract_cases_go_through_the_real_check(runner, model, block, status, detail):
    outcome = runner.run(case("contract", {"batch": {"rows": 500}, **block}), model)
    assert outcome.status == status and detail in outcome.detail
