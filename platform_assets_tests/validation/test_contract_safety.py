"""Contracts are untrusted (they arrive in pull requests): their SQL rules run in a sandbox,
their YAML cannot exhaust the process, two files cannot govern one table, and what they
classify as personal never reaches Claude."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import dagster as dg
import pytest
import yaml

from platform_assets.core import warehouse
from platform_assets.core.ingestion.bundled import generate_transactions
from platform_assets.core.settings import Settings
from platform_assets.core.validation.contract import ContractError, load_contract
from platform_assets.core.validation.engine import check_batch
from platform_assets.core.validation.sql_rules import run_rule
from platform_assets.core.yaml_lines import line_index
from platform_assets.defs.ingestion import raw_transactions
from platform_assets.defs.resources import build_resources
from platform_assets.defs.validation import contract_fct_transactions, validated_transactions
from platform_assets_tests.cli.test_cli import run_cli
from platform_assets_tests.support.batches import arrow_batch
from platform_assets_tests.support.paths import CONTRACT_PATH

SPINE = [raw_transactions, contract_fct_transactions, validated_transactions]
# (what it tries, the rule's query): each of these ran in the warehouse before the sandbox.
HOSTILE_SQL = [
    ("delete", "DELETE FROM validated.transactions; SELECT 0"),
    ("delete alone", "DELETE FROM validated.transactions"),
    ("read a file", "SELECT count(*) FROM read_text('/etc/hostname') WHERE content LIKE '%'"),
    ("read a file in a value", "SELECT length(read_text('/etc/hostname')) * 0"),
    ("copy the batch out", "COPY (SELECT * FROM ${object}) TO '{scratch}/leak.csv'"),
    ("attach a database", "ATTACH '{scratch}/made.duckdb' AS made"),
    ("install an extension", "INSTALL httpfs"),
    ("load an extension", "LOAD httpfs"),
    ("pragma", "PRAGMA database_list"),
    ("set", "SET threads = 64"),
    ("call", "CALL pragma_version()"),
    ("export", "EXPORT DATABASE '{scratch}/export'"),
    ("another table", "SELECT count(*) FROM validated.transactions"),
    ("a file as a table", "SELECT count(*) FROM '{scratch}/x.csv'"),
    ("glob", "SELECT count(*) FROM glob('/*')"),
    ("query_table", "SELECT count(*) FROM query_table('raw.transactions')"),
    ("catalog", "SELECT count(*) FROM duckdb_tables()"),
    ("two selects", "SELECT 0; SELECT 1"),
    ("a subquery elsewhere", "SELECT count(*) FROM ${object} WHERE user_id IN (SELECT 1 FROM t2)"),
]


def _cli(*args: object, env: dict[str, str] | None = None):
    return run_cli(*map(str, args), env=env)


def _contract_text(mutate) -> str:
    document = yaml.safe_load(CONTRACT_PATH.read_text(encoding="utf-8"))
    mutate(document)
    return yaml.safe_dump(document, sort_keys=False)


def _with_sql_rule(query: str) -> str:
    def mutate(document):
        document["schema"][0]["quality"][1]["query"] = query

    return _contract_text(mutate)


def _write(folder: Path, text: str, name: str = "fct_transactions.odcs.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# -- 1. SQL rules ------------------------------------------------------------------------


@pytest.mark.parametrize(("what", "query"), HOSTILE_SQL, ids=[w for w, _ in HOSTILE_SQL])
def test_lint_refuses_a_sql_rule_that_is_not_one_select_over_the_batch(tmp_path, what, query):
    text = _with_sql_rule(query.replace("{scratch}", str(tmp_path)))
    path = _write(tmp_path, text)
    line = line_index(text)[("schema", 0, "quality", 1, "query")]
    with pytest.raises(ContractError) as raised:
        load_contract(path)
    (problem,) = raised.value.problems
    assert problem.startswith(f"schema[0].quality[1].query (line {line}): SQL rule refused: ")
    assert "one read-only SELECT over ${object}" in problem
    assert not list(tmp_path.glob("leak.csv")) and not list(tmp_path.glob("made.duckdb"))


def test_contracts_lint_exits_2_naming_file_rule_and_line(tmp_path):
    text = _with_sql_rule("DELETE FROM validated.transactions; SELECT 0")
    path = _write(tmp_path, text)
    line = line_index(text)[("schema", 0, "quality", 1, "query")]
    result = _cli("contracts", "lint", path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(path) in result.stderr
    assert f"schema[0].quality[1].query (line {line}): SQL rule refused" in result.stderr


def test_a_select_over_the_batch_by_placeholder_or_table_name_still_runs(tmp_path, memory_conn):
    for query in (
        "WITH t AS (SELECT * FROM ${object}) SELECT count(*) FROM t WHERE amount_cents < 0",
        "SELECT count(*) FROM transactions WHERE amount_cents < 0",
        "FROM fct_transactions SELECT count(*) WHERE amount_cents < 0",
    ):
        contract = load_contract(_write(tmp_path, _with_sql_rule(query)))
        batch = arrow_batch(memory_conn, generate_transactions("2026-11-02", 500))
        verdict = check_batch(memory_conn, batch, contract)
        assert verdict.passes, (query, verdict.violations)


def _lint_bypassed(contract, query: str):
    """The contract with one SQL rule replaced after lint: what a caller building a
    Contract by hand (or a lint bug) would hand the engine."""
    rules = list(contract.quality)
    index = next(i for i, q in enumerate(rules) if q.kind == "sql")
    rules[index] = dataclasses.replace(rules[index], query=query, severity="warning")
    return dataclasses.replace(contract, quality=tuple(rules))


@pytest.mark.parametrize(("what", "query"), HOSTILE_SQL, ids=[w for w, _ in HOSTILE_SQL])
def test_the_engine_refuses_again_and_never_runs_it(tmp_path, contract, what, query):
    """Over a real warehouse file that has validated rows: nothing changes, nothing is
    written, and the refused rule fails the batch even when its severity is a warning."""
    query = query.replace("{scratch}", str(tmp_path))
    path = tmp_path / "warehouse.duckdb"
    with warehouse.session(path) as conn:
        conn.execute("CREATE TABLE validated.transactions AS SELECT * FROM range(5) t(user_id)")
        batch = arrow_batch(conn, generate_transactions("2026-11-02", 300))
        verdict = check_batch(conn, batch, _lint_bypassed(contract, query))
        assert conn.execute("SELECT count(*) FROM validated.transactions").fetchall() == [(5,)]
        assert conn.execute("SELECT current_setting('threads')").fetchall() != [(64,)]
        databases = conn.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    assert not verdict.passes
    (refused,) = [v for v in verdict.violations if v.rule == "sql"]
    assert refused.severity == "error" and "refused, not run" in refused.detail
    assert ("made",) not in databases
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]


def test_an_accepted_rule_sees_only_the_batch_and_stops_at_its_time_limit(memory_conn):
    batch = arrow_batch(memory_conn, generate_transactions("2026-11-02", 200))
    memory_conn.execute("CREATE TABLE secret_table AS SELECT 42 AS answer")
    assert run_rule(memory_conn, batch.relation, "SELECT count(*) FROM ${object}").value == 200
    slow = run_rule(
        memory_conn,
        batch.relation,
        "SELECT count(*) FROM ${object} a, ${object} b, ${object} c, range(100000) d",
        seconds=0.5,
    )
    assert slow.error == "ran longer than 0.5 s and was stopped"
    # A name the parser does not see as a table still cannot reach the warehouse connection.
    hidden = run_rule(
        memory_conn, batch.relation, "SELECT count(*) FROM ${object} WHERE 'secret_table' = ''"
    )
    assert hidden.value == 0


def test_pipeline_with_a_hostile_contract_leaves_validated_rows_unchanged(tmp_path):
    """Dagster materializes a clean day, then the same day and the next with a contract
    whose SQL rule tries DELETE, COPY, read_text or ATTACH: no check passes, validated
    rows are as they were, and nothing is written outside the warehouse."""
    home = tmp_path / "home"
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    def settings_for(contracts_dir: Path) -> Settings:
        return Settings.from_env(
            {
                "PLATFORM_ASSETS_HOME": str(home),
                "PLATFORM_ASSETS_CONTRACTS_DIR": str(contracts_dir),
                "PLATFORM_ASSETS_ROWS_PER_PARTITION": "1000",
            }
        )

    def materialize(settings: Settings, key: str, instance) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            SPINE,
            partition_key=key,
            resources=build_resources(settings, environ={}),
            instance=instance,
            raise_on_error=False,
        )

    def validated(settings: Settings) -> list[tuple]:
        with warehouse.session(settings.warehouse_path, read_only=True) as conn:
            return conn.execute(
                "SELECT partition_date, count(*), sum(amount_cents) FROM validated.transactions "
                "GROUP BY ALL ORDER BY 1"
            ).fetchall()

    good = settings_for(CONTRACT_PATH.parent)
    with dg.instance_for_test() as instance:
        assert materialize(good, "2026-11-01", instance).success
        before = validated(good)
        assert before and before[0][1] == 1000
        for i, query in enumerate(
            [
                "DELETE FROM validated.transactions; SELECT 0",
                f"COPY (SELECT * FROM ${{object}}) TO '{scratch}/leak.csv'",
                "SELECT count(*) FROM read_text('/etc/hostname')",
                f"ATTACH '{scratch}/made.duckdb' AS made",
            ]
        ):
            hostile = settings_for(_write(tmp_path / f"contracts{i}", _with_sql_rule(query)).parent)
            # Other days than the good one: landing a day again withdraws its validated rows
            # (they are stale until it is checked again), so the good day must not be re-landed;
            # a rule that ran would still reach its rows (`DELETE FROM validated.transactions`).
            for key in ("2026-11-02", "2026-11-03"):
                result = materialize(hostile, key, instance)
                assert not result.success
                assert not any(e.passed for e in result.get_asset_check_evaluations())
            assert validated(good) == before
    assert list(scratch.iterdir()) == []


def test_check_time_refusal_is_a_failed_rule_in_the_verdict(contract, memory_conn):
    hostile = _lint_bypassed(contract, "SELECT count(*) FROM read_text('/etc/hostname')")
    batch = arrow_batch(memory_conn, generate_transactions("2026-11-02", 100))
    verdict = check_batch(memory_conn, batch, hostile)
    assert not verdict.passes
    assert [v.rule for v in verdict.errors] == ["sql"]


# -- 2. YAML and schema validation bounded ---------------------------------------------------


def _alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return (
        "apiVersion: v3.1.0\nkind: DataContract\nid: bomb\nversion: 1.0.0\nstatus: active\n"
        "customProperties:\n  - property: x\n    value:\n"
        + "\n".join("      " + line for line in lines)
        + "\n"
    )


def _measured(call) -> tuple[float, int]:
    """CPU seconds and peak Python memory (bytes) of ``call()``."""
    import time
    import tracemalloc

    tracemalloc.start()
    started = time.process_time()
    try:
        call()
    finally:
        seconds = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return seconds, peak


def test_a_yaml_alias_bomb_is_refused_quickly_and_small(tmp_path):
    path = _write(tmp_path, _alias_bomb())
    caught: list[ContractError] = []

    def lint():
        try:
            load_contract(path)
        except ContractError as exc:
            caught.append(exc)

    seconds, peak = _measured(lint)
    (error,) = caught
    assert str(path) in str(error)
    assert "aliases" in error.problems[0] and "refused" in error.problems[0]
    assert seconds < 2 and peak < 100 * 2**20, (seconds, peak)


def test_a_recursive_alias_and_an_oversized_file_are_refused(tmp_path):
    recursive = _write(tmp_path, "id: &a [*a]\n", "recursive.odcs.yaml")
    with pytest.raises(ContractError, match=r"(recursive|alias)"):
        load_contract(recursive)
    huge = tmp_path / "huge.odcs.yaml"
    with huge.open("w") as out:
        out.write("id: x\ndescription:\n  purpose: >-\n")
        out.write(("    " + "x" * 1020 + "\n") * 17_000)
    with pytest.raises(ContractError, match="bytes"):
        load_contract(huge)


def _with_enum(values: list) -> str:
    def mutate(document):
        prop = next(
            p for p in document["schema"][0]["properties"] if p["name"] == "merchant_category"
        )
        prop["enum"] = values

    return _contract_text(mutate)


def test_a_long_enum_lints_in_linear_time(tmp_path):
    path = _write(tmp_path, _with_enum([{"value": f"cat_{i}"} for i in range(20_000)]))
    seconds, _ = _measured(lambda: load_contract(path))
    spec = load_contract(path).column("merchant_category")
    assert spec is not None and spec.enum is not None and len(spec.enum) == 20_000
    # Before: 5,000 values took 60-90 s (jsonschema compared every pair for uniqueItems).
    assert seconds < 8, seconds


def test_a_long_enum_still_names_a_bad_or_repeated_entry_and_its_line(tmp_path):
    values: list = [{"value": f"cat_{i}"} for i in range(3_000)]
    values[1_700] = {"value": "cat_x", "colour": "red"}
    text = _with_enum(values)
    index = next(
        i
        for i, p in enumerate(yaml.safe_load(text)["schema"][0]["properties"])
        if p["name"] == "merchant_category"
    )
    line = line_index(text)[("schema", 0, "properties", index, "enum", 1_700, "colour")]
    with pytest.raises(ContractError) as raised:
        load_contract(_write(tmp_path, text))
    assert raised.value.problems == [
        f"schema[0].properties[{index}].enum[1700].colour (line {line}): unknown field 'colour'"
    ]
    values[1_700] = {"value": "cat_12"}
    text = _with_enum(values)
    with pytest.raises(ContractError) as raised:
        load_contract(_write(tmp_path, text))
    enum_line = line_index(text)[("schema", 0, "properties", index, "enum")]
    assert raised.value.problems == [
        f"schema[0].properties[{index}].enum (line {enum_line}): lists the same value twice"
    ]


# -- 3. one contract per table ----------------------------------------------------------------


def _minimal_draft() -> str:
    """A draft for the same physical table that checks almost nothing (what let a batch in
    dollars pass when it sorted first)."""
    return (
        "apiVersion: v3.1.0\nkind: DataContract\nid: draft\nversion: 0.1.0\nstatus: draft\n"
        "schema:\n  - name: transactions_draft\n    physicalName: transactions\n"
        "    properties:\n      - name: transaction_id\n        logicalType: string\n"
    )


def _two_contracts(folder: Path) -> tuple[Path, Path]:
    real = _write(folder, CONTRACT_PATH.read_text(encoding="utf-8"))
    draft = _write(folder, _minimal_draft(), "a_draft.odcs.yaml")
    return draft, real


def test_two_contracts_for_one_table_stop_the_pipeline_naming_both(tmp_path):
    from platform_assets.core.validation.contract import find_contract

    draft, real = _two_contracts(tmp_path / "contracts")
    with pytest.raises(ContractError) as raised:
        find_contract(tmp_path / "contracts", "transactions")
    assert str(draft) in str(raised.value) and str(real) in str(raised.value)
    settings = Settings.from_env(
        {
            "PLATFORM_ASSETS_HOME": str(tmp_path / "home"),
            "PLATFORM_ASSETS_CONTRACTS_DIR": str(tmp_path / "contracts"),
            "PLATFORM_ASSETS_ROWS_PER_PARTITION": "500",
        }
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            SPINE,
            partition_key="2026-11-01",
            resources=build_resources(settings, environ={}),
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    assert not result.get_asset_check_evaluations()
    messages = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None:
            messages.append(error.message)
            error = error.cause
    messages = " ".join(messages)
    assert str(draft) in messages and str(real) in messages


def test_two_contracts_for_one_table_are_a_usage_error_in_the_cli(tmp_path):
    draft, real = _two_contracts(tmp_path / "contracts")
    env = {
        "PLATFORM_ASSETS_HOME": str(tmp_path / "home"),
        "PLATFORM_ASSETS_CONTRACTS_DIR": str(tmp_path / "contracts"),
    }
    # Linting only the new draft finds the contract already in the folder.
    lint = _cli("contracts", "lint", draft, env=env)
    assert lint.returncode == 2, lint.stdout + lint.stderr
    assert f"table 'transactions' is governed by 2 contracts: {draft} and {real}" in lint.stderr
    # The same files outside the contracts folder are only files: each lints on its own.
    assert _cli("contracts", "lint", draft, real).returncode == 0
    release = _cli("quarantine", "release", "2026-11-01", env=env)
    assert release.returncode == 2, release.stdout + release.stderr
    assert str(draft) in release.stderr and str(real) in release.stderr


# -- 5. smaller lint holes ------------------------------------------------------------------------


def _with_table_rule(rule: dict) -> str:
    def mutate(document):
        document["schema"][0]["quality"].append(rule)

    return _contract_text(mutate)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"metric": "rowCount", "mustBeBetween": [5, 1]}, "the low bound 5 is above the high"),
        (
            {"metric": "rowCount", "mustNotBeBetween": [10, 2]},
            "the low bound 10 is above the high",
        ),
    ],
)
def test_lint_refuses_a_between_with_its_bounds_swapped(tmp_path, rule, words):
    text = _with_table_rule(rule)
    path = _write(tmp_path, text)
    operator = next(k for k in rule if k.startswith("must"))
    line = line_index(text)[("schema", 0, "quality", 3, operator)]
    result = _cli("contracts", "lint", path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"schema[0].quality[3].{operator} (line {line}): " in result.stderr
    assert words in result.stderr


def test_lint_refuses_a_percent_outside_0_to_100(tmp_path):
    def mutate(document):
        prop = next(p for p in document["schema"][0]["properties"] if p["name"] == "user_country")
        prop["quality"] = [{"metric": "nullValues", "unit": "percent", "mustBeLessThan": 150}]

    text = _contract_text(mutate)
    with pytest.raises(ContractError) as raised:
        load_contract(_write(tmp_path, text))
    (problem,) = raised.value.problems
    assert "mustBeLessThan 150 with unit percent" in problem and "(line " in problem


def test_check_of_a_two_table_contract_without_table_is_a_usage_error(tmp_path):
    def mutate(document):
        second = copy.deepcopy(document["schema"][0])
        second["name"], second["physicalName"] = "fct_refunds", "refunds"
        document["schema"].append(second)

    path = _write(tmp_path, _contract_text(mutate))
    data = tmp_path / "batch.csv"
    data.write_text("transaction_id\ntx_20261102_00000001\n")
    result = _cli("contracts", "check", path, data, "--no-llm")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "2 tables (transactions, refunds): choose the one" in result.stderr
    assert "--table NAME" in result.stderr


# -- 4. what is withheld from Claude ----------------------------------------------------------


@pytest.mark.parametrize(
    ("classification", "withheld"),
    [
        ("pii", True),
        ("PII", True),
        ("personal", True),
        ("Personal Data", True),
        ("PII (GDPR personal data)", True),
        ("gdpr-art9", True),
        ("Special Category", True),
        ("restricted", True),
        ("Confidential", True),
        ("sensitive_pii", True),
        ("PHI", True),
        ("internal", True),  # not known to be public: when in doubt, withhold
        ("customer data", True),
        ("publik", True),
        ("public", False),
        ("Public", False),
        ("open data", False),
        (None, False),
        ("", False),
    ],
)
def test_the_classification_policy(classification, withheld):
    from platform_assets.core.validation.classification import withheld_because

    assert (withheld_because(classification) is not None) is withheld


def _classified(classes: dict[str, str]) -> str:
    def mutate(document):
        for prop in document["schema"][0]["properties"]:
            if prop["name"] in classes:
                prop["classification"] = classes[prop["name"]]

    return _contract_text(mutate)


CLASSES = {
    "user_id": "personal",
    "device_fingerprint": "PII (GDPR personal data)",
    "transaction_id": "Restricted - special category",
    "merchant_id": "internal",
}


def test_lint_names_the_columns_withheld_from_claude(tmp_path):
    path = _write(tmp_path, _classified(CLASSES))
    result = _cli("contracts", "lint", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "withheld from Claude (no value is sent, no violation quotes one): "
        "transaction_id (restricted - special category), user_id (personal), "
        "merchant_id (internal (unrecognised classification, withheld when in doubt)), "
        "device_fingerprint (pii (gdpr personal data))"
    ) in result.stdout


def test_no_value_of_a_withheld_column_reaches_the_messages_api(tmp_path):
    """contracts check with a key, against the scripted Messages API server: the values of
    every column the policy withholds (including one that breaks its pattern, so the rules
    quote an example) are in no request body."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from platform_assets_tests.support.scripted_server import Reply, ScriptedServer

    contract_path = _write(tmp_path, _classified(CLASSES))
    table = generate_transactions("2026-11-02", 400)
    users = table.column("user_id").to_pylist()
    users[3] = "someone@example.org"  # breaks the pattern: the rules' example would quote it
    table = table.set_column(table.schema.get_field_index("user_id"), "user_id", pa.array(users))
    data = tmp_path / "batch.parquet"
    pq.write_table(table, data)
    answer = json.dumps({"passes": True, "summary": "fine", "violations": []})
    env = {"ANTHROPIC_API_KEY": "test-key", "PLATFORM_ASSETS_HOME": str(tmp_path / "home")}
    with ScriptedServer(script=[Reply(text=answer)]) as server:
        env["ANTHROPIC_BASE_URL"] = server.url
        result = _cli("contracts", "check", contract_path, data, "--json", env=env)
        bodies = [r.raw for r in server.requests]
        messages = [r.raw for r in server.requests if r.path.endswith("/messages")]
    assert result.returncode == 1, result.stdout + result.stderr
    assert messages and all("withheld_columns" in body for body in messages)
    secret_values = {
        str(v)
        for name in CLASSES
        for v in table.column(name).to_pylist()
        if v is not None and len(str(v)) > 3
    }
    assert len(secret_values) > 400
    leaked = sorted(v for v in secret_values for body in bodies if v in body)
    assert leaked == []
    # Nor does the verdict (stored, alerted, read back into later prompts) quote one.
    verdict = json.loads(result.stdout)
    (broken,) = [v for v in verdict["violations"] if v["field"] == "user_id"]
    assert (
        "someone@example.org" not in broken["detail"]
        and "«withheld: personal»" in (broken["detail"])
    )


