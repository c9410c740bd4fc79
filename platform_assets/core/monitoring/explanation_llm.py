"""Claude writes the drift explanation's narrative: monitoring's own Claude task and prompt.

The deterministic path stays: without a key (a disabled client) nothing is called and the
rules' headline stands. With a key, :func:`draft_narrative` adds a narrative written from
the same facts, marked as drafted; the effects and the ranked evidence are never changed.

The prompt is ``prompts/drift_explanation.md`` next to this module; every call is a row of
the governance log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from platform_assets.core.features.transactions import FEATURE_SOURCE_COLUMNS
from platform_assets.core.llm.tasks import ClaudeTask
from platform_assets.core.monitoring.explanation import DriftExplanation

if TYPE_CHECKING:
    import duckdb

    from platform_assets.core.llm.client import ClaudeClient

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
TASK = ClaudeTask("drift_explanation", PROMPTS_DIR)
MAX_FACTS_CHARS = 12_000


def facts_for_claude(explanation: DriftExplanation, withheld: Mapping[str, str]) -> dict:
    """The explanation's facts without a value of a withheld column: the new categories of a
    feature computed from one, and the details of evidence about one (a contract verdict
    may quote values), are replaced by the reason."""
    facts = explanation.to_dict()
    facts.pop("narrative", None)
    facts.pop("narrative_drafted_by", None)
    for effect in facts.get("effects", []):
        sources = {effect.get("feature"), *FEATURE_SOURCE_COLUMNS.get(effect.get("feature"), ())}
        why = next((withheld[c] for c in sources if c in withheld), None)
        if why is not None and effect.get("new_categories"):
            effect["new_categories"] = [f"«withheld: {why}»"]
    for evidence in facts.get("evidence", []):
        why = withheld.get(evidence.get("column") or "")
        if why is not None:
            head = str(evidence.get("detail", "")).split(": ", 1)[0]
            evidence["detail"] = f"{head}: «details withheld: {why}»"
    return facts


class DriftNarrative(BaseModel):
    narrative: str = Field(description="Two to four sentences explaining the drift from the facts.")


def draft_narrative(
    client: ClaudeClient | None,
    explanation: DriftExplanation,
    log_conn: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    asset: str | None = "monitoring/feature_drift",
    withheld: Mapping[str, str] | None = None,
) -> DriftExplanation:
    """``explanation`` with Claude's narrative attached (unchanged when Claude is off or fails).

    ``withheld`` is ``{batch column: why}`` of the columns the contract withholds from
    Claude (``Contract.withheld_columns()``): no value of theirs is in the facts sent.
    """
    if client is None or not client.enabled:
        return explanation
    facts = facts_for_claude(explanation, withheld or {})
    result = TASK.ask(
        client,
        log_conn,
        context="The drift facts follow, evidence ranked most telling first.",
        data=json.dumps(facts, default=str)[:MAX_FACTS_CHARS],
        output_model=DriftNarrative,
        run_id=run_id,
        asset=asset,
    )
    if result.ok:
        explanation.narrative = result.parsed.narrative
        explanation.narrative_drafted_by = f"claude ({client.model})"
    return explanation
