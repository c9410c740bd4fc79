"""Claude writes the run-failure ticket: triage's own Claude task and prompt.

The deterministic path stays: without a key (a disabled client) nothing is called and the
pattern library's ticket stands. With a key, :func:`triage_drafter` lets Claude write the
ticket (probable cause, evidence, runbook) from the same evidence the pattern library saw.
The runbook must be on the allow-list; any other answer is ignored and the pattern
library's runbook stays. Whether a runbook runs by itself is still decided by the
allow-list's ``safe_to_automate``, never by Claude.

The prompt is ``prompts/run_failure_triage.md`` next to this module; every call is a row
of the governance log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from platform_assets.core.llm.tasks import ClaudeTask
from platform_assets.core.operations.triage import FailureReport, Runbook, Ticket

if TYPE_CHECKING:
    import duckdb

    from platform_assets.core.llm.client import ClaudeClient

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
TASK = ClaudeTask("run_failure_triage", PROMPTS_DIR)
MAX_EVIDENCE_CHARS = 12_000


class TriageAnswer(BaseModel):
    """Claude's ticket for a failed run (the structured-output schema)."""

    probable_cause: str = Field(description="The most likely cause, one or two sentences.")
    evidence: list[str] = Field(description="Quoted lines of the evidence that support the cause.")
    recommended_action: str = Field(description="The name of one runbook from the allow-list.")


def triage_drafter(
    client: ClaudeClient | None,
    log_conn: duckdb.DuckDBPyConnection,
    allowlist: dict[str, Runbook],
    *,
    run_id: str | None = None,
    asset: str | None = "triage_run_failures",
) -> Callable[[FailureReport, Ticket], dict] | None:
    """The ``drafter`` for :func:`platform_assets.core.operations.triage.triage`, or None
    when Claude is off (the pattern library then writes the ticket alone)."""
    if client is None or not client.enabled:
        return None
    runbooks = json.dumps(
        [{"name": r.name, "description": r.description} for r in allowlist.values()], indent=1
    )

    def draft(report: FailureReport, ticket: Ticket) -> dict[str, Any]:
        evidence = {
            "job": report.job_name,
            "run_error": report.run_error[:2000],
            "failed_steps": [
                {
                    "step": s.step_key,
                    "error": s.error_class,
                    "message": s.message[:2000],
                    "stack_tail": s.stack.strip().splitlines()[-8:],
                    "logs_before": s.logs_before[-10:],
                }
                for s in report.failed_steps
            ],
            "pattern_library": {
                "pattern": ticket.pattern,
                "probable_cause": ticket.probable_cause,
                "runbook": ticket.recommended_action,
            },
            "similar_runs": ticket.similar_runs,
        }
        data = json.dumps(evidence, default=str)[:MAX_EVIDENCE_CHARS].replace("<", "\\u003c")
        result = TASK.ask(
            client,
            log_conn,
            context=f"<runbook_allowlist>\n{runbooks}\n</runbook_allowlist>",
            data=f"<untrusted_failure_evidence>\n{data}\n</untrusted_failure_evidence>",
            output_model=TriageAnswer,
            run_id=run_id or report.run_id,
            asset=asset,
        )
        answer = result.parsed
        if not result.ok or answer is None:
            return {"degraded": f"{result.outcome}: {result.reason}"}
        return {
            "probable_cause": answer.probable_cause,
            "evidence": answer.evidence[:6],
            "recommended_action": answer.recommended_action,
            "drafted_by": f"claude ({client.model})",
        }

    return draft
