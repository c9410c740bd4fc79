"""Transaction features, one row per validated transaction, point-in-time correct.

A row's features use only what was known *strictly before* its ``event_ts``:

- per-user counts and amounts over trailing 1 h / 24 h / 7 d windows are window functions
  with ``RANGE`` frames that end at the current row and ``EXCLUDE GROUP``, so the row itself
  and any event with the same timestamp are left out;
- the merchant-category fraud rate uses labels from *prior days only* (labels arrive late;
  the same day's labels are not known when a transaction is scored), smoothed towards the
  global prior rate so a category with few prior rows does not get an extreme rate;
- the amount is compared with the user's trailing 7-day mean (excluding the row).

The partition for day ``D`` reads days ``D - 7 .. D`` (the longest window) and the label
history ``D - 28 .. D - 1``, so a partition can be rebuilt alone; a range of days is built
in one pass (:func:`build_feature_partitions`). Writing is idempotent: the days' rows are
deleted, then inserted, in one transaction.

Table ``features.transactions``:

| column | type | what it is |
| --- | --- | --- |
| ``transaction_id`` | VARCHAR | key, from ``validated.transactions`` |
| ``partition_date`` | DATE | the transaction's day (UTC) |
| ``event_ts`` | TIMESTAMPTZ | when the card was used |
| ``user_id`` | VARCHAR | for lineage and debugging, not a model input |
| ``merchant_category`` | VARCHAR | categorical model input |
| ``user_country`` | VARCHAR | categorical model input |
| ``amount_usd`` | DOUBLE | ``amount_cents / 100`` |
| ``log_amount`` | DOUBLE | ``ln(1 + amount_usd)`` |
| ``hour_of_day`` | INTEGER | 0..23, UTC |
| ``is_night`` | INTEGER | 1 when the hour is 0..4 |
| ``card_present`` | INTEGER | 1 when chip or tap at a terminal |
| ``has_device_fingerprint`` | INTEGER | 1 when the device was fingerprinted (online) |
| ``is_foreign_currency`` | INTEGER | 1 when the currency is not the user's country's currency |
| ``user_txn_count_1h`` / ``_24h`` / ``_7d`` | INTEGER | the user's prior transactions in the window |
| ``user_amount_sum_24h`` | DOUBLE | USD the user spent in the prior 24 h |
| ``user_amount_mean_7d`` | DOUBLE | the user's mean prior amount over 7 d, 0 when none |
| ``amount_vs_user_mean_7d`` | DOUBLE | ``amount_usd / user_amount_mean_7d``, 1 when no history |
| ``seconds_since_prev_txn`` | DOUBLE | since the user's previous transaction, capped at 7 d |
| ``category_fraud_rate_prior`` | DOUBLE | smoothed fraud rate of the category over the 28 prior days |
| ``is_fraud`` | INTEGER | the label (0/1) |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import pandas as pd

SOURCE_TABLE = "validated.transactions"
FEATURE_TABLE = "features.transactions"

CATEGORICAL_FEATURES: tuple[str, ...] = ("merchant_category", "user_country")
NUMERIC_FEATURES: tuple[str, ...] = (
    "amount_usd",
    "log_amount",
    "hour_of_day",
    "is_night",
    "card_present",
    "has_device_fingerprint",
    "is_foreign_currency",
    "user_txn_count_1h",
    "user_txn_count_24h",
    "user_txn_count_7d",
    "user_amount_sum_24h",
    "user_amount_mean_7d",
    "amount_vs_user_mean_7d",
    "seconds_since_prev_txn",
    "category_fraud_rate_prior",
)
FEATURE_COLUMNS: tuple[str, ...] = CATEGORICAL_FEATURES + NUMERIC_FEATURES
# The columns of the validated batch each feature is computed from (the lineage a drift
# explanation follows back to the contract's verdicts and the batch manifest).
_USER_ACTIVITY = ("user_id", "event_ts")
FEATURE_SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "merchant_category": ("merchant_category",),
    "user_country": ("user_country",),
    "amount_usd": ("amount_cents",),
    "log_amount": ("amount_cents",),
    "hour_of_day": ("event_ts",),
    "is_night": ("event_ts",),
    "card_present": ("card_present",),
    "has_device_fingerprint": ("device_fingerprint",),
    "is_foreign_currency": ("currency", "user_country"),
    "user_txn_count_1h": _USER_ACTIVITY,
    "user_txn_count_24h": _USER_ACTIVITY,
    "user_txn_count_7d": _USER_ACTIVITY,
    "user_amount_sum_24h": ("amount_cents", *_USER_ACTIVITY),
    "user_amount_mean_7d": ("amount_cents", *_USER_ACTIVITY),
    "amount_vs_user_mean_7d": ("amount_cents", *_USER_ACTIVITY),
    "seconds_since_prev_txn": _USER_ACTIVITY,
    "category_fraud_rate_prior": ("merchant_category", "is_fraud"),
}
LABEL = "is_fraud"
KEY_COLUMNS: tuple[str, ...] = ("transaction_id", "partition_date", "event_ts", "user_id")

HISTORY_DAYS = 7  # the longest per-user window
LABEL_HISTORY_DAYS = 28  # how far back category fraud rates look
PRIOR_STRENGTH = 200.0  # pseudo-transactions pulling a category's rate to the global rate
DEFAULT_FRAUD_RATE = 0.02  # used when no prior day has labels at all
MAX_GAP_SECONDS = 7 * 86400.0

# The currency each user country pays in (mirrors the bundled source's country table).
_HOME_CURRENCY = {
    "US": "USD",
    "CA": "USD",
    "MX": "USD",
    "BR": "USD",
    "IN": "USD",
    "JP": "USD",
    "GB": "GBP",
    "DE": "EUR",
    "FR": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "NL": "EUR",
    "IE": "EUR",
}

FEATURE_DDL = f"""
CREATE SCHEMA IF NOT EXISTS features;
CREATE TABLE IF NOT EXISTS {FEATURE_TABLE} (
    transaction_id VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    event_ts TIMESTAMPTZ NOT NULL,
    user_id VARCHAR,
    merchant_category VARCHAR,
    user_country VARCHAR,
    amount_usd DOUBLE,
    log_amount DOUBLE,
    hour_of_day INTEGER,
    is_night INTEGER,
    card_present INTEGER,
    has_device_fingerprint INTEGER,
    is_foreign_currency INTEGER,
    user_txn_count_1h INTEGER,
    user_txn_count_24h INTEGER,
    user_txn_count_7d INTEGER,
    user_amount_sum_24h DOUBLE,
    user_amount_mean_7d DOUBLE,
    amount_vs_user_mean_7d DOUBLE,
    seconds_since_prev_txn DOUBLE,
    category_fraud_rate_prior DOUBLE,
    is_fraud INTEGER
);
"""


def _currency_values() -> str:
    return ", ".join(f"('{country}', '{currency}')" for country, currency in _HOME_CURRENCY.items())


FEATURE_SQL = f"""
WITH window_rows AS (
    SELECT * FROM {SOURCE_TABLE}
    WHERE partition_date BETWEEN CAST($start AS DATE) - INTERVAL {HISTORY_DAYS} DAY AND CAST($end AS DATE)
),
user_windows AS (
    SELECT
        transaction_id, partition_date, event_ts, user_id, merchant_category, user_country,
        currency, card_present, device_fingerprint, is_fraud,
        amount_cents / 100.0 AS amount_usd,
        count(*) OVER (PARTITION BY user_id ORDER BY event_ts
            RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS user_txn_count_1h,
        count(*) OVER (PARTITION BY user_id ORDER BY event_ts
            RANGE BETWEEN INTERVAL 24 HOUR PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS user_txn_count_24h,
        count(*) OVER (PARTITION BY user_id ORDER BY event_ts
            RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS user_txn_count_7d,
        sum(amount_cents / 100.0) OVER (PARTITION BY user_id ORDER BY event_ts
            RANGE BETWEEN INTERVAL 24 HOUR PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS user_amount_sum_24h,
        avg(amount_cents / 100.0) OVER (PARTITION BY user_id ORDER BY event_ts
            RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS user_amount_mean_7d,
        max(event_ts) OVER (PARTITION BY user_id ORDER BY event_ts
            RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS prev_event_ts
    FROM window_rows
),
target_days AS (
    SELECT CAST(d AS DATE) AS day
    FROM range(CAST($start AS TIMESTAMP), CAST($end AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)
),
daily_labels AS (
    SELECT partition_date, merchant_category, count(*) AS n, sum(CAST(is_fraud AS INTEGER)) AS frauds
    FROM {SOURCE_TABLE}
    WHERE partition_date >= CAST($start AS DATE) - INTERVAL {LABEL_HISTORY_DAYS} DAY
      AND partition_date < CAST($end AS DATE)
    GROUP BY ALL
),
label_history AS (  -- per target day: the {LABEL_HISTORY_DAYS} days before it, never the day itself
    SELECT t.day, l.merchant_category, sum(l.n) AS n, sum(l.frauds) AS frauds
    FROM target_days t
    JOIN daily_labels l
      ON l.partition_date >= t.day - INTERVAL {LABEL_HISTORY_DAYS} DAY AND l.partition_date < t.day
    GROUP BY ALL
),
global_rate AS (
    SELECT t.day, coalesce(sum(h.frauds) / nullif(sum(h.n), 0), {DEFAULT_FRAUD_RATE}) AS rate
    FROM target_days t LEFT JOIN label_history h ON h.day = t.day
    GROUP BY t.day
),
home_currency(country, currency) AS (VALUES {_currency_values()})
SELECT
    u.transaction_id,
    u.partition_date,
    u.event_ts,
    u.user_id,
    u.merchant_category,
    u.user_country,
    u.amount_usd,
    ln(1 + u.amount_usd) AS log_amount,
    CAST(hour(timezone('UTC', u.event_ts)) AS INTEGER) AS hour_of_day,
    CAST(hour(timezone('UTC', u.event_ts)) < 5 AS INTEGER) AS is_night,
    CAST(u.card_present AS INTEGER) AS card_present,
    CAST(u.device_fingerprint IS NOT NULL AS INTEGER) AS has_device_fingerprint,
    CAST(h.currency IS NOT NULL AND u.currency IS DISTINCT FROM h.currency AS INTEGER) AS is_foreign_currency,
    CAST(u.user_txn_count_1h AS INTEGER) AS user_txn_count_1h,
    CAST(u.user_txn_count_24h AS INTEGER) AS user_txn_count_24h,
    CAST(u.user_txn_count_7d AS INTEGER) AS user_txn_count_7d,
    coalesce(u.user_amount_sum_24h, 0.0) AS user_amount_sum_24h,
    coalesce(u.user_amount_mean_7d, 0.0) AS user_amount_mean_7d,
    CASE WHEN u.user_amount_mean_7d > 0 THEN u.amount_usd / u.user_amount_mean_7d ELSE 1.0 END
        AS amount_vs_user_mean_7d,
    CASE WHEN u.prev_event_ts IS NULL THEN {MAX_GAP_SECONDS}
         ELSE least(epoch(u.event_ts) - epoch(u.prev_event_ts), {MAX_GAP_SECONDS}) END
        AS seconds_since_prev_txn,
    (coalesce(l.frauds, 0) + {PRIOR_STRENGTH} * g.rate) / (coalesce(l.n, 0) + {PRIOR_STRENGTH})
        AS category_fraud_rate_prior,
    CAST(u.is_fraud AS INTEGER) AS is_fraud
FROM user_windows u
JOIN global_rate g ON g.day = u.partition_date
LEFT JOIN label_history l ON l.day = u.partition_date AND l.merchant_category = u.merchant_category
LEFT JOIN home_currency h ON h.country = u.user_country
WHERE u.partition_date BETWEEN CAST($start AS DATE) AND CAST($end AS DATE)
"""


def ensure_feature_table(conn: duckdb.DuckDBPyConnection) -> None:
    """Create ``features.transactions`` when missing (a no-op on a read-only connection that has it)."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'features' AND table_name = 'transactions'"
    ).fetchall()[0][0]
    if not exists:
        conn.execute(FEATURE_DDL)


def build_feature_partition(conn: duckdb.DuckDBPyConnection, day: dt.date | str) -> int:
    """(Re)build ``features.transactions`` for one day; returns the number of rows written."""
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return build_feature_partitions(conn, day, day)[day]


def build_feature_partitions(
    conn: duckdb.DuckDBPyConnection, start: dt.date | str, end: dt.date | str
) -> dict[dt.date, int]:
    """(Re)build every day ``start .. end`` in one pass; returns rows written per day.

    One query computes the windows over ``start - 7 .. end`` once, so a backfill of many
    days costs about as much as their rows, not days × window. The days' rows are deleted
    and inserted in one transaction, so a re-run replaces them and never duplicates them.

    Raises:
        LookupError: ``validated.transactions`` does not exist (run validation first).
    """
    start = dt.date.fromisoformat(start) if isinstance(start, str) else start
    end = dt.date.fromisoformat(end) if isinstance(end, str) else end
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'validated' AND table_name = 'transactions'"
    ).fetchall()[0][0]
    if not exists:
        raise LookupError(
            f"{SOURCE_TABLE} does not exist: materialize validated/transactions for {start}..{end} before "
            f"their features"
        )
    ensure_feature_table(conn)
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(
            f"DELETE FROM {FEATURE_TABLE} WHERE partition_date BETWEEN ? AND ?", [start, end]
        )
        conn.execute(
            f"INSERT INTO {FEATURE_TABLE} BY NAME ({FEATURE_SQL})", {"start": start, "end": end}
        )
        rows = conn.execute(
            f"SELECT partition_date, count(*) FROM {FEATURE_TABLE} WHERE partition_date BETWEEN ? AND ? "
            f"GROUP BY 1",
            [start, end],
        ).fetchall()
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    written = {start + dt.timedelta(days=i): 0 for i in range((end - start).days + 1)}
    written.update({day: int(n) for day, n in rows})
    return written


def withdraw_feature_partitions(
    conn: duckdb.DuckDBPyConnection, days: list[str]
) -> dict[str, object]:
    """Remove the features of ``days`` (whose validated batch was withdrawn, e.g. a re-landed
    day that failed its contract), so nothing trains on rows derived from the old batch.

    Returns ``{"removed_rows": n, "stale_days": [...]}``: the later days whose trailing
    windows (``HISTORY_DAYS``) read a withdrawn day and should be rebuilt.
    """
    if not days:
        return {"removed_rows": 0, "stale_days": []}
    ensure_feature_table(conn)
    dates = [dt.date.fromisoformat(d) for d in days]
    (removed,) = conn.execute(
        f"SELECT count(*) FROM {FEATURE_TABLE} WHERE list_contains(?, partition_date)", [dates]
    ).fetchall()[0]
    conn.execute(f"DELETE FROM {FEATURE_TABLE} WHERE list_contains(?, partition_date)", [dates])
    later = {d + dt.timedelta(days=n) for d in dates for n in range(1, HISTORY_DAYS + 1)} - set(
        dates
    )
    stale = sorted(day.isoformat() for day in feature_partitions(conn) if day in later)
    return {"removed_rows": int(removed), "stale_days": stale}


def complete_window_days(days: Iterable[dt.date]) -> list[dt.date]:
    """The days among ``days`` whose trailing windows are complete: each of the
    ``HISTORY_DAYS`` days before it is among ``days`` too. On the first days of a warehouse the
    per-user counts and sums see only part of their window, so these rows look unlike any
    later day; they must not describe "normal" traffic (the drift reference)."""
    present = set(days)
    return sorted(
        day
        for day in present
        if all(day - dt.timedelta(days=n) in present for n in range(1, HISTORY_DAYS + 1))
    )


def feature_partitions(conn: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """The days present in ``features.transactions``, oldest first (empty when none)."""
    ensure_feature_table(conn)
    return [
        row[0]
        for row in conn.execute(
            f"SELECT DISTINCT partition_date FROM {FEATURE_TABLE} ORDER BY 1"
        ).fetchall()
    ]


def load_features(
    conn: duckdb.DuckDBPyConnection,
    start: dt.date,
    end: dt.date,
    sample_rows: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Feature rows with ``start <= partition_date <= end`` as a DataFrame, ordered by time.

    ``sample_rows`` draws a reproducible uniform sample (DuckDB reservoir sampling with
    ``seed``) instead of reading every row.
    """
    ensure_feature_table(conn)
    where = "WHERE partition_date BETWEEN ? AND ?"
    if sample_rows is not None:
        sql = (
            f"SELECT * FROM (SELECT * FROM {FEATURE_TABLE} {where}) "
            f"USING SAMPLE reservoir({int(sample_rows)} ROWS) REPEATABLE ({int(seed)}) "
        )
        frame = conn.execute(sql, [start, end]).df()
        return frame.sort_values(["event_ts", "transaction_id"]).reset_index(drop=True)
    return conn.execute(
        f"SELECT * FROM {FEATURE_TABLE} {where} ORDER BY event_ts, transaction_id", [start, end]
    ).df()
