"""Model cards built from registry records: facts, drift vs the previous version, diffs."""

from __future__ import annotations

from platform_assets.core.model_card import (
    build_model_card,
    diff_cards,
    metric_drift,
    render_markdown,
)


def _record(version, recall, precision, pr_auc=0.2, gap=0.05):
    return {
        "model_name": "fraud_model",
        "version": version,
        "created_at": "2026-01-09T00:00:00+00:00",
        "config": {
            "model_type": "hist_gradient_boosting",
            "features": ["amount_usd", "hour_of_day"],
        },
        "threshold": 0.2,
        "data_window": {
            "train": ["2026-01-01", "2026-01-06"],
            "holdout": ["2026-01-07", "2026-01-08"],
            "train_rows": 18_000,
            "holdout_rows": 6_000,
            "train_positive_rate": 0.02,
        },
        "metrics": {
            "auroc": 0.85,
            "pr_auc": pr_auc,
            "precision": precision,
            "recall": recall,
            "brier": 0.018,
            "ece": 0.004,
            "rows": 6_000,
            "positives": 120,
            "primary_metric": "pr_auc",
            "slice_gaps": {
                "merchant_category": {
                    "metric": "auroc",
                    "gap": gap,
                    "worst": "fuel",
                    "worst_value": 0.7,
                    "best": "travel",
                    "best_value": 0.9,
                    "measured_slices": 8,
                }
            },
        },
        "lineage": {"run_id": f"run-{version}", "feature_table": "features.transactions"},
        "parity": {"max_abs_diff": 1e-7, "rows": 6000},
    }


def test_metric_drift_in_percentage_points():
    drift = metric_drift(
        {"recall": 0.508, "precision": 0.297}, {"recall": 0.500, "precision": 0.300}
    )
    assert drift["recall"]["text"] == "recall +0.8pp"
    assert drift["precision"]["text"] == "precision -0.3pp"


def test_first_card_has_facts_and_no_approvals():
    card = build_model_card(_record(1, 0.5, 0.3), status="champion")
    assert card["model"]["id"] == "fraud_model:v1" and card["model"]["status"] == "champion"
    assert card["training_data"]["train_window"] == ["2026-01-01", "2026-01-06"]
    assert card["training_data"]["lineage"]["run_id"] == "run-1"
    assert card["evaluation"]["slice_parity"]["merchant_category"]["worst"] == "fuel"
    assert card["approvals"] == [] and card["drafted"] == {}
    assert (
        card["drift_vs_previous"]["previous_version"] is None
        and card["diff_vs_previous_card"] == []
    )
    markdown = render_markdown(card)
    assert (
        "# Model card: fraud_model:v1" in markdown
        and "None yet: this card has not been signed." in markdown
    )
    assert "First version" in markdown and "Credit, lending" in markdown


def test_second_card_reports_drift_and_diff_against_previous_card():
    first_record = _record(1, 0.500, 0.300)
    first = build_model_card(first_record, status="champion")
    second = build_model_card(
        _record(2, 0.508, 0.297, gap=0.2),
        status="challenger",
        previous_record=first_record,
        previous_card=first,
    )
    assert "recall +0.8pp" in second["drift_vs_previous"]["summary"]
    assert "precision -0.3pp" in second["drift_vs_previous"]["summary"]
    changed = {d["field"] for d in second["diff_vs_previous_card"]}
    assert {"model.version", "model.status", "evaluation.headline.recall"} <= changed
    assert "generated_at" not in changed and "training_data.train_window" not in changed
    assert any(
        "AUROC varies by 0.20 across merchant_category" in x for x in second["known_limitations"]
    )
    markdown = render_markdown(second)
    assert "Compared with v1: recall +0.8pp, precision -0.3pp" in markdown
    assert "| model.status | champion | challenger |" in markdown


def test_diff_names_exactly_the_fields_that_changed():
    prior = build_model_card(_record(1, 0.500, 0.300), status="champion")
    retrained = _record(2, 0.520, 0.300, pr_auc=0.25)
    retrained["data_window"]["train"] = ["2026-01-03", "2026-01-08"]
    card = build_model_card(retrained, status="challenger")
    assert diff_cards(prior, card) == [
        {"field": "evaluation.headline.pr_auc", "old": 0.2, "new": 0.25},
        {"field": "evaluation.headline.recall", "old": 0.5, "new": 0.52},
        {"field": "model.id", "old": "fraud_model:v1", "new": "fraud_model:v2"},
        {"field": "model.status", "old": "champion", "new": "challenger"},
        {"field": "model.version", "old": 1, "new": 2},
        {"field": "training_data.lineage.run_id", "old": "run-1", "new": "run-2"},
        {
            "field": "training_data.train_window",
            "old": ["2026-01-01", "2026-01-06"],
            "new": ["2026-01-03", "2026-01-08"],
        },
    ]
    # The same facts generated at another time are no change; the first card has nothing to diff.
    rebuilt = build_model_card(_record(1, 0.500, 0.300), status="champion")
    rebuilt["generated_at"] = "2030-01-01T00:00:00+00:00"
    assert diff_cards(prior, rebuilt) == []
    assert diff_cards(None, card) == []


def test_drafted_prose_and_approvals_are_marked():
    from platform_assets.core.model_card import add_drafted_text, approve

    card = build_model_card(_record(1, 0.5, 0.3), status="champion")
    add_drafted_text(card, "summary", "Ranks card transactions by fraud risk.", drafted_by="claude")
    approve(card, "A. Reviewer", "model risk")
    markdown = render_markdown(card)
    assert "## Drafted prose (not verified)" in markdown and "(drafted by claude)" in markdown
    assert "A. Reviewer (model risk)" in markdown and "not been signed" not in markdown
