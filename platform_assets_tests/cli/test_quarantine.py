"""``platform-assets quarantine list|show|release`` on a real warehouse: what was held back
can be seen, and released once the current contract lets it pass; raw = validated +
quarantined holds before and after, and a second release moves nothing more."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from platform_assets.core import warehouse
from platform_assets.core.ingestion.bundled import FaultInjection
from platform_assets.core.ingestion.load import BundledReader, ingest
from platform_assets.core.validation.contract import load_contract
from platform_assets.core.validation.service import accept_partition, check_partition
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import CONTRACT_PATH, REPO

FAILED_DAY, TOLERATED_DAY = "2026-11-03", "2026-11-04"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A warehouse with a day that failed its contract (alpha-3 country codes, quarantined
    whole) and a day that passed with a few tolerated null countries held back."""
    (tmp_path / "contracts").mkdir()
    shutil.copy(CONTRACT_PATH, tmp_path / "contracts" / CONTRACT_PATH.name)
    contract = load_contract(tmp_path / "contracts" / CONTRACT_PATH.name)
    db = tmp_path / "w.duckdb"
    ingest(
        BundledReader(400, FaultInjection(country_codes="alpha3")),
        [FAILED_DAY],
        db,
        tmp_path / "dlt",
    )
    ingest(
        BundledReader(2000, FaultInjection(null_rates={"user_country": 0.003})),
        [TOLERATED_DAY],
        db,
        tmp_path / "dlt",
    )
    with warehouse.session(db) as conn:
        assert not check_partition(conn, contract, FAILED_DAY).verdict.passes
        assert check_partition(conn, contract, TOLERATED_DAY).verdict.passes
        split = accept_partition(conn, contract, TOLERATED_DAY)
    assert 0 < split.quarantined_rows < 20 and split.validated_rows + split.quarantined_rows == 2000
    return tmp_path


def _cli(home: Path, *args) -> subprocess.CompletedProcess:
    env = subprocess_env(
        {
            "RUNTIME__LOG_LEVEL": "ERROR",
            "PLATFORM_ASSETS_HOME": str(home),
            "PLATFORM_ASSETS_WAREHOUSE": str(home / "w.duckdb"),
            "PLATFORM_ASSETS_CONTRACTS_DIR": str(home / "contracts"),
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", "quarantine", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env=env,
    )


def _edit_contract(home: Path, *replacements: tuple[str, str]) -> None:
    path = home / "contracts" / CONTRACT_PATH.name
    text = path.read_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)


def _counts(home: Path, day: str) -> tuple[int, int, int]:
    with warehouse.session(home / "w.duckdb", read_only=True) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM raw.transactions WHERE partition_date = $1), "
            "(SELECT count(*) FROM validated.transactions WHERE partition_date = $1), "
            "(SELECT count(*) FROM quarantine.rows WHERE partition_key = $2)",
            [day, day],
        ).fetchall()[0]


