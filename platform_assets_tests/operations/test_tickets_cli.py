"""``platform-assets tickets`` over real tickets of real failed runs, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.triage import fail_and_triage, failing_job


def _timeout():
    raise TimeoutError("the landing bucket timed out")


def _cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", "tickets", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_list_show_approve(env):
    tmp_path, resources, instance = env
    ticket, _, _ = fail_and_triage(instance, resources, job=failing_job("slow_job", _timeout))
    cli_env = subprocess_env(
        PLATFORM_ASSETS_HOME=str(tmp_path),
        PLATFORM_ASSETS_WAREHOUSE=resources["warehouse"].database,
    )
    tid = ticket["ticket_id"]

    listed = _cli(cli_env, "list")
    assert listed.returncode == 0, listed.stderr
    assert f"{tid}" in listed.stdout and "timeout → retry_run  [needs_person]" in listed.stdout
    assert "1 ticket(s) wait for a person" in listed.stdout

    shown = _cli(cli_env, "show", tid)
    assert shown.returncode == 0, shown.stderr
    assert (
        "probable cause: A step or a call it made took longer than its time limit." in shown.stdout
    )
    assert "runbooks/retry_run.md" in shown.stdout and "retry_run: needs_person" in shown.stdout
    assert f"platform-assets tickets approve {tid} --by" in shown.stdout

    approved = _cli(cli_env, "approve", tid, "--by", "Grace Hopper", "--json")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["actor"] == "Grace Hopper"
    [after] = json.loads(_cli(cli_env, "list", "--json").stdout)
    assert after["status"] == "approved"
    assert [(a["status"], a["actor"]) for a in after["actions"]][-1] == ("approved", "Grace Hopper")


def test_usage_errors_exit_2(env):
    tmp_path, _resources, _ = env
    cli_env = subprocess_env(
        PLATFORM_ASSETS_HOME=str(tmp_path), PLATFORM_ASSETS_WAREHOUSE=str(tmp_path / "none.duckdb")
    )
    assert _cli(cli_env, "list").stdout.strip() == "no tickets"
    for args in (
        ["show", "triage-nope"],
        ["approve", "triage-nope", "--by", "Ada"],
        ["approve", "triage-nope"],
        ["approve", "triage-nope", "--by", " "],
    ):
        result = _cli(cli_env, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
