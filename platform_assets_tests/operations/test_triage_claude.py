"""Claude writes the triage ticket when a key is set; the runbook allow-list still rules.

The real SDK talks to the scripted Messages API server; the failures are real failed runs.
"""

from __future__ import annotations

import json

from platform_assets.core import warehouse as wh
from platform_assets.defs.resources import ClaudeResource
from platform_assets_tests.support.scripted_server import Reply, ScriptedServer
from platform_assets_tests.support.triage import fail_and_triage, failing_job


def _answer(runbook: str) -> str:
    return json.dumps(
        {
            "probable_cause": "The flux capacitor config key is missing from the run config.",
            "evidence": ["KeyError: 'flux capacitor'"],
            "recommended_action": runbook,
        }
    )


def _with_claude(resources, server):
    return {
        **resources,
        "claude": ClaudeResource(api_key="test-key", base_url=server.url, max_retries=0),
    }


def test_claude_writes_the_ticket_from_the_evidence(env):
    _tmp_path, resources, instance = env
    job = failing_job("claude_job", lambda: (_ for _ in ()).throw(RuntimeError("flux capacitor")))
    with ScriptedServer(script=[Reply(text=_answer("fix_run_config"))]) as server:
        ticket, _actions, _ = fail_and_triage(instance, _with_claude(resources, server), job=job)
        (request,) = [r for r in server.requests if r.path.endswith("/messages")]
    assert ticket["probable_cause"].startswith("The flux capacitor config key is missing")
    assert ticket["recommended_action"] == "fix_run_config"
    assert ticket["drafted_by"].startswith("claude")
    assert any("pattern library: unknown" in e for e in ticket["evidence"])
    assert "flux capacitor" in json.dumps(request.body)  # Claude saw the evidence
    assert "escalate_to_on_call" in json.dumps(request.body)  # and the allow-list
    with wh.session(resources["warehouse"].database) as conn:
        ((task, outcome),) = conn.execute("SELECT task, outcome FROM platform.llm_calls").fetchall()
    assert (task, outcome) == ("run_failure_triage", "ok")


def test_a_runbook_off_the_allow_list_is_ignored(env):
    _tmp_path, resources, instance = env
    job = failing_job("rogue_job", lambda: (_ for _ in ()).throw(RuntimeError("flux capacitor")))
    with ScriptedServer(script=[Reply(text=_answer("drop_all_tables"))]) as server:
        ticket, actions, _ = fail_and_triage(instance, _with_claude(resources, server), job=job)
    assert ticket["recommended_action"] == "escalate_to_on_call"
    assert any(
        "'drop_all_tables', which is not on the runbook allow-list: ignored" in e
        for e in ticket["evidence"]
    )
    assert "drop_all_tables" not in {runbook for runbook, _, _ in actions}


def test_a_failed_claude_call_leaves_the_pattern_library_ticket(env):
    _tmp_path, resources, instance = env
    job = failing_job("refused_job", lambda: (_ for _ in ()).throw(RuntimeError("flux capacitor")))
    with ScriptedServer(script=[Reply(stop_reason="refusal", text="")]) as server:
        ticket, _, _ = fail_and_triage(instance, _with_claude(resources, server), job=job)
    assert ticket["pattern"] == "unknown" and ticket["recommended_action"] == "escalate_to_on_call"
    assert ticket["drafted_by"] is None
    assert any("Claude could not write this ticket (refused" in e for e in ticket["evidence"])