def test_list_and_show_what_was_held_back(home: Path):
    listed = _cli(home, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    days = {d["partition"]: d for d in json.loads(listed.stdout)}
    assert set(days) == {FAILED_DAY, TOLERATED_DAY}
    failed, tolerated = days[FAILED_DAY], days[TOLERATED_DAY]
    assert (failed["raw"], failed["validated"], failed["quarantined"]) == (400, 0, 400)
    assert failed["passes"] is False and failed["contract"] == "fct_transactions 1.0.0"
    assert {(r["field"], r["rule"], r["batch"]) for r in failed["reasons"]} >= {
        ("user_country", "pattern", False),
        ("user_country", "pattern", True),
    }
    assert tolerated["raw"] == tolerated["validated"] + tolerated["quarantined"] == 2000
    assert [(r["field"], r["rule"]) for r in tolerated["reasons"]] == [
        ("user_country", "nullValues")
    ]

    shown = _cli(home, "show", TOLERATED_DAY, "--limit", "2", "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["shown"] == 2 and report["quarantined"] == tolerated["quarantined"]
    assert all(row["values"]["user_country"] is None for row in report["rows"])
    assert report["rows"][0]["reasons"] == [{"field": "user_country", "rule": "nullValues"}]

    human = _cli(home, "show", FAILED_DAY, "--limit", "1")
    assert human.returncode == 0 and "400 of 400 rows held back (showing 1)" in human.stdout
    assert "user_country · pattern" in human.stdout and '"user_country": "' in human.stdout


def test_release_moves_what_the_current_contract_lets_pass_once(home: Path):
    before = _cli(home, "release", FAILED_DAY, "--json")
    assert before.returncode == 1, before.stdout + before.stderr
    report = json.loads(before.stdout)
    assert report["released"] == 0 and report["day_passes"] is False
    assert {(r["field"], r["rule"]) for r in report["failing_rules"]} >= {
        ("user_country", "pattern")
    }
    assert _counts(home, FAILED_DAY) == (400, 0, 400)

    # The data owners agree alpha-3 codes are fine: a new major version of the contract.
    _edit_contract(
        home,
        ("version: 1.0.0", "version: 2.0.0"),
        ("pattern: '^[A-Z]{2}$'", "pattern: '^[A-Z]{2,3}$'"),
        ("          maxLength: 2\n", "          maxLength: 3\n"),
    )
    released = _cli(home, "release", FAILED_DAY, "--json")
    assert released.returncode == 0, released.stdout + released.stderr
    report = json.loads(released.stdout)
    assert (report["released"], report["still_held"], report["contract"]) == (
        400,
        0,
        "fct_transactions 2.0.0",
    )
    assert _counts(home, FAILED_DAY) == (400, 400, 0)

    again = _cli(home, "release", FAILED_DAY, "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["released"] == 0
    assert _counts(home, FAILED_DAY) == (400, 400, 0)
    with warehouse.session(home / "w.duckdb", read_only=True) as conn:
        logged = conn.execute(
            "SELECT released_rows, contract_version FROM platform.quarantine_releases"
        ).fetchall()
        decided = conn.execute(
            "SELECT passes, contract_version FROM platform.batch_verdicts WHERE partition_key = ?",
            [FAILED_DAY],
        ).fetchall()
    assert logged == [(400, "2.0.0")], "one release recorded, the second moved nothing"
    assert decided == [(True, "2.0.0")], (
        "the verdict now on record is the one that released the day"
    )
    listed = json.loads(_cli(home, "list", "--partition", FAILED_DAY, "--json").stdout)
    assert listed[0]["released"] == 400 and listed[0]["quarantined"] == 0


def test_rows_that_still_break_a_row_rule_stay_with_their_current_reasons(home: Path):
    raw, validated, held = _counts(home, TOLERATED_DAY)
    same_contract = _cli(home, "release", TOLERATED_DAY)
    assert same_contract.returncode == 1, same_contract.stdout + same_contract.stderr
    assert f"0 of {held} held rows released" in same_contract.stdout
    assert _counts(home, TOLERATED_DAY) == (raw, validated, held)

    # A country is optional from now on: the null rows are no longer failing rows.
    _edit_contract(
        home,
        ("version: 1.0.0", "version: 2.0.0"),
        (
            "        description: Card holder's country, ISO 3166-1 alpha-2 code (two capital "
            "letters, e.g. US, GB).\n        required: true\n",
            "        description: Card holder's country, ISO 3166-1 alpha-2 code (two capital "
            "letters, e.g. US, GB).\n        required: false\n",
        ),
    )
    released = _cli(home, "release", TOLERATED_DAY)
    assert released.returncode == 0, released.stdout + released.stderr
    assert _counts(home, TOLERATED_DAY) == (raw, raw, 0)


def test_usage_errors_exit_2(home: Path, tmp_path: Path):
    assert _cli(home, "show", "2030-01-01").returncode == 2
    assert _cli(home, "release", "2030-01-01").returncode == 2
    assert _cli(home, "list", "--partition", "2030-01-01").returncode == 2
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    missing = subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", "quarantine", "list"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=subprocess_env(
            {
                "PLATFORM_ASSETS_HOME": str(empty),
                "PLATFORM_ASSETS_WAREHOUSE": str(empty / "none.duckdb"),
            }
        ),
    )
    assert missing.returncode == 2 and "no warehouse" in missing.stderr


def test_a_day_reloaded_after_its_check_is_not_released(home: Path):
    ingest(
        BundledReader(400, FaultInjection(country_codes="alpha3")),
        [FAILED_DAY],
        home / "w.duckdb",
        home / "dlt",
    )
    result = _cli(home, "release", FAILED_DAY)
    assert result.returncode == 2 and "re-ingested" in result.stderr
