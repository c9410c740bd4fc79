"""The drift explanation: effect sizes, upstream evidence ranked by rules, and Claude's
narrative (a real SDK against the scripted Messages API server) kept apart from the facts."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from platform_assets.core import warehouse as wh
from platform_assets.core.llm.governance import read_calls
from platform_assets.core.monitoring.explanation import explain
from platform_assets.core.monitoring.explanation_llm import draft_narrative
from platform_assets.defs.resources import ClaudeResource
from platform_assets_tests.support.scripted_server import Reply, ScriptedServer
from platform_assets_tests.support.typed import present

rng = np.random.default_rng(7)
REFERENCE = pd.DataFrame(
    {
        "amount_usd": rng.lognormal(3.5, 0.7, 4000),
        "merchant_category": rng.choice(["grocery", "fuel", "travel"], 4000),
        "hour_of_day": rng.integers(0, 24, 4000),
    }
)
CURRENT = pd.DataFrame(
    {
        "amount_usd": 100 * rng.lognormal(3.5, 0.7, 4000),
        "merchant_category": rng.choice(["grocery", "fuel", "florists"], 4000),
        "hour_of_day": rng.integers(0, 24, 4000),
    }
)
DRIFT = {
    "amount_usd": {"method": "Wasserstein", "score": 2.0, "threshold": 0.1, "drifted": True},
    "merchant_category": {
        "method": "Jensen-Shannon",
        "score": 0.4,
        "threshold": 0.1,
        "drifted": True,
    },
    "hour_of_day": {"method": "Wasserstein", "score": 0.01, "threshold": 0.1, "drifted": False},
}
COLUMNS = [
    {"name": "amount_cents", "arrow_type": "int64", "family": "bigint", "stored_as": "amount_cents"}
]


@pytest.fixture
def conn(tmp_path):
    with wh.session(tmp_path / "w.duckdb") as conn:

        def verdict(day, violations, passes=True):
            conn.execute(
                "INSERT INTO platform.batch_verdicts (table_name, partition_key, contract_id, "
                "passes, row_count, violations, profile, decided_by) VALUES ('transactions', ?, "
                "'c', ?, 10, ?, '{}', 'rules')",
                [day, passes, json.dumps(violations)],
            )

        def manifest(day, columns):
            conn.execute(
                "INSERT INTO platform.batch_manifest (table_name, partition_key, row_count, "
                "columns, source) VALUES ('transactions', ?, 10, ?, 'bundled')",
                [day, json.dumps(columns)],
            )

        verdict("2026-11-16", [])
        verdict(
            "2026-11-17",
            [
                {
                    "field": "user_id",
                    "rule": "nullValues",
                    "detail": "2% null",
                    "severity": "warning",
                }
            ],
        )
        verdict(
            "2026-11-18",
            [
                {
                    "field": "amount_cents",
                    "rule": "unit_change",
                    "severity": "warning",
                    "detail": "every value is about ×100 of the reference",
                }
            ],
        )
        for day in ("2026-11-16", "2026-11-17"):
            manifest(day, COLUMNS)
        manifest("2026-11-18", [{**COLUMNS[0], "arrow_type": "double", "family": "double"}])
        conn.execute(
            "INSERT INTO quarantine.rows (table_name, partition_key, row_number, row_data, "
            "reasons) VALUES ('transactions', '2026-11-18', 1, '{}', '[]')"
        )
        yield conn


def _explain(conn):
    return explain(
        REFERENCE,
        CURRENT,
        DRIFT,
        2 / 3,
        ("2026-11-18", "2026-11-19"),
        conn,
        table="transactions",
        categorical=("merchant_category",),
        source_configs={
            "2026-11-17": {"amount_unit": "cents"},
            "2026-11-18": {"amount_unit": "dollars"},
        },
        registry_history=[
            {
                "event": "promote",
                "alias": "champion",
                "from": 1,
                "to": 2,
                "actor": "gate",
                "at": "2026-11-17T03:00:00+00:00",
            }
        ],
    )


def test_effects_evidence_and_headline(conn):
    explanation = _explain(conn)
    amount, category = explanation.effects
    assert amount.feature == "amount_usd" and 80 < present(amount.median_ratio) < 125
    assert category.feature == "merchant_category" and category.new_categories == ["florists"]
    assert 0.25 < present(category.total_variation) < 0.42
    assert 0.25 < present(category.new_category_share) < 0.42
    # Evidence about amount_cents (the source of amount_usd) first, on the drifted day; unrelated
    # last.
    kinds = [(e.kind, e.day, e.column) for e in explanation.evidence]
    assert kinds[:3] == [
        ("contract", "2026-11-18", "amount_cents"),
        ("arrival", "2026-11-18", "amount_cents"),
        ("source_config", "2026-11-18", "amount_cents"),
    ]
    assert kinds[-1][0] == "promotion"
    assert ("contract", "2026-11-17", "user_id") in kinds and (
        "quarantine",
        "2026-11-18",
        None,
    ) in kinds
    assert re.fullmatch(
        r"amount_usd moved ×\d+(\.\d)? \(median\) from 2026-11-18, the day the contract check "
        r"warned about unit_change in amount_cents; 1 more feature\(s\) drifted",
        explanation.headline,
    )
    assert (
        explanation.summary()
        .splitlines()[1]
        .startswith("- [contract] 2026-11-18: the contract check warned")
    )


def test_claude_drafts_the_narrative_and_changes_no_fact(conn):
    explanation = _explain(conn)
    facts = json.dumps(
        {k: v for k, v in explanation.to_dict().items() if not k.startswith("narrative")},
        default=str,
    )
    answer = json.dumps(
        {
            "narrative": "amount_usd moved ×100 from 2026-11-18, the day the contract check warned "
            "about a scale change in amount_cents."
        }
    )
    with ScriptedServer(script=[Reply(text=answer)]) as server:
        client = ClaudeResource(api_key="test-key", base_url=server.url, max_retries=0).get_client()
        drafted = draft_narrative(client, explanation, conn, run_id="r1")
        [request] = server.message_requests
    assert (drafted.narrative or "").startswith("amount_usd moved ×100") and (
        drafted.narrative_drafted_by or ""
    ).startswith("claude")
    assert (
        json.dumps(
            {k: v for k, v in drafted.to_dict().items() if not k.startswith("narrative")},
            default=str,
        )
        == facts
    )
    assert "amount_cents" in json.dumps(request.body)  # Claude saw the ranked evidence
    assert "Drafted by claude" in drafted.markdown()
    [call] = read_calls(conn, run_id="r1")
    assert (call.task, call.outcome) == ("drift_explanation", "ok")


def test_a_failed_claude_call_leaves_the_rules_explanation(conn):
    with ScriptedServer(script=[Reply(status=500)]) as server:
        client = ClaudeResource(api_key="test-key", base_url=server.url, max_retries=0).get_client()
        drafted = draft_narrative(client, _explain(conn), conn, run_id="r2")
    assert drafted.narrative is None and drafted.headline.startswith("amount_usd moved")
    [call] = read_calls(conn, run_id="r2")
    assert call.outcome == "error"
