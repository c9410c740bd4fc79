"""The platform-assets command: exit codes, JSON, and Dagster runs from the shell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from platform_assets.core.ingestion.bundled import FaultInjection, generate_transactions
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.models import identity_onnx
from platform_assets_tests.support.paths import CONTRACT_PATH, REPO
from platform_assets_tests.support.scripted_server import Reply, ScriptedServer
from platform_assets_tests.support.webhook import WebhookServer

CLI = [sys.executable, "-m", "platform_assets.cli"]


def run_cli(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess:
    """The CLI in a child process, without the developer's Claude/AWS variables, plus ``env``."""
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=subprocess_env({"RUNTIME__LOG_LEVEL": "ERROR", **(env or {})}),
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("batches")
    out = {}
    for name, drift in [
        ("good", None),
        ("reference", None),
        ("dollars", FaultInjection(amount_unit="dollars")),
        ("alpha3", FaultInjection(country_codes="alpha3")),
    ]:
        day = "2026-11-01" if name == "reference" else "2026-11-02"
        pq.write_table(generate_transactions(day, 2000, drift), folder / f"{name}.parquet")
    pacsv.write_csv(generate_transactions("2026-11-02", 500), folder / "good.csv")
    good_csv = (folder / "good.csv").read_bytes()
    (folder / "truncated.csv").write_bytes(good_csv[: len(good_csv) // 2])
    (folder / "header_only.csv").write_bytes(good_csv.splitlines(keepends=True)[0])
    pacsv.write_csv(pa.table({"sku": ["a", "b"], "qty": [1, 2]}), folder / "unrelated.csv")
    (folder / "empty.csv").write_text("")
    (folder / "not_parquet.parquet").write_text("transaction_id,amount\n1,2\n")
    return out | {p.stem + p.suffix: p for p in folder.iterdir()}


def test_check_passes_with_exit_0_and_json(files):
    result = run_cli("contracts", "check", CONTRACT_PATH, files["good.parquet"], "--json")
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["passes"] is True
    assert all(
        set(v) == {"field", "rule", "detail", "severity", "source"} for v in verdict["violations"]
    )
    assert "llm" not in verdict


def test_csv_batch_is_checked_too(files):
    result = run_cli("contracts", "check", CONTRACT_PATH, files["good.csv"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("PASS")


def test_violation_exits_1_with_reference_drift_in_json(files):
    result = run_cli(
        "contracts",
        "check",
        CONTRACT_PATH,
        files["dollars.parquet"],
        "--reference",
        files["reference.parquet"],
        "--json",
    )
    assert result.returncode == 1, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["passes"] is False
    rules = {(v["field"], v["rule"]) for v in verdict["violations"]}
    assert ("amount_cents", "unit_change") in rules and ("amount_cents", "logicalType") in rules
    assert {v["source"] for v in verdict["violations"]} == {"rules"}


def test_human_output_names_rule_and_example(files):
    result = run_cli("contracts", "check", CONTRACT_PATH, files["alpha3.parquet"])
    assert result.returncode == 1
    assert "user_country · pattern (rules)" in result.stdout and "'USA'" in result.stdout
    assert "FAIL" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope.odcs.yaml", "good.parquet"], "file not found"),
        ([str(CONTRACT_PATH), "missing.csv"], "missing.csv: file not found"),
        ([str(CONTRACT_PATH), "empty.csv"], "empty.csv: the file is empty"),
        (
            [str(CONTRACT_PATH), "not_parquet.parquet"],
            "not_parquet.parquet: cannot be read as Parquet",
        ),
        # Malformed, not "column missing": the line where the file stops being CSV.
        (
            [str(CONTRACT_PATH), "truncated.csv"],
            "truncated.csv: cannot be read as CSV: CSV Error on Line: ",
        ),
        (
            [str(CONTRACT_PATH), "good.csv", "--reference", "header_only.csv"],
            "the reference has no rows",
        ),
    ],
)
def test_usage_errors_exit_2_and_name_the_file(files, args, message):
    args = [str(files.get(a, a)) for a in args]
    result = run_cli("contracts", "check", *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_reference_without_the_contract_columns_says_drift_was_not_checked(files):
    result = run_cli(
        "contracts",
        "check",
        CONTRACT_PATH,
        files["good.csv"],
        "--reference",
        files["unrelated.csv"],
        "--json",
        "--no-llm",
    )
    assert result.returncode == 0, result.stderr
    notes = json.loads(result.stdout)["notes"]
    assert any(
        n.startswith("drift was not checked: the reference") and "unrelated.csv" in n for n in notes
    ), notes


def test_invalid_contract_exits_2(tmp_path: Path, files):
    bad = tmp_path / "bad.odcs.yaml"
    bad.write_text(CONTRACT_PATH.read_text().replace("logicalType: integer", "logicalType: int"))
    result = run_cli("contracts", "check", bad, files["good.parquet"])
    assert result.returncode == 2
    assert (
        "schema[0].properties[6].logicalType (line" in result.stderr
        and "unknown logicalType 'int'" in result.stderr
    )
    lint = run_cli("contracts", "lint", bad)
    assert lint.returncode == 2 and "unknown logicalType 'int'" in lint.stderr
    ok = run_cli("contracts", "lint", CONTRACT_PATH)
    assert ok.returncode == 0 and "11 columns" in ok.stdout


def test_every_command_has_help():
    for command in [
        [],
        ["contracts"],
        ["contracts", "check"],
        ["contracts", "lint"],
        ["checks"],
        ["checks", "run"],
        ["models"],
        ["models", "list"],
        ["models", "promote"],
        ["models", "rollback"],
        ["models", "card"],
        ["run"],
        ["backfill"],
        ["dev"],
    ]:
        result = run_cli(*command, "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout, command


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {
        "PLATFORM_ASSETS_HOME": str(tmp_path / "home"),
        "PLATFORM_ASSETS_ROWS_PER_PARTITION": "1000",
        "DAGSTER_HOME": "",
    }


def test_backfill_runs_a_range_in_one_run_and_checks_run_gates_ci(home, tmp_path: Path):
    result = run_cli(
        "backfill",
        "--select",
        "raw/transactions",
        "--start",
        "2026-11-01",
        "--end",
        "2026-11-03",
        "--json",
        env=home,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["partitions"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert len(report["runs"]) == 1 and report["success"]
    warehouse_path = Path(home["PLATFORM_ASSETS_HOME"]) / "warehouse.duckdb"
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        counts = conn.execute(
            "SELECT count(*), count(DISTINCT partition_date) FROM raw.transactions"
        ).fetchall()[0]
    assert counts == (3000, 3)

    passing = run_cli(
        "checks", "run", "--select", "raw/transactions", "--partition", "2026-11-02", env=home
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "[pass] raw/transactions · contract_fct_transactions" in passing.stdout

    config = tmp_path / "drift.yaml"
    config.write_text("ops:\n  raw_transactions:\n    config:\n      amount_unit: dollars\n")
    failing = run_cli(
        "checks",
        "run",
        "--select",
        "raw/transactions",
        "--partition",
        "2026-11-03",
        "--materialize",
        "--config",
        config,
        env=home,
    )
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "[FAIL] raw/transactions · contract_fct_transactions" in failing.stdout


def test_unknown_partition_and_asset_are_usage_errors(home):
    result = run_cli(
        "checks", "run", "--select", "raw/transactions", "--partition", "1999-01-01", env=home
    )
    assert result.returncode == 2 and "unknown partition '1999-01-01'" in result.stderr
    result = run_cli(
        "backfill", "--select", "raw/nope", "--start", "2026-11-01", "--end", "2026-11-02", env=home
    )
    assert result.returncode == 2 and "unknown asset 'raw/nope'" in result.stderr


def test_backfill_url_submits_to_a_deployment_and_runs_nothing_here(home):
    """``backfill --url`` sends Dagster's ``launchPartitionBackfill`` to the webserver and prints
    the backfill's page (the real deployment is test_first_hour's ``dagster dev``); here a
    loopback server that answers as Dagster does, so what the command sent can be read."""
    answer = json.dumps(
        {
            "data": {
                "launchPartitionBackfill": {
                    "__typename": "LaunchBackfillSuccess",
                    "backfillId": "abcdefgh",
                }
            }
        }
    )
    with WebhookServer(answer=answer) as dagster_webserver:
        result = run_cli(
            "backfill",
            "--select",
            "raw/transactions",
            "--select",
            "validated/transactions",
            "--start",
            "2026-11-01",
            "--end",
            "2026-11-03",
            "--url",
            dagster_webserver.base_url,
            env=home,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip() == (
            "submitted backfill abcdefgh of raw/transactions, validated/transactions "
            f"2026-11-01..2026-11-03 (3 partitions) to {dagster_webserver.base_url}: "
            f"{dagster_webserver.base_url}/runs/b/abcdefgh"
        )
        (request,) = dagster_webserver.posts
        assert (
            dagster_webserver.paths == ["/graphql"]
            and "launchPartitionBackfill" in request["query"]
        )
        params = request["variables"]["params"]
        assert params["assetSelection"] == [
            {"path": ["raw", "transactions"]},
            {"path": ["validated", "transactions"]},
        ]
        assert params["partitionNames"] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert not (Path(home["PLATFORM_ASSETS_HOME"]) / "warehouse.duckdb").exists(), (
        "nothing should run here"
    )

    gone = run_cli(
        "backfill",
        "--select",
        "raw/transactions",
        "--start",
        "2026-11-01",
        "--end",
        "2026-11-01",
        "--url",
        dagster_webserver.base_url,
        env=home,
    )
    assert (
        gone.returncode == 2
        and f"cannot reach Dagster at {dagster_webserver.base_url}" in gone.stderr
    )


def test_python_backfill_api(home, monkeypatch):
    import dagster as dg

    import platform_assets

    for key, value in home.items():
        monkeypatch.setenv(key, value)
    with dg.instance_for_test() as instance:
        result = platform_assets.backfill(
            ["raw/transactions"], "2026-11-04", "2026-11-05", instance=instance
        )
        assert result.success and len(result.runs) == 1
        assert result.partitions == ["2026-11-04", "2026-11-05"]
        (run,) = instance.get_runs()
        assert run.tags["dagster/asset_partition_range_start"] == "2026-11-04"


def test_check_with_claude_adds_llm_usage_and_logs_every_call(files, tmp_path: Path):
    answer = json.dumps(
        {
            "passes": False,
            "summary": "amounts look like dollars",
            "violations": [{"field": "amount_cents", "detail": "values look like dollars"}],
        }
    )
    env = {"ANTHROPIC_API_KEY": "test-key", "PLATFORM_ASSETS_HOME": str(tmp_path / "home")}
    with ScriptedServer(script=[Reply(text=answer)]) as server:
        env["ANTHROPIC_BASE_URL"] = server.url  # the scripted server, never the real API
        result = run_cli(
            "contracts", "check", CONTRACT_PATH, files["good.parquet"], "--json", env=env
        )
        requests = [r for r in server.requests if r.path.endswith("/messages")]
    assert result.returncode == 1, result.stdout + result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["passes"] is False
    assert [
        (v["field"], v["source"]) for v in verdict["violations"] if v["source"] == "claude"
    ] == [("amount_cents", "claude")]
    llm = verdict["llm"]
    assert set(llm) == {
        "model",
        "calls",
        "input_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "output_tokens",
        "cost_usd",
        "outcome",
    }
    assert llm["calls"] == len(requests) == 1 and llm["outcome"] == "ok"
    with duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True) as conn:
        (logged,) = conn.execute("SELECT count(*) FROM platform.llm_calls").fetchall()[0]
    assert logged == 1


def test_no_llm_flag_sends_nothing(files):
    with ScriptedServer() as server:
        env = {"ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": server.url}
        result = run_cli(
            "contracts",
            "check",
            CONTRACT_PATH,
            files["good.parquet"],
            "--json",
            "--no-llm",
            env=env,
        )
        assert server.requests == []
    assert result.returncode == 0
    verdict = json.loads(result.stdout)
    assert "llm" not in verdict and verdict["decided_by"] == "rules"
    assert any("turned off" in note for note in verdict["notes"])


def test_models_commands_promote_only_through_the_gate_and_roll_back(tmp_path: Path):
    from platform_assets.core.registry import registry_for

    home = tmp_path / "home"
    env = {"PLATFORM_ASSETS_HOME": str(home)}
    registry = registry_for(str(home / "artifacts" / "registry"))

    def register(pr_auc: float) -> int:
        return registry.register(
            {"model.onnx": identity_onnx(str(pr_auc))},
            config={"seed": 7},
            threshold=0.2,
            data_window={"train": ["2026-11-01", "2026-11-05"]},
            metrics={"pr_auc": pr_auc, "auroc": 0.85},
            lineage={},
        ).version

    assert run_cli("models", "card", env=env).returncode == 1  # no champion yet
    first = register(0.20)
    assert run_cli("models", "promote", str(first), env=env).returncode == 0
    worse = register(0.10)
    blocked = run_cli("models", "promote", str(worse), env=env)
    assert blocked.returncode == 1 and "BLOCKED" in blocked.stdout
    assert registry.aliases()["champion"] == first
    better = register(0.25)
    assert run_cli("models", "promote", str(better), env=env).returncode == 0
    listed = json.loads(run_cli("models", "list", "--json", env=env).stdout)
    assert listed["aliases"]["champion"] == better and len(listed["versions"]) == 3
    rolled = run_cli("models", "rollback", env=env)
    assert rolled.returncode == 0 and f"fraud_model:v{first}" in rolled.stdout
    assert registry.aliases()["champion"] == first
    assert run_cli("models", "rollback", env=env).returncode == 1  # nothing earlier than the first
    assert run_cli("models", "promote", "99", env=env).returncode == 2
    registry.attach(first, "model_card.md", b"# Model card: fraud_model:v1\n")
    card = run_cli("models", "card", env=env)
    assert card.returncode == 0 and card.stdout.startswith("# Model card: fraud_model:v1")

    # Versions as `models list` prints them are accepted; an unknown alias is a usage error.
    assert run_cli("models", "promote", f"fraud_model:v{better}", env=env).returncode == 0
    assert run_cli("models", "card", "--alias", "bogus", env=env).returncode == 2
    # A card written when its version was champion says so once that changed.
    registry.attach(
        first, "model_card.json", json.dumps({"model": {"status": "champion"}}).encode()
    )
    old_card = run_cli("models", "card", "--version", f"v{first}", env=env)
    assert (
        old_card.returncode == 0
        and f"written when v{first} was champion; its aliases now: none" in old_card.stderr
    )
    # A champion whose file fails its SHA-256 is called out by list and card (exit 1).
    onnx_path = (
        home
        / "artifacts"
        / "registry"
        / "fraud_model"
        / "versions"
        / f"v{better:04d}"
        / "model.onnx"
    )
    onnx_path.write_bytes(onnx_path.read_bytes() + b"tampered")
    listed = run_cli("models", "list", env=env)
    assert listed.returncode == 1 and "CORRUPT" in listed.stdout and "SHA-256" in listed.stdout
    registry.attach(better, "model_card.md", b"# Model card\n")
    corrupt_card = run_cli("models", "card", env=env)
    assert corrupt_card.returncode == 1 and "CORRUPT" in corrupt_card.stderr
