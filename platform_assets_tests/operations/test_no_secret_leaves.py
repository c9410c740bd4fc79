"""No secret from the environment appears in anything the platform writes or sends.

Distinctive secrets go in every secret-bearing variable the platform reads
(``core/settings.py``: the Anthropic key, the AWS keys, the Slack webhook URL, the Postgres
password of ``PLATFORM_ASSETS_PG_URL``). A real run then fails the way a production run
does when its warehouse catalog is down (the step opens the DuckLake on that Postgres URL;
DuckDB's error quotes the URL, password included), the triage sensor writes its ticket
with Claude drafting it (the scripted Messages API server), collects the diagnostics and
posts the alert to Slack (a loopback webhook). Then everything written is searched for each
secret: the Dagster instance's storage files, the ticket, its evidence and actions, the
alerts and governance tables, the diagnostics bundle, every request Claude and Slack got.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from platform_assets.core import warehouse as wh
from platform_assets.core.operations.alerts import read_alerts
from platform_assets.core.operations.triage import actions, tickets
from platform_assets.core.settings import LakeSettings
from platform_assets.defs.operations import build_triage_sensor
from platform_assets.defs.resources import ClaudeResource, NotifierResource
from platform_assets_tests.support.dagster import offline_resources
from platform_assets_tests.support.scripted_server import ScriptedServer
from platform_assets_tests.support.triage import (
    fail_and_triage,
    failing_job,
    reviewed_allowlist,
)
from platform_assets_tests.support.webhook import WebhookServer

PG_PASSWORD = "PgPw-LeakCheck-4242"
PG_URL = f"postgresql://platform:{PG_PASSWORD}@127.0.0.1:1/platform"  # nothing listens on 1
SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-LeakCheckAnthropicKey0001",
    "AWS_ACCESS_KEY_ID": "AKIALEAKCHECK0000001",
    "AWS_SECRET_ACCESS_KEY": "LeakCheckAwsSecretKey00000000000000000001",
    "AWS_SESSION_TOKEN": "LeakCheckAwsSessionToken0001",
    "PLATFORM_ASSETS_PG_URL": PG_URL,
}
# What must never appear (the whole URL holds the password, so the password is enough).
NEEDLES = [
    PG_PASSWORD,
    SECRETS["ANTHROPIC_API_KEY"],
    SECRETS["AWS_SECRET_ACCESS_KEY"],
    SECRETS["AWS_SESSION_TOKEN"],
    SECRETS["AWS_ACCESS_KEY_ID"],
]
CREDENTIAL_HEADERS = ("x-api-key", "authorization")
SLACK_SECRET_PATH = "/services/T0LEAK/B0LEAK/SlackLeakCheckPath0001"


def _open_the_lake() -> None:
    """What a warehouse step does first in production: attach the DuckLake."""
    wh.connect(
        LakeSettings(
            catalog_url=PG_URL,
            data_path="s3://leak-check/warehouse/",
            extension_dir=Path.cwd() / ".duckdb_extensions_leak_check",
        )
    )


def _files_text(root: Path) -> dict[str, str]:
    """Every file under ``root`` (but DuckDB's extension links), as text."""
    return {
        str(p): p.read_bytes().decode("utf-8", errors="replace")
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and "duckdb_extensions" not in str(p)
    }


def _leaks(named_texts: dict[str, str]) -> list[str]:
    return [
        f"{name}: {needle}"
        for name, text in named_texts.items()
        for needle in NEEDLES
        if needle in text
    ]


def test_a_failed_run_its_ticket_diagnostics_alert_and_prompts_hold_no_secret(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "dagster_home").mkdir()
    with WebhookServer() as slack, ScriptedServer() as claude_server:
        slack_url = slack.url.rstrip("/") + SLACK_SECRET_PATH
        for name, value in {**SECRETS, "PLATFORM_ASSETS_SLACK_WEBHOOK_URL": slack_url}.items():
            monkeypatch.setenv(name, value)
        resources = offline_resources(home)
        resources = {
            **resources,
            "claude": ClaudeResource(
                api_key=SECRETS["ANTHROPIC_API_KEY"], base_url=claude_server.url, max_retries=0
            ),
            "notifier": NotifierResource(
                database=resources["warehouse"].database,  # type: ignore[attr-defined]
                runbook_base_url=str(home / "runbooks"),
                slack_webhook_url=slack_url,
            ),
        }
        with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
            allowlist = reviewed_allowlist(tmp_path, "collect_diagnostics")
            ticket, _actions, _ = fail_and_triage(
                instance,
                resources,
                job=failing_job("lake_job", _open_the_lake),
                sensor=build_triage_sensor(allowlist_path=str(allowlist)),
            )
            run_id = ticket["run_id"]
            logs = instance.all_logs(run_id)
            event_text = "\n".join(
                f"{e.user_message}\n{e.dagster_event.event_specific_data!r}"
                if e.dagster_event
                else e.user_message
                for e in logs
            )
        claude_requests = {
            f"claude request {i}": r.raw
            # The key goes to the API in its own header, as it must; nowhere else.
            + json.dumps({k: v for k, v in r.headers.items() if k not in CREDENTIAL_HEADERS})
            for i, r in enumerate(claude_server.requests)
        }
        slack_posts = {f"slack post {i}": json.dumps(p) for i, p in enumerate(slack.posts)}
    assert claude_server.requests, "Claude was not asked to draft the ticket"
    assert slack.posts, "the alert was not posted"
    # The failure is the real one, and it is still legible without the password.
    assert "cannot reach the warehouse catalog" in event_text
    assert "postgresql://platform:***@127.0.0.1:1/platform" in event_text

    with wh.session(resources["warehouse"].database, read_only=True) as conn:  # type: ignore[attr-defined]
        stored = {
            "tickets": json.dumps(tickets(conn), default=str),
            "ticket actions": json.dumps(actions(conn, ticket["ticket_id"]), default=str),
            "alerts": json.dumps(read_alerts(conn), default=str),
            "llm_calls": json.dumps(
                conn.execute("SELECT * FROM platform.llm_calls").fetchall(), default=str
            ),
        }
    written = {
        "event log": event_text,
        **_files_text(tmp_path),  # the instance's storage, the diagnostics bundle, the warehouse
        **stored,
        **claude_requests,
        **slack_posts,
    }
    assert any("triage" in name and name.endswith(".json") for name in written), (
        "no diagnostics bundle was written"
    )
    assert _leaks(written) == []
    assert SLACK_SECRET_PATH not in "\n".join(v for k, v in written.items() if "slack" not in k)
