"""What the shell prints: outages read as outages, no secret, no terminal control sequence,
and a ``--json`` command's error as JSON on stdout.

The outages are real: the production profile with ``PLATFORM_ASSETS_PG_URL`` on a loopback
port nothing listens on (Postgres down) and ``AWS_ENDPOINT_URL`` likewise (S3 down).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from platform_assets.core.redaction import redact, terminal_safe
from platform_assets_tests.support.environment import subprocess_env

PG_PASSWORD = "Outage-Pg-Secret-77"
DOWN = {
    "PLATFORM_ASSETS_PROFILE": "production",
    "PLATFORM_ASSETS_PG_URL": f"postgresql://platform:{PG_PASSWORD}@127.0.0.1:1/platform",
    "PLATFORM_ASSETS_S3_URL": "s3://outage-bucket/platform",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "AWS_ACCESS_KEY_ID": "AKIAOUTAGE0000000001",
    "AWS_SECRET_ACCESS_KEY": "OutageAwsSecretKey000000000000000000001",
    "AWS_REGION": "us-east-1",
}


def _cli(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env=subprocess_env(env, PLATFORM_ASSETS_HOME=str(tmp_path / "home")),
    )


@pytest.mark.parametrize(
    ("command", "what"),
    [
        (["tickets", "list"], "cannot reach the warehouse catalog"),
        (["quarantine", "list"], "cannot reach the warehouse catalog"),
        (["costs"], "cannot reach the warehouse catalog"),
        (["models", "list"], "S3 is unreachable"),
    ],
    ids=["tickets", "quarantine", "costs", "models"],
)
def test_an_unreachable_warehouse_or_store_is_an_error_not_empty(tmp_path, command, what):
    done = _cli(tmp_path, *command, **DOWN)
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and what in errors[0], out
    assert "Traceback" not in out
    assert "no tickets" not in out and "nothing has been ingested" not in out
    assert PG_PASSWORD not in out and DOWN["AWS_SECRET_ACCESS_KEY"] not in out
    if "warehouse catalog" in what:  # what could not be reached is named, the password masked
        assert "postgresql://platform:***@127.0.0.1:1/platform" in errors[0]


def test_a_json_command_s_error_is_json_on_stdout(tmp_path):
    down = _cli(tmp_path, "tickets", "list", "--json", **DOWN)
    assert down.returncode == 2
    answer = json.loads(down.stdout)
    assert answer["exit_code"] == 2 and "cannot reach the warehouse catalog" in answer["error"]
    assert PG_PASSWORD not in down.stdout

    usage = _cli(tmp_path, "tickets", "show", "no-such-ticket", "--json")
    assert usage.returncode == 2, usage.stderr
    assert json.loads(usage.stdout) == {
        "error": "no ticket 'no-such-ticket': `platform-assets tickets list` shows the tickets",
        "exit_code": 2,
    }


def test_untrusted_text_reaches_the_terminal_without_control_sequences(tmp_path):
    # A file name from a pull request: an OSC that retitles the terminal (click strips CSI
    # colours off a pipe, not OSC), a C1 CSI, a carriage return that overwrites the line.
    contract = tmp_path / "c\x1b]0;owned\x07\x9b2J\rx.odcs.yaml"
    contract.write_text("apiVersion: v3.0.0\nkind: DataContract\n")
    done = _cli(tmp_path, "contracts", "lint", str(contract))
    assert done.returncode == 2, done.stderr
    assert not any(ch in done.stderr for ch in "\x1b\x07\x9b\r"), repr(done.stderr)
    assert "cx.odcs.yaml" in done.stderr


def test_a_secret_in_the_environment_is_never_printed(tmp_path):
    key = "sk-ant-api03-PrintedKeyCheck0001"
    done = _cli(tmp_path, "tickets", "show", f"id-{key}", ANTHROPIC_API_KEY=key)
    assert done.returncode == 2
    assert key not in done.stderr and "***" in done.stderr


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("postgresql://u:p4ss-word@db:5432/x", "postgresql://u:***@db:5432/x", "p4ss-word"),
        ("host=db password=s3cr3t-value user=u", "password=***", "s3cr3t-value"),
        ("key sk-ant-api03-abcdefGHIJ_123-xyz", "sk-ant-***", "abcdefGHIJ"),
        ("AKIAIOSFODNN7EXAMPLE", "***", "AKIAIOSFODNN7EXAMPLE"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = ***",
            "wJalrXUtnFEMI",
        ),
        (
            "https://hooks.slack.com/services/T000/B000/XXXXsecret",
            "hooks.slack.com/services/***",
            "XXXXsecret",
        ),
        ("Authorization: Bearer eyJhbGciOi.J9.abc", "Bearer ***", "eyJhbGciOi"),
        ("CREATE SECRET s3 (KEY_ID 'AKID', SECRET 'shh-its-secret')", "SECRET ***", "shh-its"),
    ],
)
def test_the_redactor_masks_each_kind_of_secret(text, kept, gone):
    masked = redact(text, environ={})
    assert kept in masked and gone not in masked, masked


def test_the_redactor_masks_the_literal_values_of_secret_settings():
    env = {
        "PLATFORM_ASSETS_SLACK_WEBHOOK_URL": "http://127.0.0.1:9/hook/LiteralSlackPath",
        "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjELiteralToken",
        "PLATFORM_ASSETS_PG_URL": "postgresql://u:pa%40ss-literal@db/x",
    }
    text = (
        "posting to http://127.0.0.1:9/hook/LiteralSlackPath failed; token "
        "IQoJb3JpZ2luX2VjELiteralToken; password pa@ss-literal"
    )
    masked = redact(text, environ=env)
    assert "LiteralSlackPath" not in masked and "LiteralToken" not in masked
    assert "pa@ss-literal" not in masked and masked.count("***") == 3


def test_terminal_safe_keeps_newlines_tabs_and_text():
    assert terminal_safe("a\tb\nc — ü ✓") == "a\tb\nc — ü ✓"
    assert terminal_safe("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\") == "link"
    assert terminal_safe("\x1bc\x1b[?1049hok") == "ok"
