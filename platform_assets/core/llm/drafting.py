"""Claude where the lifecycle needs prose: run-failure tickets and model-card narrative.

Both keep a deterministic path: without a key (a disabled client) nothing is called and
the pattern library's ticket or the fact-only card stands. With a key:

- :func:`triage_drafter` lets Claude write the ticket (probable cause, evidence, runbook)
  from the same evidence the pattern library saw. The runbook must be on the allow-list;
  any other answer is ignored and the pattern library's runbook stays. Whether a runbook
  runs by itself is still decided by the allow-list's ``safe_to_automate``, never by Claude.
- :func:`draft_card_prose` drafts the card's summary and risk narrative, attached as
  *drafted* text (kept apart from the facts, shown as not verified until a person approves).

Every call is a row of the governance log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from platform_assets.core.llm.governance import record_calls
from platform_assets.core.llm.prompts import load_prompt

if TYPE_CHECKING:
    import duckdb

    from platform_assets.core.llm.client import ClaudeClient
    from platform_assets.core.operations.triage import FailureReport, Runbook, Ticket

MAX_EVIDENCE_CHARS = 12_000


class TriageAnswer(BaseModel):
    """Claude's ticket for a failed run (the structured-output schema)."""

    probable_cause: str = Field(description="The most likely cause, one or two sentences.")
    evidence: list[str] = Field(description="Quoted lines of the evidence that support the cause.")
    recommended_action: str = Field(description="The name of one runbook from the allow-list.")


class CardProse(BaseModel):
    """Claude's draft of the model card's prose fields."""

    summary: str = Field(description="What the model does, how well, what changed.")
    risk_narrative: str = Field(description="Risks a reviewer should weigh before signing.")


def triage_drafter(client: ClaudeClient | None, log_conn: duckdb.DuckDBPyConnection,
                   allowlist: dict[str, Runbook], *, run_id: str | None = None,
                   asset: str | None = "triage_run_failures") -> Callable[[FailureReport, Ticket], dict] | None:
    """The ``drafter`` for :func:`platform_assets.core.operations.triage.triage`, or None
    when Claude is off (the pattern library then writes the ticket alone)."""
    if client is None or not client.enabled:
        return None
    prompt = load_prompt("run_failure_triage")
    runbooks = json.dumps([{"name": r.name, "description": r.description} for r in allowlist.values()], indent=1)

    def draft(report: FailureReport, ticket: Ticket) -> dict[str, Any]:
        evidence = {
            "job": report.job_name,
            "run_error": report.run_error[:2000],
            "failed_steps": [{"step": s.step_key, "error": s.error_class, "message": s.message[:2000],
                              "stack_tail": s.stack.strip().splitlines()[-8:], "logs_before": s.logs_before[-10:]}
                             for s in report.failed_steps],
            "pattern_library": {"pattern": ticket.pattern, "probable_cause": ticket.probable_cause,
                                "runbook": ticket.recommended_action},
            "similar_runs": ticket.similar_runs,
        }
        data = json.dumps(evidence, default=str)[:MAX_EVIDENCE_CHARS].replace("<", "\\u003c")
        result = client.structured(task="run_failure_triage", prompt=prompt,
                                   context=f"<runbook_allowlist>\n{runbooks}\n</runbook_allowlist>",
                                   data=f"<untrusted_failure_evidence>\n{data}\n</untrusted_failure_evidence>",
                                   output_model=TriageAnswer, run_id=run_id or report.run_id, asset=asset)
        record_calls(log_conn, [result.record])
        if not result.ok:
            return {"degraded": f"{result.outcome}: {result.reason}"}
        answer = result.parsed
        return {"probable_cause": answer.probable_cause, "evidence": answer.evidence[:6],
                "recommended_action": answer.recommended_action, "drafted_by": f"claude ({client.model})"}

    return draft


def draft_card_prose(client: ClaudeClient | None, card: dict, log_conn: duckdb.DuckDBPyConnection, *,
                     run_id: str | None = None, asset: str | None = "model/model_card") -> dict:
    """Attach Claude's drafted prose to ``card`` (unchanged when Claude is off or fails)."""
    from platform_assets.core.model_card.card import add_drafted_text

    if client is None or not client.enabled:
        return card
    facts = {k: v for k, v in card.items() if k not in ("drafted", "approvals", "diff_vs_previous_card")}
    result = client.structured(task="model_card_prose", prompt=load_prompt("model_card_prose"),
                               context="The card's facts follow.",
                               data=json.dumps(facts, default=str)[:MAX_EVIDENCE_CHARS],
                               output_model=CardProse, run_id=run_id, asset=asset)
    record_calls(log_conn, [result.record])
    if result.ok:
        drafted_by = f"claude ({client.model})"
        add_drafted_text(card, "summary", result.parsed.summary, drafted_by)
        add_drafted_text(card, "risk_narrative", result.parsed.risk_narrative, drafted_by)
    else:
        card.setdefault("drafted", {})["_status"] = {"text": f"not drafted: {result.outcome}: {result.reason}",
                                                     "drafted_by": "none"}
    return card
