"""Alerts carry their owner and a runbook, land in platform.alerts and the run log, and go to
a Slack incoming webhook when one is configured (a real loopback HTTP server here)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

import platform_assets
from platform_assets.core import warehouse as wh
from platform_assets.core.llm.governance import CallRecord, record_calls
from platform_assets.core.operations.alerts import Alert, read_alerts
from platform_assets.core.settings import Settings
from platform_assets.defs.keys import LLM_OBSERVABILITY, TEAM_DATA_ENG, TEAM_ML_PLATFORM
from platform_assets.defs.llm import llm_observability, llm_observability_regressions
from platform_assets.defs.resources import NotifierResource, build_resources
from platform_assets_tests.support.paths import CONTRACTS_DIR, REPO
from platform_assets_tests.support.webhook import WebhookServer

DAY = "2026-03-02"
BROKEN_FEED = {"ops": {"raw_transactions": {"config": {"amount_unit": "dollars"}}}}


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PLATFORM_ASSETS_HOME", str(home))
    monkeypatch.setenv("PLATFORM_ASSETS_ROWS_PER_PARTITION", "2000")
    monkeypatch.setenv("PLATFORM_ASSETS_CONTRACTS_DIR", str(CONTRACTS_DIR))
    return home


def _alerts(kind: str | None = None) -> list[dict]:
    with wh.session(Settings.from_env().warehouse_path, read_only=True) as conn:
        return read_alerts(conn, kind)


def test_a_failed_blocking_check_and_its_triage_ticket_page_data_eng_with_their_runbooks(
    home, monkeypatch
):
    with WebhookServer() as slack, dg.instance_for_test() as instance:
        monkeypatch.setenv("PLATFORM_ASSETS_SLACK_WEBHOOK_URL", slack.url)
        result = platform_assets.backfill(
            "raw/transactions", DAY, DAY, run_config=BROKEN_FEED, instance=instance
        )
        assert not result.success
        [check_alert] = _alerts("blocking_check_failed")
        assert (
            check_alert["owner"] == TEAM_DATA_ENG and check_alert["runbook"] == "inspect_quarantine"
        )
        assert check_alert["runbook_url"] == (REPO / "runbooks" / "inspect_quarantine.md").as_uri()
        assert (
            check_alert["asset"] == "raw/transactions"
            and check_alert["run_id"] == result.runs[0].run_id
        )
        assert check_alert["delivered_to"] == ["platform.alerts", "run log", "slack"]
        # The line in the run log
        logs = [e.user_message for e in instance.all_logs(result.runs[0].run_id) if e.user_message]
        assert any(
            m.startswith("ALERT ERROR blocking_check_failed [raw/transactions]")
            and TEAM_DATA_ENG in m
            for m in logs
        )

        # The failed run becomes a ticket before the command returns (no daemon), and the
        # ticket an alert to the failed step's owner, whose page the responder escalates.
        [ticket_alert] = _alerts("triage_ticket")
        assert (
            ticket_alert["owner"] == TEAM_DATA_ENG
            and ticket_alert["runbook"] == "inspect_quarantine"
        )
        assert "needs a person" in ticket_alert["summary"]
        assert result.runs[0].ticket["page_state"] == "escalated"

    texts = [post["text"] for post in slack.posts]
    assert len(texts) == 3  # the check's alert, the ticket's alert, the escalated page
    assert all(
        f"owner: {TEAM_DATA_ENG}" in t and "runbook: " in t and "inspect_quarantine" in t
        for t in texts
    )
    assert texts[2].startswith("*[ERROR] escalated: contract_fct_transactions blocked")
    assert texts[0].startswith("*[ERROR] contract_fct_transactions blocked 2026-03-02")


def test_a_webhook_that_fails_is_recorded_and_does_not_fail_the_check(home, monkeypatch):
    with (
        WebhookServer(status=500, answer="internal_error") as slack,
        dg.instance_for_test() as instance,
    ):
        monkeypatch.setenv("PLATFORM_ASSETS_SLACK_WEBHOOK_URL", slack.url)
        result = platform_assets.backfill(
            "raw/transactions", DAY, DAY, run_config=BROKEN_FEED, instance=instance
        )
    # The check itself decided the run (failed contract), not the webhook.
    [check] = result.runs[0].check_results
    assert check["check"] == "contract_fct_transactions" and not check["passed"]
    [alert] = _alerts("blocking_check_failed")
    assert alert["delivered_to"] == ["platform.alerts", "run log"]
    assert alert["delivery_errors"] == ["slack: Slack webhook answered 500: internal_error"]
    # tried for the check's alert, the run's ticket alert and its escalated page
    assert len(slack.posts) == 3


def test_without_a_webhook_alerts_stay_local(home):
    with dg.instance_for_test() as instance:
        platform_assets.backfill(
            "raw/transactions", DAY, DAY, run_config=BROKEN_FEED, instance=instance
        )
    check_alert, ticket_alert = _alerts()
    assert (
        check_alert["delivered_to"] == ["platform.alerts", "run log"]
        and check_alert["delivery_errors"] == []
    )
    # the run's own triage (no daemon): local only, no log of a run to write to
    assert ticket_alert["kind"] == "triage_ticket"
    assert ticket_alert["delivered_to"] == ["platform.alerts"]


def test_an_llm_regression_pages_the_platform_team(home):
    now = dt.datetime.now(dt.UTC)
    calls = []
    # Yesterday: cheap cached calls; today: the same task costs 4x per success.
    for i, (hours_ago, cost, cache_read) in enumerate(
        [(30, 0.01, 900), (29, 0.01, 900), (2, 0.04, 0), (1, 0.04, 0)]
    ):
        calls.append(
            CallRecord(
                call_id=f"c{i}",
                called_at=now - dt.timedelta(hours=hours_ago),
                run_id=None,
                asset="contract_fct_transactions",
                task="semantic_contract_check",
                prompt_name="p",
                prompt_sha256="x",
                model="claude-sonnet-4-6",
                input_tokens=100,
                cache_read_tokens=cache_read,
                output_tokens=50,
                cost_usd=cost,
            )
        )
    settings = Settings.from_env()
    with wh.session(settings.warehouse_path) as conn:
        record_calls(conn, calls)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [llm_observability, llm_observability_regressions],
            instance=instance,
            resources=build_resources(settings),
        )
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed
    [alert] = _alerts("llm_regression")
    assert alert["owner"] == TEAM_ML_PLATFORM and alert["runbook"] == "review_llm_regression"
    assert alert["asset"] == LLM_OBSERVABILITY.to_user_string() and alert["severity"] == "warning"
    assert (
        "cache-hit rate fell" in alert["summary"]
        and "cost per successful task rose" in alert["summary"]
    )


def test_an_alert_without_owner_or_runbook_is_refused():
    with pytest.raises(ValueError, match="needs an owner and a runbook"):
        Alert(
            kind="drift_retrain",
            severity="info",
            owner="",
            title="t",
            summary="s",
            runbook="review_drift_retrain",
        )
    with pytest.raises(ValueError, match="unknown alert kind"):
        Alert(kind="vibes", severity="info", owner="team:x", title="t", summary="s", runbook="r")


def test_every_alert_runbook_is_an_allow_listed_markdown_file(tmp_path):
    from platform_assets.core.operations.triage import load_allowlist

    notifier = NotifierResource(
        database=str(tmp_path / "w.duckdb"), runbook_base_url=str(REPO / "runbooks")
    )
    alert = notifier.notify(
        Alert(
            kind="drift_retrain",
            severity="info",
            owner=TEAM_ML_PLATFORM,
            title="t",
            summary="s",
            runbook="review_drift_retrain",
        )
    )
    assert Path(alert.runbook_url.removeprefix("file://")).is_file()
    assert "review_drift_retrain" in load_allowlist()


def test_an_alert_the_warehouse_cannot_take_is_still_logged_and_does_not_raise(tmp_path):
    import logging

    unusable = tmp_path / "a_folder_not_a_database"
    unusable.mkdir()
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    log = logging.getLogger("test_alert_sink")
    log.addHandler(Keep())
    notifier = NotifierResource(database=str(unusable), runbook_base_url=str(REPO / "runbooks"))
    alert = notifier.notify(
        Alert(
            kind="drift_retrain",
            severity="info",
            owner=TEAM_ML_PLATFORM,
            title="t",
            summary="s",
            runbook="review_drift_retrain",
        ),
        log=log,
    )
    assert alert.delivered_to == ["run log"]
    assert alert.delivery_errors and alert.delivery_errors[0].startswith("platform.alerts: ")
    assert records[0].startswith("ALERT INFO drift_retrain: t — owner team:ml-platform")
    assert "not recorded in platform.alerts" in records[1]
