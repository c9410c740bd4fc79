"""Late labels: the bundled card network reports each fraud once, 1-45 days after the
transaction, reverses a few disputes later, and ``labels/chargebacks`` lands the reports with
dlt in ``labels.chargebacks`` under its own contract."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg
import numpy as np

from platform_assets.core import warehouse as wh
from platform_assets.core.ingestion.bundled import generate_transactions
from platform_assets.core.ingestion.chargebacks import (
    MAX_DELAY_DAYS,
    chargeback_delays,
    generate_chargebacks,
)
from platform_assets.defs import labels
from platform_assets.defs.keys import CHARGEBACKS_CONTRACT_CHECK
from platform_assets_tests.support.dagster import check_evaluation, offline_resources
from platform_assets_tests.support.paths import CONTRACTS_DIR

ROWS = 1_000
DAY = dt.date(2026, 3, 1)


def test_every_fraud_is_reported_once_within_45_days_and_a_few_disputes_reversed():
    reports = [generate_chargebacks(DAY + dt.timedelta(days=n), ROWS) for n in range(1, 66)]
    rows = [row for table in reports for row in table.to_pylist()]
    confirmed = [r for r in rows if r["status"] == "confirmed" and r["transaction_date"] == DAY]
    reversed_ = [r for r in rows if r["status"] == "reversed" and r["transaction_date"] == DAY]
    day = generate_transactions(DAY, ROWS).to_pylist()
    frauds = {t["transaction_id"] for t in day if t["is_fraud"]}
    legit = {t["transaction_id"] for t in day if not t["is_fraud"]}
    disputed = {r["transaction_id"] for r in confirmed}
    assert frauds <= disputed and len(confirmed) == len(disputed)  # each reported once
    assert disputed - frauds == {r["transaction_id"] for r in reversed_} <= legit
    assert all(1 <= r["delay_days"] <= MAX_DELAY_DAYS for r in confirmed)
    assert generate_chargebacks(DAY, ROWS).equals(generate_chargebacks(DAY, ROWS))


def test_the_delay_distribution_is_the_documented_one():
    delays = chargeback_delays(200_000, np.random.default_rng(0))
    assert delays.min() == 1 and delays.max() == MAX_DELAY_DAYS
    assert np.median(delays) == 8
    assert 0.40 < (delays <= 7).mean() < 0.47 and 0.73 < (delays <= 14).mean() < 0.79


def test_labels_chargebacks_lands_the_reports_under_their_contract(tmp_path):
    (tmp_path / "contracts").mkdir()
    shutil.copy(CONTRACTS_DIR / "chargebacks.odcs.yaml", tmp_path / "contracts")
    resources = offline_resources(tmp_path)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [labels.labels_chargebacks, labels.contract_chargebacks],
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2026-03-01",
                "dagster/asset_partition_range_end": "2026-03-02",
            },
            run_config={"ops": {"labels_chargebacks": {"config": {"rows_per_partition": ROWS}}}},
        )
    assert result.success
    check = check_evaluation(result, CHARGEBACKS_CONTRACT_CHECK)
    assert check.passed, check.description
    expected = sum(generate_chargebacks(day, ROWS).num_rows for day in ("2026-03-01", "2026-03-02"))
    with wh.session(resources["warehouse"].database, read_only=True) as conn:  # type: ignore[attr-defined]
        landed = conn.execute(
            "SELECT count(*), count(DISTINCT partition_date) FROM labels.chargebacks"
        ).fetchone()
    assert landed == (expected, 2)
    assert f"{expected} chargebacks on 2 report day(s)" in (check.description or "")
