"""``raw = validated + quarantined`` is counted from the tables, per day, and never reported
true while false: a day landed again has its validated and quarantined rows invalidated
(stale, not current) until it is checked again, and counts that do not add up on a day
that did not land again are reported as broken (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

from platform_assets.core import warehouse
from platform_assets.core.ingestion.load import BundledReader, ingest
from platform_assets.core.validation.contract import load_contract
from platform_assets.core.validation.service import accept_partition, check_partition
from platform_assets_tests.cli.test_quarantine import TOLERATED_DAY, _cli, _counts, home

__all__ = ["home"]  # the fixture, shared with the quarantine command's tests


def test_a_relanded_day_is_stale_until_checked_again(home: Path):
    assert _counts(home, TOLERATED_DAY)[0] == 2000
    # Only raw/transactions is landed again, with 50 rows.
    ingest(BundledReader(50), [TOLERATED_DAY], home / "w.duckdb", home / "dlt")
    assert _counts(home, TOLERATED_DAY) == (50, 0, 0)  # no stale validated rows stay

    listed = _cli(home, "list", "--partition", TOLERATED_DAY)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    line = listed.stdout.splitlines()[0]
    assert "raw 50 != validated 0 + quarantined 0" in line, line
    assert "STALE" in line and "passed" not in line, line
    (day,) = json.loads(_cli(home, "list", "--partition", TOLERATED_DAY, "--json").stdout)
    assert day["stale"] is True and day["invariant_holds"] is False
    # Days that do not add up are listed without --partition too.
    assert TOLERATED_DAY in _cli(home, "list").stdout

    contract = load_contract(home / "contracts" / "fct_transactions.odcs.yaml")
    with warehouse.session(home / "w.duckdb") as conn:
        assert check_partition(conn, contract, TOLERATED_DAY).verdict.passes
        accept_partition(conn, contract, TOLERATED_DAY)
    (day,) = json.loads(_cli(home, "list", "--partition", TOLERATED_DAY, "--json").stdout)
    assert (day["stale"], day["invariant_holds"], day["raw"]) == (False, True, 50)
    assert day["validated"] + day["quarantined"] == 50


def test_counts_that_do_not_add_up_are_reported_broken(home: Path):
    with warehouse.session(home / "w.duckdb") as conn:
        conn.execute(
            "DELETE FROM validated.transactions WHERE partition_date = ? AND transaction_id IN "
            "(SELECT transaction_id FROM validated.transactions WHERE partition_date = ? LIMIT 7)",
            [TOLERATED_DAY, TOLERATED_DAY],
        )
    listed = _cli(home, "list", "--partition", TOLERATED_DAY)
    assert listed.returncode == 1, listed.stdout + listed.stderr
    assert "raw 2000 != validated" in listed.stdout and "does NOT hold" in listed.stdout
    assert "STALE" not in listed.stdout
