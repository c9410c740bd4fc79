"""Claude drafts the card's prose (marked as drafted); the facts never change."""

from __future__ import annotations

import copy
import json

import duckdb

from platform_assets.core.llm.client import ClaudeClient, ClaudeConfig
from platform_assets.core.model_card.prose import draft_card_prose
from platform_assets_tests.support.scripted_server import Reply, ScriptedServer

FACTS = {
    "model": {"id": "fraud_model:3", "version": 3},
    "intended_use": "Score card transactions for fraud review.",
    "evaluation": {"auroc": 0.86, "pr_auc": 0.20},
    "drift_vs_previous": {"summary": "recall +0.8pp, precision -0.3pp"},
    "known_limitations": ["Labels arrive with the batch; later chargebacks are not reflected."],
    "approvals": [],
}


def test_prose_is_drafted_and_marked_and_facts_stay(tmp_path):
    answer = json.dumps(
        {
            "summary": "The model flags likely fraud; recall rose 0.8pp.",
            "risk_narrative": "Precision fell 0.3pp; review slice gaps before signing.",
        }
    )
    conn = duckdb.connect()
    with ScriptedServer(script=[Reply(text=answer)]) as server:
        client = ClaudeClient(ClaudeConfig(api_key="test-key", base_url=server.url, max_retries=0))
        card = draft_card_prose(client, copy.deepcopy(FACTS), conn)
        (request,) = [r for r in server.requests if r.path.endswith("/messages")]
    assert {k: v for k, v in card.items() if k != "drafted"} == FACTS
    assert card["drafted"]["summary"]["text"].startswith("The model flags likely fraud")
    assert card["drafted"]["risk_narrative"]["drafted_by"].startswith("claude")
    assert "recall +0.8pp" in json.dumps(request.body)
    assert "approvals" not in json.dumps(
        request.body["messages"]
    )  # sign-offs are people's, not sent
    ((task,),) = conn.execute("SELECT task FROM platform.llm_calls").fetchall()
    assert task == "model_card_prose"


def test_without_a_key_the_card_has_facts_only():
    conn = duckdb.connect()
    card = draft_card_prose(ClaudeClient(ClaudeConfig()), copy.deepcopy(FACTS), conn)
    assert card == FACTS
