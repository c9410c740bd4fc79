"""The whole lifecycle with a distinctive secret in every variable the platform reads: no
secret appears in anything it printed, stored or sent.

``platform-assets run`` on a fresh home with Claude on (the scripted Messages API server) and
Slack alerts on (a loopback webhook whose path is the secret), then the listing commands, then
a production ``run`` whose Postgres cannot be reached. Searched: every command's stdout and
stderr, every file under the home (the Dagster instance's SQLite storage, artifacts, model
cards, the warehouse file), every text column of every warehouse table, every request the
Messages API server and the webhook received (but the API key's own header).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import CONTRACTS_DIR
from platform_assets_tests.support.scripted_server import ScriptedServer
from platform_assets_tests.support.webhook import WebhookServer

PG_PASSWORD = "LifecyclePgPw-9137"
SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-LifecycleKeyCheck-0001",
    "AWS_ACCESS_KEY_ID": "AKIALIFECYCLE0000001",
    "AWS_SECRET_ACCESS_KEY": "LifecycleAwsSecretKey0000000000000000001",
    "AWS_SESSION_TOKEN": "LifecycleAwsSessionToken0001",
    "PLATFORM_ASSETS_PG_URL": f"postgresql://platform:{PG_PASSWORD}@127.0.0.1:1/platform",
}
SLACK_PATH = "/services/T0LIFE/B0LIFE/LifecycleSlackPath0001"
CREDENTIAL_HEADERS = ("x-api-key", "authorization")


def _needles() -> list[str]:
    return [PG_PASSWORD, SLACK_PATH.rsplit("/", 1)[-1]] + [
        v for k, v in SECRETS.items() if k != "PLATFORM_ASSETS_PG_URL"
    ]


def _warehouse_text(path: Path) -> str:
    """Every text value of every table of the warehouse file."""
    if not path.exists():
        return ""
    parts = []
    with duckdb.connect(str(path), read_only=True) as conn:
        columns = conn.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR' OR data_type LIKE '%[]' OR data_type = 'JSON'"
        ).fetchall()
        for schema, table, column in columns:
            rows = conn.execute(
                f'SELECT CAST("{column}" AS VARCHAR) FROM "{schema}"."{table}"'
            ).fetchall()
            parts.extend(str(value) for (value,) in rows)
    return "\n".join(parts)


@pytest.mark.slow
def test_no_secret_leaves_the_lifecycle(tmp_path):
    home = tmp_path / "home"
    outputs: dict[str, str] = {}
    with ScriptedServer() as claude, WebhookServer() as slack:
        env = subprocess_env(
            SECRETS,
            PLATFORM_ASSETS_HOME=str(home),
            PLATFORM_ASSETS_CONTRACTS_DIR=str(CONTRACTS_DIR),
            PLATFORM_ASSETS_ROWS_PER_PARTITION="5000",
            ANTHROPIC_BASE_URL=claude.url,
            PLATFORM_ASSETS_SLACK_WEBHOOK_URL=slack.url.rstrip("/") + SLACK_PATH,
        )

        def cli(name: str, *args: str, **more: str) -> subprocess.CompletedProcess:
            done = subprocess.run(
                [sys.executable, "-m", "platform_assets.cli", *args],
                cwd=tmp_path,
                env={**env, **more},
                capture_output=True,
                text=True,
                timeout=1500,
            )
            outputs[f"{name} stdout"], outputs[f"{name} stderr"] = done.stdout, done.stderr
            return done

        run = cli("run", "run")
        assert "champion: " in run.stdout, run.stdout + run.stderr
        for command in (["tickets", "list"], ["costs"], ["quarantine", "list"]):
            cli(" ".join(command), *command)
        down = cli(
            "production run",
            "run",
            PLATFORM_ASSETS_PROFILE="production",
            PLATFORM_ASSETS_S3_URL="s3://lifecycle-bucket/platform",
            AWS_ENDPOINT_URL="http://127.0.0.1:1",
            AWS_REGION="us-east-1",
        )
        assert down.returncode != 0
        sent = {
            f"claude request {i}": r.raw
            + json.dumps({k: v for k, v in r.headers.items() if k not in CREDENTIAL_HEADERS})
            for i, r in enumerate(claude.requests)
        }
        sent |= {f"slack post {i}": json.dumps(p) for i, p in enumerate(slack.posts)}
    assert claude.requests, "Claude was never asked: the run did not exercise the key"
    files = {
        str(p): p.read_bytes().decode("utf-8", errors="replace")
        for p in home.rglob("*")
        if p.is_file() and not p.is_symlink() and "duckdb_extensions" not in p.parts
    }
    written = {
        **outputs,
        **files,
        "warehouse tables": _warehouse_text(home / "warehouse.duckdb"),
        **sent,
    }
    leaks = [f"{where}: {n}" for where, text in written.items() for n in _needles() if n in text]
    assert leaks == []
