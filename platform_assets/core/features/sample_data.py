"""Fill ``validated.transactions`` straight from the bundled generator.

For demos, tests and benchmarks that start at the feature stage: it skips ingestion and
the contract, so use it only with healthy or deliberately drifted bundled data whose
columns still have the validated types.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from platform_assets.core.ingestion.bundled import FaultInjection, generate_transactions

VALIDATED_DDL = """
CREATE SCHEMA IF NOT EXISTS validated;
CREATE TABLE IF NOT EXISTS validated.transactions (
    transaction_id VARCHAR, event_ts TIMESTAMPTZ, user_id VARCHAR, user_country VARCHAR,
    merchant_id VARCHAR, merchant_category VARCHAR, amount_cents BIGINT, currency VARCHAR,
    card_present BOOLEAN, device_fingerprint VARCHAR, is_fraud BOOLEAN, partition_date DATE
);
"""


def day_range(start: dt.date | str, days: int) -> list[dt.date]:
    start = dt.date.fromisoformat(start) if isinstance(start, str) else start
    return [start + dt.timedelta(days=i) for i in range(days)]


def load_validated_days(
    conn: duckdb.DuckDBPyConnection,
    days: list[dt.date],
    rows: int,
    faults: FaultInjection | None = None,
) -> int:
    """Replace ``days`` in ``validated.transactions`` with generated rows; returns rows written."""
    conn.execute(VALIDATED_DDL)
    total = 0
    for day in days:
        batch = generate_transactions(day, rows, faults)
        conn.register("generated_batch", batch)
        try:
            conn.execute("DELETE FROM validated.transactions WHERE partition_date = ?", [day])
            conn.execute(
                "INSERT INTO validated.transactions BY NAME SELECT *, CAST(timezone('UTC', "
                "event_ts) AS DATE) AS partition_date FROM generated_batch"
            )
        finally:
            conn.unregister("generated_batch")
        total += batch.num_rows
    return total
