"""Claude writes the drift explanation's narrative: monitoring's own Claude task and prompt.

The deterministic path stays: without a key (a disabled client) nothing is called and the
rules' headline stands. With a key, :func:`draft_narrative` adds a narrative written from
the same facts, marked as drafted; the effects and the ranked evidence are never changed.

The prompt is ``prompts/drift_explanation.md`` next to this module; every call is a row of
the governance log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from platform_assets.core.llm.tasks import ClaudeTask
from platform_assets.core.monitoring.explanation import DriftExplanation

if TYPE_CHECKING:
    import duckdb

    from platform_assets.core.llm.client import ClaudeClient

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
TASK = ClaudeTask("drift_explanation", PROMPTS_DIR)
MAX_FACTS_CHARS = 12_000


class DriftNarrative(BaseModel):
    narrative: str = Field(description="Two to four sentences explaining the drift from the facts.")


def draft_narrative(
    client: ClaudeClient | None,
    explanation: DriftExplanation,
    log_conn: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    asset: str | None = "monitoring/feature_drift",
) -> DriftExplanation:
    """``explanation`` with Claude's narrative attached (unchanged when Claude is off or fails)."""
    if client is None or not client.enabled:
        return explanation
    facts = explanation.to_dict()
    facts.pop("narrative", None)
    facts.pop("narrative_drafted_by", None)
    result = TASK.ask(
        client,
        log_conn,
        context="The drift facts follow, evidence ranked most telling first.",
        data=json.dumps(facts, default=str)[:MAX_FACTS_CHARS],
        output_model=DriftNarrative,
        run_id=run_id,
        asset=asset,
    )
    if result.ok and result.parsed is not None:
        explanation.narrative = result.parsed.narrative
        explanation.narrative_drafted_by = f"claude ({client.model})"
    return explanation
