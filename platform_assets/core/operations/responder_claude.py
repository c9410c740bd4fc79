"""Claude answers a page through the Messages API's tool use: the on-call responder's task.

:func:`claude_decider` returns a decider for :func:`~.responder.respond`: a bounded loop
(``max_turns`` turns, ``max_tokens`` per turn) in which Claude calls the same tools the
deterministic playbook uses, through the same :class:`~.responder.Toolbox` and its policy,
and ends with a ``finish`` tool carrying the three-field ticket. The stable prefix (tools,
prompt, the allow-list) is cached; each model call is a row of ``platform.llm_calls`` and
each tool call one of ``platform.llm_tool_calls`` (tool, ok/error, latency, turn).

Tool results are untrusted: they go back to Claude wrapped as data, and nothing Claude asks
for bypasses :meth:`Toolbox.act` (allow-list, two reviewers, applies to the page, one action
per page). When Claude refuses, runs out of turns, or the API fails, the playbook decides
instead, over the same tools (actions stay idempotent), and the evidence says so.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from platform_assets.core.llm.governance import ToolCallRecord, record_calls, record_tool_calls
from platform_assets.core.llm.prompts import load_prompt
from platform_assets.core.operations.responder import Decision, Toolbox, playbook

if TYPE_CHECKING:
    import duckdb

    from platform_assets.core.llm.client import ClaudeClient

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
TASK = "on_call_responder"
MAX_TURNS = 6
MAX_TOKENS = 1024
MAX_RESULT_CHARS = 6_000
FINISH = {
    "name": "finish",
    "description": "End the investigation with the ticket.",
    "input_schema": {
        "type": "object",
        "properties": {
            "probable_cause": {"type": "string"},
            "evidence": {"type": "array", "items": {"type": "string"}},
            "recommended_action": {"type": "string"},
        },
        "required": ["probable_cause", "evidence", "recommended_action"],
    },
}


def _untrusted(result: dict) -> str:
    """A tool result as Claude sees it: data, marked as such, bounded in size."""
    text = json.dumps(result, default=str)[:MAX_RESULT_CHARS]
    return f'<tool_data untrusted="true">{text}</tool_data>'


def claude_decider(
    client: ClaudeClient,
    log_conn: duckdb.DuckDBPyConnection,
    max_turns: int = MAX_TURNS,
    max_tokens: int = MAX_TOKENS,
):
    """A decider that lets Claude investigate with tools (see the module docstring)."""
    prompt = load_prompt(TASK, PROMPTS_DIR)

    def decide(tools: Toolbox) -> Decision:
        specs = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in tools.tools()
        ] + [FINISH]
        context = "Allow-listed runbooks (name: description; runs by itself?):\n" + "\n".join(
            f"- {name}: {rb.description} ({'yes' if rb.runs_by_itself else 'needs a person'})"
            for name, rb in sorted(tools.allowlist.items())
        )
        page = tools.page()
        messages: list[dict] = [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": f"Page {page['page_id']} ({page['kind']}) fired: "
                        + _untrusted({"title": page["title"], "summary": page["summary"]}),
                    }
                ],
            }
        ]
        final: dict | None = None
        why_not = "Claude did not finish"
        conversation = uuid.uuid4().hex
        for turn in range(1, max_turns + 1):
            answer = client.tool_turn(
                task=TASK,
                prompt=prompt,
                context=context,
                messages=messages,
                tools=specs,
                turn=turn,
                run_id=page.get("run_id"),
                asset=page["page_id"],
                max_tokens=max_tokens,
            )
            answer.record.conversation_id = conversation
            first_call = len(tools.calls)
            results = []
            for block in answer.content:
                if block.get("type") != "tool_use":
                    continue
                if block["name"] == FINISH["name"]:
                    final = block.get("input") or {}
                    results.append(
                        {"type": "tool_result", "tool_use_id": block["id"], "content": "done"}
                    )
                    continue
                result = tools.call(block["name"], block.get("input") or {}, turn=turn)
                results.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": block["id"],
                        "content": _untrusted(result),
                        "is_error": "error" in result,
                    }
                )
            new_calls = tools.calls[first_call:]
            answer.record.tool_call_errors = sum(1 for c in new_calls if not c.ok)
            record_calls(log_conn, [answer.record])
            record_tool_calls(
                log_conn,
                [
                    ToolCallRecord(
                        answer.record.call_id,
                        answer.record.called_at,
                        TASK,
                        page["page_id"],
                        c.tool,
                        c.ok,
                        c.error or None,
                        c.latency_ms,
                        c.turn,
                    )
                    for c in new_calls
                ],
            )
            if answer.outcome != "ok":
                why_not = f"Claude's turn {turn} ended {answer.outcome}: {answer.reason}"
                break
            if final is not None or not results:
                break
            messages += [
                {"role": "assistant", "content": answer.content},
                {"role": "user", "content": results},
            ]
        else:
            why_not = f"Claude did not finish within {max_turns} turns"
        if final is None or not final.get("probable_cause"):
            decision = playbook(tools)
            decision.evidence.insert(0, f"{why_not}; the playbook decided")
            return decision
        return Decision(
            str(final["probable_cause"]),
            [str(e) for e in final.get("evidence") or []][:20],
            str(final.get("recommended_action") or page["runbook"]),
        )

    return decide