def test_no_violation_quotes_a_value_of_a_withheld_column(contract, memory_conn):
    """Rules and semantic drift both find the change in user_id (classification pii); the
    verdict, which is stored, alerted and read back into drift explanations for Claude,
    quotes none of its values."""
    import pyarrow as pa

    reference_table = generate_transactions("2026-11-01", 600)
    reference = check_batch(memory_conn, arrow_batch(memory_conn, reference_table), contract)
    table = generate_transactions("2026-11-02", 600)
    emails = [f"person{i % 7}@example.org" for i in range(table.num_rows)]
    table = table.set_column(table.schema.get_field_index("user_id"), "user_id", pa.array(emails))
    verdict = check_batch(
        memory_conn, arrow_batch(memory_conn, table), contract, reference.profile, "reference"
    )
    on_user = [v for v in verdict.violations if v.field == "user_id"]
    assert {v.rule for v in on_user} >= {"pattern"} and len(on_user) >= 2, on_user
    details = " ".join(v.detail for v in verdict.violations)
    assert "example.org" not in details and "person" not in details
    assert "u_0" not in details  # nor the reference's values
    assert all("«withheld: pii»" in v.detail for v in on_user if "e.g." in v.detail)


def test_the_drift_narrative_sends_no_value_of_a_withheld_column(contract, memory_conn):
    """The drift explanation's facts hold new categories of features computed from batch
    columns and contract evidence read back from stored verdicts (written before values
    were withheld, they may quote one): neither reaches the Messages API."""
    import json

    from platform_assets.core.llm.governance import ensure_llm_tables
    from platform_assets.core.monitoring.explanation import DriftExplanation, Effect, Evidence
    from platform_assets.core.monitoring.explanation_llm import draft_narrative
    from platform_assets.defs.resources import ClaudeResource
    from platform_assets_tests.support.scripted_server import Reply, ScriptedServer

    explanation = DriftExplanation(
        window=("2026-11-18", "2026-11-18"),
        drift_share=0.5,
        effects=[Effect("user_country", "categorical", 0.9, new_categories=["QZ", "XQ-private"])],
        evidence=[
            Evidence(
                "contract",
                "2026-11-18",
                "the contract check failed on pattern in user_id: 3 of 9 rows break pattern: "
                "expected values matching ^u_[0-9]{6}$, e.g. 'jane.doe@example.org'",
                column="user_id",
            )
        ],
        headline="user_country moved from 2026-11-18",
    )
    withheld = {**contract.withheld_columns(), "user_country": "personal"}
    ensure_llm_tables(memory_conn)
    answer = json.dumps({"narrative": "user_country moved."})
    with ScriptedServer(script=[Reply(text=answer)]) as server:
        client = ClaudeResource(api_key="test-key", base_url=server.url, max_retries=0).get_client()
        drafted = draft_narrative(client, explanation, memory_conn, withheld=withheld)
        [request] = server.message_requests
    assert drafted.narrative == "user_country moved."
    for value in ("QZ", "XQ-private", "jane.doe@example.org"):
        assert value not in request.raw
    assert "user_country" in request.raw and "pattern in user_id" in request.raw
    # The explanation itself (the asset's metadata) keeps its facts.
    assert drafted.effects[0].new_categories == ["QZ", "XQ-private"]
