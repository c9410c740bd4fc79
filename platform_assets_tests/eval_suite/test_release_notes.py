"""Release notes of a promotion: facts from a real registry, prose drafted by Claude (scripted
server) kept apart, and `platform-assets models notes`."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from platform_assets.core.llm.client import ClaudeClient, ClaudeConfig
from platform_assets.core.llm.governance import read_calls
from platform_assets.core.model_card.release_notes import (
    build_release_notes,
    draft_notes_prose,
    publish_release_notes,
    render_markdown,
)
from platform_assets.core.registry import EvalCaseComparison, EvalCaseResult, registry_for
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.models import identity_onnx
from platform_assets_tests.support.scripted_server import Reply, ScriptedServer

METRICS = {"auroc": 0.85, "pr_auc": 0.20, "precision": 0.30, "recall": 0.28}


@pytest.fixture
def promoted(tmp_path: Path):
    """v1 promoted as the first champion, then v2 promoted over it with a new seed and one
    eval case it newly passes."""
    registry = registry_for(tmp_path / "home" / "artifacts" / "registry")

    def register(tag: str, seed: int, metrics: dict, cases: EvalCaseComparison) -> int:
        version = registry.register(
            {"model.onnx": identity_onnx(tag)},
            config={"seed": seed, "max_iter": 150},
            threshold=0.13,
            data_window={"train": [f"2026-11-0{seed - 6}", "2026-11-10"]},
            metrics=metrics,
            lineage={},
        ).version
        registry.attach_eval_cases(version, cases)
        assert registry.promote_if_passes(version).passed
        return version

    register(
        "v1",
        7,
        METRICS,
        EvalCaseComparison(
            None,
            "s1",
            (
                EvalCaseResult("latency", "fraud_scoring#1", True, None, "p99 0.05 ms"),
                EvalCaseResult("grocery", "fraud_scoring#3", False, None, "fpr 0.01"),
            ),
        ),
    )
    registry.attach(
        1,
        "model_card.json",
        json.dumps({"approvals": [{"name": "Rita", "role": "risk owner"}]}).encode(),
    )
    register(
        "v2",
        8,
        {**METRICS, "pr_auc": 0.22},
        EvalCaseComparison(
            1,
            "s1",
            (
                EvalCaseResult("latency", "fraud_scoring#1", True, True, "p99 0.05 ms"),
                EvalCaseResult("grocery", "fraud_scoring#3", True, False, "fpr 0.00"),
                EvalCaseResult("recall", "fraud_scoring#2", False, False, "recall 0.28"),
            ),
        ),
    )
    return registry


def test_the_notes_say_what_changed_from_the_artifacts(promoted):
    notes = build_release_notes(promoted, promoted.get(2))
    assert notes["promotion"]["from"] == 1 and notes["promotion"]["by"] == "gate"
    assert notes["config_changes"] == [{"field": "seed", "old": 7, "new": 8}]
    assert notes["metrics"]["pr_auc"]["text"] == "pr_auc +2.0pp"
    cases = notes["eval_cases"]
    assert (cases["cases"], cases["passed"], cases["compared_with"]) == (3, 2, 1)
    assert cases["newly_passing"] == [{"case": "grocery", "requirement": "fraud_scoring#3"}]
    assert cases["newly_failing"] == [] and [c["case"] for c in cases["still_failing"]] == [
        "recall"
    ]
    markdown = render_markdown(notes)
    assert "Promoted " in markdown and "replacing v1" in markdown and "| seed | 7 | 8 |" in markdown
    assert (
        "Newly passing:\n- grocery (fraud_scoring#3)" in markdown
        and "Still failing:\n- recall" in markdown
    )
    first = build_release_notes(promoted, promoted.get(1))
    assert (
        first["previous"] is None and first["eval_cases"]["still_failing"][0]["case"] == "grocery"
    )
    assert "Model card: Rita (risk owner)" in render_markdown(first)


def test_claude_drafts_a_summary_apart_from_the_facts(promoted):
    notes = build_release_notes(promoted, promoted.get(2))
    facts = copy.deepcopy(notes)
    conn = duckdb.connect()
    with ScriptedServer(
        [
            Reply(text=json.dumps({"summary": "v2 newly passes grocery."})),
            Reply(stop_reason="refusal", text=""),
        ]
    ) as server:
        client = ClaudeClient(
            ClaudeConfig(api_key="sk-ant-test", base_url=server.url, max_retries=0)
        )
        drafted = draft_notes_prose(client, notes, conn, run_id="run-n")
        refused = draft_notes_prose(client, copy.deepcopy(facts), conn, run_id="run-n")
        client.close()
    assert drafted["drafted"]["summary"]["text"] == "v2 newly passes grocery."
    assert drafted["drafted"]["summary"]["drafted_by"].startswith("claude (")
    assert {k: v for k, v in drafted.items() if k != "drafted"} == {
        k: v for k, v in facts.items() if k != "drafted"
    }
    assert "## Drafted summary (not verified)" in render_markdown(drafted)
    assert refused["drafted"]["_status"]["text"].startswith("not drafted: refused")
    assert [c.outcome for c in read_calls(conn, run_id="run-n")] == ["ok", "refused"]
    assert {c.task for c in read_calls(conn)} == {"release_notes_prose"}
    # Without a key nothing is called and the facts stand alone.
    assert (
        draft_notes_prose(ClaudeClient(ClaudeConfig()), copy.deepcopy(facts), conn)["drafted"] == {}
    )


def test_models_notes_prints_stored_notes_or_builds_them(promoted, tmp_path: Path):
    version = promoted.get(2)
    publish_release_notes(
        promoted, version, build_release_notes(promoted, version), tmp_path / "out"
    )
    env = subprocess_env(PLATFORM_ASSETS_HOME=str(tmp_path / "home"), RUNTIME__LOG_LEVEL="ERROR")

    def notes(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "platform_assets.cli", "models", "notes", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    stored = notes()
    assert (
        stored.returncode == 0
        and stored.stdout.startswith("# Release notes: fraud_model:v2")
        and not stored.stderr
    )
    built = notes("v1", "--json")
    assert built.returncode == 0 and json.loads(built.stdout)["model"]["id"] == "fraud_model:v1"
    assert "has no stored release notes" in built.stderr
    assert notes("7").returncode == 2
