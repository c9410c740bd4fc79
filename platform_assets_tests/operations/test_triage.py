"""Run-failure triage over real failed runs: each failure below is caused on purpose."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request

import boto3
import botocore.config
import dagster as dg
import duckdb
import numpy as np
import psycopg2
import pytest

from platform_assets.core import warehouse as wh
from platform_assets.core.features import build_feature_partition
from platform_assets.core.operations.triage import (
    FailedStep,
    FailureReport,
    Review,
    Runbook,
    Ticket,
    load_allowlist,
    run_safe_actions,
)
from platform_assets.core.training import TrainingConfig
from platform_assets.defs.operations import RETRY_TAG, build_triage_sensor
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.triage import fail_and_triage, failing_job, reviewed_allowlist

# The child holds the lock until its stdin closes: when the fixture ends, or when this
# process dies (the pipe closes with it), however long the module takes.
HOLD_LOCK = (
    "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
    "sys.stdin.read()"
)


@pytest.fixture(scope="module")
def locked_duckdb(tmp_path_factory):
    """A DuckDB file whose write lock another process holds for as long as the module runs.
    Tests only fail to open it; none changes it."""
    path = tmp_path_factory.mktemp("lock") / "held.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        assert holder.stdout.readline().strip() == "held", (
            "the lock holder did not open the database"
        )
        yield path
        assert holder.poll() is None, (
            f"the lock holder exited early ({holder.returncode}): the lock was not held"
        )
    finally:
        holder.stdin.close()  # EOF: the child closes DuckDB and exits
        try:
            holder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
        holder.stdout.close()


def _cause_lock(path):
    duckdb.connect(str(path))


def _cause_oom():
    np.ones(2**52)


def _cause_timeout():
    subprocess.run(["sleep", "5"], timeout=0.2)


def _cause_missing_upstream(tmp):
    with wh.session(tmp / "empty.duckdb") as conn:
        build_feature_partition(conn, "2026-01-05")


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cause_postgres_down():
    psycopg2.connect(host="127.0.0.1", port=_closed_port(), user="x", connect_timeout=5)


def _cause_s3_down():
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{_closed_port()}",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    s3.list_objects_v2(Bucket="artifacts")


def _cause_network_down():
    urllib.request.urlopen(f"http://127.0.0.1:{_closed_port()}/quarantine", timeout=5)


def _cause_bad_config():
    TrainingConfig(model_type="xgboost")


@pytest.mark.parametrize(
    "name, cause, pattern, runbook",
    [
        ("oom_job", lambda tmp, lock: _cause_oom(), "out_of_memory", "increase_memory_or_sample"),
        ("timeout_job", lambda tmp, lock: _cause_timeout(), "timeout", "retry_run"),
        ("lock_job", lambda tmp, lock: _cause_lock(lock), "duckdb_lock_contention", "retry_run"),
        (
            "upstream_job",
            lambda tmp, lock: _cause_missing_upstream(tmp),
            "missing_upstream_partition",
            "backfill_upstream_partition",
        ),
        ("config_job", lambda tmp, lock: _cause_bad_config(), "bad_config", "fix_run_config"),
        (
            "code_job",
            lambda tmp, lock: (_ for _ in ()).throw(KeyError("flux capacitor")),
            "code_error",
            "fix_code_error",
        ),
        (
            "mystery_job",
            lambda tmp, lock: (_ for _ in ()).throw(RuntimeError("flux capacitor")),
            "unknown",
            "escalate_to_on_call",
        ),
        # A PostgreSQL that is down, in a step whose name says "contract": the error decides.
        (
            "contract_load",
            lambda tmp, lock: _cause_postgres_down(),
            "infrastructure_database",
            "recover_infrastructure",
        ),
        (
            "artifact_upload",
            lambda tmp, lock: _cause_s3_down(),
            "infrastructure_object_store",
            "recover_infrastructure",
        ),
        (
            "quarantine_fetch",
            lambda tmp, lock: _cause_network_down(),
            "infrastructure_network",
            "recover_infrastructure",
        ),
    ],
)
def test_failures_become_tickets_with_the_right_runbook(
    env, locked_duckdb, name, cause, pattern, runbook
):
    tmp_path, resources, instance = env
    job = failing_job(name, lambda: cause(tmp_path, locked_duckdb))
    reviewed = reviewed_allowlist(tmp_path, "collect_diagnostics", "retry_run")
    ticket, actions, outcome = fail_and_triage(
        instance, resources, job=job, sensor=build_triage_sensor(allowlist_path=str(reviewed))
    )
    assert ticket["pattern"] == pattern and ticket["recommended_action"] == runbook
    assert ticket["failed_steps"] == [f"{name}_step"]
    assert any(f"step {name}_step failed" in e for e in ticket["evidence"])
    assert any(e.startswith("log before failure: starting") for e in ticket["evidence"])
    assert ticket["recommended_action"] in load_allowlist()
    statuses = {runbook_name: status for runbook_name, status, _ in actions}
    assert statuses["collect_diagnostics"] == "executed"
    assert (tmp_path / "artifacts" / "triage" / f"{ticket['run_id']}.json").is_file()
    if runbook == "retry_run":
        # Safe, but this job is not one the sensor may launch: recorded as failed, nothing
        # requested.
        assert statuses["retry_run"] == "failed" and isinstance(outcome, dg.SkipReason)
    else:
        assert statuses[runbook] == "needs_person" and isinstance(outcome, dg.SkipReason)


def test_contract_failure_from_a_blocking_check(env):
    _tmp_path, resources, instance = env

    @dg.asset(key=["raw", "orders"])
    def raw_orders():
        return None

    @dg.asset_check(asset=raw_orders, name="contract_orders", blocking=True)
    def contract_orders():
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description="amount_cents: 40% of values are fractional",
        )

    @dg.asset(deps=[raw_orders], key=["validated", "orders"])
    def validated_orders():
        return None

    ticket, actions, _ = fail_and_triage(
        instance, resources, assets=[raw_orders, contract_orders, validated_orders]
    )
    assert (
        ticket["pattern"] == "contract_failure"
        and ticket["recommended_action"] == "inspect_quarantine"
    )
    assert ("inspect_quarantine", "needs_person") in [(a[0], a[1]) for a in actions]


def _blocking_check_assets(check_name: str, metadata: dict):
    @dg.asset(key=["fraud", "model"])
    def fraud_model():
        return None

    @dg.asset_check(asset=fraud_model, name=check_name, blocking=True)
    def the_check():
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{check_name} did not pass",
            metadata=metadata,
        )

    # A downstream asset whose step name says "contract": never taken for the cause.
    @dg.asset(deps=[fraud_model], key=["contract_review"])
    def contract_review():
        return None

    return [fraud_model, the_check, contract_review]


@pytest.mark.parametrize(
    "check_name, metadata, pattern, runbook",
    [
        (
            "promotion_gate",
            {"decision": "blocked", "reason": "challenger AUROC 0.71 < champion 0.83"},
            "gate_blocked",
            "review_blocked_promotion",
        ),
        ("onnx_parity", {"max_abs_diff": 0.2}, "onnx_parity", "fix_onnx_export"),
        (
            "contract_fct_transactions",
            {"failed_rules": ["amount: minimum"]},
            "contract_failure",
            "inspect_quarantine",
        ),
    ],
)
def test_each_blocking_check_gets_its_own_cause_and_runbook(
    env, check_name, metadata, pattern, runbook
):
    _tmp_path, resources, instance = env
    ticket, actions, _ = fail_and_triage(
        instance, resources, assets=_blocking_check_assets(check_name, metadata)
    )
    assert (ticket["pattern"], ticket["recommended_action"]) == (pattern, runbook)
    assert any(
        e.startswith(f"check {check_name} on fraud/model did not pass") for e in ticket["evidence"]
    )
    assert any(json.dumps(metadata)[1:-1] in e for e in ticket["evidence"])
    assert (runbook, "needs_person") in [(a[0], a[1]) for a in actions]


def test_retry_is_requested_once_and_never_for_a_retry(env, locked_duckdb):
    tmp_path, resources, instance = env
    job = failing_job("nightly_load", lambda: _cause_lock(locked_duckdb))
    reviewed = reviewed_allowlist(tmp_path, "collect_diagnostics", "retry_run")
    sensor = build_triage_sensor(request_jobs=[job], allowlist_path=str(reviewed))
    first, actions, outcome = fail_and_triage(instance, resources, job=job, sensor=sensor)
    assert ("retry_run", "executed") in [(a[0], a[1]) for a in actions]
    assert isinstance(outcome, list) and len(outcome) == 1
    request = outcome[0]
    assert (
        request.job_name == "nightly_load" and request.run_key == f"triage-retry-{first['run_id']}"
    )
    assert request.tags[RETRY_TAG] == first["run_id"]

    retried, actions, outcome = fail_and_triage(
        instance, resources, job=job, sensor=sensor, tags={RETRY_TAG: first["run_id"]}
    )
    assert isinstance(outcome, dg.SkipReason)
    assert [a[1] for a in actions if a[0] == "retry_run"] == ["failed"]
    assert first["run_id"] in retried["similar_runs"]  # the same failure seen before


def test_nothing_outside_the_allowlist_runs(tmp_path):
    ran = []
    reviews = (Review("Reviewer One", "2026-11-20"), Review("Reviewer Two", "2026-11-21"))
    allowlist = {
        "escalate_to_on_call": Runbook("escalate_to_on_call", "page", False),
        "collect_diagnostics": Runbook("collect_diagnostics", "bundle", True, reviews),
    }
    ticket = Ticket("t1", "r1", "job", "timeout", "slow", [], "retry_run", True, "sig", [], [])
    with wh.session(tmp_path / "w.duckdb") as conn:
        actions = run_safe_actions(
            ticket,
            conn,
            allowlist,
            {
                "retry_run": lambda t: ran.append(t) or "ran",
                "collect_diagnostics": lambda t: "bundled",
            },
            runbooks=["retry_run", "collect_diagnostics", "escalate_to_on_call"],
        )
    assert ran == []
    assert [(a["runbook"], a["status"]) for a in actions] == [
        ("retry_run", "refused"),
        ("collect_diagnostics", "executed"),
        ("escalate_to_on_call", "needs_person"),
    ]


def test_allowlist_without_a_runbook_falls_back_to_escalation(env, locked_duckdb, tmp_path):
    _, resources, instance = env
    allowlist = tmp_path / "allowlist.yaml"
    allowlist.write_text(
        "runbooks:\n  - name: escalate_to_on_call\n    description: page\n    safe_to_automate: "
        "false\n"
    )
    job = failing_job("lock_again", lambda: _cause_lock(locked_duckdb))
    sensor = build_triage_sensor(request_jobs=[job], allowlist_path=str(allowlist))
    ticket, actions, outcome = fail_and_triage(instance, resources, job=job, sensor=sensor)
    assert (
        ticket["pattern"] == "duckdb_lock_contention"
        and ticket["recommended_action"] == "escalate_to_on_call"
    )
    assert isinstance(outcome, dg.SkipReason)
    assert ("collect_diagnostics", "refused") in [(a[0], a[1]) for a in actions]


def test_repo_allowlist_is_well_formed():
    allowlist = load_allowlist()
    assert {"retry_run", "collect_diagnostics", "escalate_to_on_call"} <= set(allowlist)
    assert (
        allowlist["collect_diagnostics"].safe_to_automate
        and not allowlist["fix_run_config"].safe_to_automate
    )


def test_report_text_includes_everything():
    steps = [
        FailedStep(
            "load_step",
            "KeyError",
            "'flux capacitor'",
            stack="Traceback: line 3",
            logs_before=["starting load", "read 3 files"],
        ),
        FailedStep("train_step", "MemoryError", "out of memory"),
    ]  # no stack, no logs: nothing blank
    report = FailureReport("r", "j", steps, run_error='Execution of run for "j" failed.')
    assert report.text().split("\n") == [
        'Execution of run for "j" failed.',
        "load_step",
        "KeyError",
        "'flux capacitor'",
        "Traceback: line 3",
        "starting load",
        "read 3 files",
        "train_step",
        "MemoryError",
        "out of memory",
    ]
    assert FailureReport("r", "j", []).text() == ""
