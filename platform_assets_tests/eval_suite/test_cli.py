"""`platform-assets evals` from the shell, in child processes, and the whole flow end to end:
a real `platform-assets run`, then coverage, runs, drafts (by the rules, then by Claude through
the Batches API of a scripted server), a review and the release notes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from platform_assets.core.llm.pricing import DEFAULT_PRICES, TokenUsage, cost_usd
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.evals import (
    case_body,
    copy_shipped_suite,
    draft_answer,
    write_case,
    write_requirements,
)
from platform_assets_tests.support.paths import CONTRACTS_DIR
from platform_assets_tests.support.scripted_server import ScriptedServer
from platform_assets_tests.support.typed import present


def cli(
    home: Path, evals: Path, *args: str, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess:
    """The CLI in a child process on ``home`` and the suite ``evals``, without the developer's
    settings.
    """
    environment = {
        k: v
        for k, v in subprocess_env().items()
        if not k.startswith("PLATFORM_ASSETS_") and k != "DAGSTER_HOME"
    }
    environment |= {
        "PLATFORM_ASSETS_HOME": str(home),
        "PLATFORM_ASSETS_EVALS_DIR": str(evals),
        "PLATFORM_ASSETS_CONTRACTS_DIR": str(CONTRACTS_DIR),
        "RUNTIME__LOG_LEVEL": "ERROR",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd or home.parent,
        timeout=900,
    )


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    evals = tmp_path / "evals"
    write_requirements(evals, "scoring", ["Scores are fast.", "Grocery is not flagged."])
    write_case(evals / "cases", case_body("fast", "scoring#1", "latency", {"budget_ms": 50}))
    return evals


def test_coverage_exits_1_while_a_requirement_has_no_approved_case(tmp_path: Path, suite: Path):
    home = tmp_path / "home"
    before = cli(home, suite, "evals", "coverage", "--json")
    assert before.returncode == 1
    assert json.loads(before.stdout) == {
        "coverage": 0.0,
        "requirements": [
            {"id": "scoring#1", "approved": 0, "drafted": 1, "stale": 0},
            {"id": "scoring#2", "approved": 0, "drafted": 0, "stale": 0},
        ],
    }
    listed = json.loads(cli(home, suite, "evals", "review", "list", "--json").stdout)
    assert [d["id"] for d in listed["drafts"]] == ["fast"]
    # The reviewer defaults to git's user.name.
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Reviewer One\n")
    approved = cli(
        home,
        suite,
        "evals",
        "review",
        "approve",
        "fast",
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
    )
    assert approved.returncode == 0 and "approved fast by Reviewer One" in approved.stdout
    human = cli(home, suite, "evals", "coverage")
    assert human.returncode == 1 and "ERROR scoring#2: no approved case" in human.stdout
    assert "WARN scoring#1: fewer than 2 approved cases" in human.stdout
    write_case(
        suite / "cases",
        case_body(
            "grocery",
            "scoring#2",
            "slice_metric",
            {"filter": "merchant_category = 'grocery'", "metric": "flag_rate", "max": 0.01},
        ),
    )
    assert (
        cli(home, suite, "evals", "review", "reject", "grocery", "--reviewer", "R").returncode == 2
    )  # no reason
    rejected = cli(
        home,
        suite,
        "evals",
        "review",
        "reject",
        "grocery",
        "--reviewer",
        "R",
        "--reason",
        "too loose",
    )
    assert rejected.returncode == 0
    assert json.loads(cli(home, suite, "evals", "coverage", "--json").stdout)["coverage"] == 0.5


def test_a_malformed_case_is_a_usage_error_naming_file_and_field(tmp_path: Path, suite: Path):
    write_case(suite / "cases", case_body("broken", "scoring#1", "latency", {"budget_ms": -5}))
    for args in (["evals", "coverage"], ["evals", "run"], ["evals", "review", "list"]):
        result = cli(tmp_path / "home", suite, *args)
        assert result.returncode == 2
        assert "broken.yaml" in result.stderr and "latency.budget_ms (line" in result.stderr


def test_run_without_a_champion_and_an_unknown_requirement(tmp_path: Path, suite: Path):
    home = tmp_path / "home"
    run = cli(home, suite, "evals", "run")
    assert run.returncode == 1 and "no champion yet" in run.stderr
    draft = cli(home, suite, "evals", "draft", "--requirement", "scoring#7")
    assert draft.returncode == 2 and "unknown requirement(s) scoring#7" in draft.stderr


def _grocery_case(custom_id: str, params: dict) -> str:
    asked = params["messages"][0]["content"][0]["text"]
    if not asked.startswith("Requirement fraud_scoring#3:"):
        return draft_answer()
    return draft_answer(
        {
            "title": "Card-present grocery at night is not held",
            "case": {
                "title": "Card-present grocery at night is not held",
                "kind": "scenario",
                "scenario": {
                    "base": {"filter": "card_present = 1 AND merchant_category = 'grocery'"},
                    "rows": [{"amount_usd": 8, "hour_of_day": 1}],
                    "expect": {"decision": "approve"},
                },
            },
        }
    )


@pytest.mark.slow
def test_the_whole_flow_offline_then_with_a_key(tmp_path: Path):
    home, evals = tmp_path / "home", copy_shipped_suite(tmp_path / "evals")
    run = cli(home, evals, "run", "--partition", "2026-11-20")
    assert run.returncode == 0, run.stdout + run.stderr
    assert (
        "[pass] evals/results · eval_cases_pass: the challenger passes all 24 approved cases"
        in run.stdout
    )
    coverage = cli(home, evals, "evals", "coverage", "--json")
    assert coverage.returncode == 0 and json.loads(coverage.stdout)["coverage"] == 1.0
    results = cli(home, evals, "evals", "run", "--json")
    assert results.returncode == 0, results.stdout
    report = json.loads(results.stdout)
    assert (report["alias"], report["version"], report["failed_cases"]) == ("champion", 1, [])
    assert (
        sum(r["cases"] for r in report["requirements"]) == 24 and len(report["requirements"]) == 11
    )
    notes = cli(home, evals, "models", "notes")
    assert notes.returncode == 0 and notes.stdout.startswith("# Release notes: fraud_model:v1")
    assert "24 of 24 approved cases pass (no champion before)" in notes.stdout

    # A day whose user_id column was renamed upstream is quarantined; the rules draft a case from
    # it.
    config = tmp_path / "rename.yaml"
    config.write_text("ops:\n  raw_transactions:\n    config:\n      rename: {user_id: customer}\n")
    checks = cli(
        home,
        evals,
        "checks",
        "run",
        "--select",
        "raw/transactions",
        "--partition",
        "2026-11-21",
        "--materialize",
        "--config",
        str(config),
    )
    assert checks.returncode == 1
    drafted = cli(home, evals, "evals", "draft", "--json")
    assert drafted.returncode == 0, drafted.stderr
    (rule_draft,) = json.loads(drafted.stdout)["drafted"]
    assert (
        rule_draft["requirement"] == "data_contracts#5"
        and rule_draft["drafted_by"]["kind"] == "rules"
    )
    assert any("no ANTHROPIC_API_KEY" in n for n in json.loads(drafted.stdout)["notes"])
    assert (
        cli(
            home, evals, "evals", "review", "approve", rule_draft["id"], "--reviewer", "Ada"
        ).returncode
        == 0
    )
    counted = {
        r["id"]: r
        for r in json.loads(cli(home, evals, "evals", "coverage", "--json").stdout)["requirements"]
    }
    assert counted["data_contracts#5"]["approved"] == 3
    assert cli(home, evals, "evals", "run").returncode == 0  # 25 cases, all passing

    # With a key, Claude drafts through one Message Batch, logged at the batch price.
    with ScriptedServer(batch_reply=_grocery_case) as server:
        keyed = cli(
            home,
            evals,
            "evals",
            "draft",
            "--json",
            ANTHROPIC_API_KEY="sk-ant-test",
            ANTHROPIC_BASE_URL=server.url,
        )
    assert keyed.returncode == 0, keyed.stderr
    (claude_draft,) = json.loads(keyed.stdout)["drafted"]
    assert (
        claude_draft["drafted_by"]["kind"] == "claude"
        and claude_draft["requirement"] == "fraud_scoring#3"
    )
    assert len(server.batch_requests) == 1 and server.message_requests == []
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        calls = conn.execute(
            "SELECT input_tokens, cache_write_tokens, cache_read_tokens, output_tokens, cost_usd "
            "FROM platform.llm_calls WHERE task = 'eval_case_drafting'"
        ).fetchall()
    assert len(calls) == 11
    for tokens in calls:
        full = present(cost_usd("claude-sonnet-4-6", TokenUsage(*tokens[:4]), DEFAULT_PRICES))
        assert tokens[4] == pytest.approx(full / 2)
    assert sum(t[2] for t in calls) > 0  # the shared context was read from the cache
    assert (
        cli(
            home, evals, "evals", "review", "approve", claude_draft["id"], "--reviewer", "Ada"
        ).returncode
        == 0
    )
    counted = {
        r["id"]: r
        for r in json.loads(cli(home, evals, "evals", "coverage", "--json").stdout)["requirements"]
    }
    assert counted["fraud_scoring#3"]["approved"] == 3
    final = json.loads(cli(home, evals, "evals", "run", "--json").stdout)
    assert final["failed_cases"] == [] and sum(r["cases"] for r in final["requirements"]) == 26
