"""Claude drafts the model card's prose: the card's own Claude task and prompt.

The deterministic path stays: without a key (a disabled client) nothing is called and the
fact-only card stands. With a key, :func:`draft_card_prose` drafts the card's summary and
risk narrative, attached as *drafted* text (kept apart from the facts, shown as not
verified until a person approves).

The prompt is ``prompts/model_card_prose.md`` next to this module; every call is a row of
the governance log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from platform_assets.core.llm.tasks import ClaudeTask
from platform_assets.core.model_card.card import add_drafted_text

if TYPE_CHECKING:
    import duckdb

    from platform_assets.core.llm.client import ClaudeClient

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
TASK = ClaudeTask("model_card_prose", PROMPTS_DIR)
MAX_FACTS_CHARS = 12_000


class CardProse(BaseModel):
    """Claude's draft of the model card's prose fields."""

    summary: str = Field(description="What the model does, how well, what changed.")
    risk_narrative: str = Field(description="Risks a reviewer should weigh before signing.")


def draft_card_prose(
    client: ClaudeClient | None,
    card: dict,
    log_conn: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    asset: str | None = None,
) -> dict:
    """Attach Claude's drafted prose to ``card`` (unchanged when Claude is off or fails)."""
    if client is None or not client.enabled:
        return card
    facts = {
        k: v for k, v in card.items() if k not in ("drafted", "approvals", "diff_vs_previous_card")
    }
    result = TASK.ask(
        client,
        log_conn,
        context="The card's facts follow.",
        data=json.dumps(facts, default=str)[:MAX_FACTS_CHARS],
        output_model=CardProse,
        run_id=run_id,
        asset=asset,
    )
    if result.ok and result.parsed is not None:
        drafted_by = f"claude ({client.model})"
        add_drafted_text(card, "summary", result.parsed.summary, drafted_by)
        add_drafted_text(card, "risk_narrative", result.parsed.risk_narrative, drafted_by)
    else:
        card.setdefault("drafted", {})["_status"] = {
            "text": f"not drafted: {result.outcome}: {result.reason}",
            "drafted_by": "none",
        }
    return card
