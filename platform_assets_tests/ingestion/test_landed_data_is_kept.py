"""Landed data is never overwritten: real `platform-assets run`s over a landing folder.

The operator's repro: day D lands with five JPY rows (it fails its contract and is
quarantined), day D+1 lands clean. Runs of D+1 must leave D's landed rows and its
quarantine alone, never fill a day from the bundled generator, and never train on it; a day
re-landed with a bad file takes its derived features with it.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from platform_assets.core.ingestion.bundled import generate_transactions
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO

pytestmark = pytest.mark.slow
FIRST = dt.date(2026, 11, 1)
BAD_DAY, NEXT_DAY = "2026-11-07", "2026-11-08"
ROWS = 3_000


def land(home: Path, day: str, *, jpy_rows: int = 0) -> None:
    table = generate_transactions(day, ROWS)
    if jpy_rows:
        currency = table["currency"].to_pylist()
        currency[:jpy_rows] = ["JPY"] * jpy_rows
        table = table.set_column(
            table.schema.get_field_index("currency"), "currency", pa.array(currency)
        )
    folder = home / "landing" / "transactions" / f"partition_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / "batch.parquet")


def platform_assets(home: Path, *args: str) -> subprocess.CompletedProcess:
    # Only this home: none of the developer's platform settings or Dagster instance.
    env = {
        k: v
        for k, v in subprocess_env().items()
        if not k.startswith("PLATFORM_ASSETS_") and k != "DAGSTER_HOME"
    }
    env |= {"PLATFORM_ASSETS_HOME": str(home), "RUNTIME__LOG_LEVEL": "ERROR"}
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )


def query(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


@pytest.fixture
def landed_home(tmp_path) -> Path:
    home = tmp_path
    for n in range(8):
        day = (FIRST + dt.timedelta(days=n)).isoformat()
        land(home, day, jpy_rows=5 if day == BAD_DAY else 0)
    (home / "landing.yaml").write_text(
        "ops:\n  raw_transactions:\n    config:\n      source: landing\n"
    )
    return home


def test_missing_history_of_a_real_source_stops_the_run_and_names_the_days(landed_home):
    result = platform_assets(
        landed_home, "run", "--partition", BAD_DAY, "--config", landed_home / "landing.yaml"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2026-11-01, 2026-11-02, 2026-11-03, 2026-11-04, 2026-11-05, 2026-11-06" in result.stderr
    assert "--backfill-history" in result.stderr
    assert not (landed_home / "warehouse.duckdb").exists() or query(
        landed_home, "SELECT count(*) FROM platform.batch_manifest"
    ) == [(0,)]


def test_runs_never_replace_landed_days_and_a_relanded_bad_day_takes_its_features(landed_home):
    config = landed_home / "landing.yaml"
    first = platform_assets(
        landed_home, "run", "--partition", BAD_DAY, "--config", config, "--backfill-history"
    )
    assert first.returncode == 1, first.stdout + first.stderr  # D fails its contract
    # The summary says which rule failed and where the rows are.
    assert "currency · invalidValues, 5 rows" in first.stdout
    assert "quarantine.rows" in first.stdout

    second = platform_assets(landed_home, "run", "--partition", NEXT_DAY, "--config", config)
    assert second.returncode == 0, second.stdout + second.stderr

    # Every day came from the landing folder; none was generated.
    assert query(landed_home, "SELECT DISTINCT source FROM platform.batch_manifest") == [
        ("landing",)
    ]
    # Day D still holds its landed rows, JPY included, and all of them are still quarantined.
    assert query(
        landed_home,
        "SELECT count(*), count(*) FILTER (currency = 'JPY') FROM raw.transactions "
        "WHERE partition_date = ?",
        [BAD_DAY],
    ) == [(ROWS, 5)]
    assert query(
        landed_home, "SELECT count(*) FROM quarantine.rows WHERE partition_key = ?", [BAD_DAY]
    ) == [(ROWS,)]
    assert query(
        landed_home,
        "SELECT count(*) FROM validated.transactions WHERE partition_date = ?",
        [BAD_DAY],
    ) == [(0,)]
    # The model never saw D: no features for it, and a champion trained on the window around it.
    assert query(
        landed_home,
        "SELECT count(*) FROM features.transactions WHERE partition_date = ?",
        [BAD_DAY],
    ) == [(0,)]

    # A bundled run over a landed day refuses instead of replacing it.
    bundled = platform_assets(landed_home, "run", "--partition", NEXT_DAY)
    assert bundled.returncode == 1
    assert "2026-11-08 (from landing) landed from another source" in bundled.stdout
    assert query(landed_home, "SELECT DISTINCT source FROM platform.batch_manifest") == [
        ("landing",)
    ]

    # D+1 was validated and featurized; re-delivered bad, it takes its derived features with it.
    assert query(
        landed_home,
        "SELECT count(*) FROM features.transactions WHERE partition_date = ?",
        [NEXT_DAY],
    ) == [(ROWS,)]
    land(landed_home, NEXT_DAY, jpy_rows=7)
    result = platform_assets(
        landed_home, "run", "--partition", NEXT_DAY, "--config", landed_home / "landing.yaml"
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert query(
        landed_home,
        "SELECT count(*) FROM validated.transactions WHERE partition_date = ?",
        [NEXT_DAY],
    ) == [(0,)]
    assert query(
        landed_home,
        "SELECT count(*) FROM features.transactions WHERE partition_date = ?",
        [NEXT_DAY],
    ) == [(0,)]
    assert query(
        landed_home, "SELECT count(*) FROM quarantine.rows WHERE partition_key = ?", [NEXT_DAY]
    ) == [(ROWS,)]


def test_bad_run_config_is_a_usage_error_naming_the_field_and_values(tmp_path):
    config = tmp_path / "ftp.yaml"
    config.write_text("ops:\n  raw_transactions:\n    config:\n      source: ftp\n")
    result = platform_assets(
        tmp_path,
        "checks",
        "run",
        "--select",
        "raw/transactions",
        "--partition",
        BAD_DAY,
        "--materialize",
        "--config",
        config,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "raw_transactions:config:source" in result.stderr
        and "'bundled', 'landing'" in result.stderr
    )
    assert "Traceback" not in result.stderr
