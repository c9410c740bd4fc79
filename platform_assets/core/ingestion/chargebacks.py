"""Chargebacks from the bundled source: fraud labels that arrive late, as card networks send them.

A card holder disputes a fraudulent transaction days or weeks after it happened; the network
sends the issuer a chargeback then, not with the authorisation. ``generate_chargebacks(day,
rows)`` is what the network reports *on* ``day``: chargebacks for transactions of the
``MAX_DELAY_DAYS`` days before it, drawn from the same deterministic transactions
``generate_transactions`` produces for those days (the same ``rows`` a day).

Delay from the transaction's day to its chargeback's report day, in whole days::

    delay = 1 + min(floor(LogNormal(ln 8, 0.8)), 44)      # 1..45 days

median 8 days, about 43% within a week, 76% within 14 days, 92% within 25 days, and
the long tail capped at 45 days (the networks' usual filing window for fraud reason codes).
Each transaction's delay is fixed by its day (seeded), so every report day agrees on it.

A few chargebacks are not fraud: a small share of legitimate transactions is disputed too
(``DISPUTE_RATE`` of them, "friendly fraud"), reported as ``confirmed`` like the others and
``reversed`` 3–20 days later, when the merchant's representment wins. A label is therefore
matured at a cut-off when its ``confirmed`` row was reported by then and no ``reversed`` row
was (``core.training.labels``).

Columns:

| column | type | what it is |
| --- | --- | --- |
| ``chargeback_id`` | string | ``cb_<transaction_id>_<c or r>``, unique |
| ``transaction_id`` | string | the disputed transaction (``tx_<yyyymmdd>_<8 digits>``) |
| ``transaction_date`` | date | the transaction's day (UTC) |
| ``status`` | string | ``confirmed`` (fraud reported) or ``reversed`` (the dispute was lost) |
| ``delay_days`` | int32 | report day minus transaction day, 1..65 |
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterator, Sequence
from functools import lru_cache

import numpy as np
import pyarrow as pa

from platform_assets.core.ingestion.bundled import generate_transactions

MAX_DELAY_DAYS = 45
DELAY_MEDIAN_DAYS = 8.0  # of the lognormal part; floored, plus one: a median of 8 days
DELAY_SIGMA = 0.8
DISPUTE_RATE = 0.0005  # share of legitimate transactions disputed (and later reversed)
REVERSAL_DAYS = (3, 20)  # the representment takes this many days after the chargeback
STATUSES = ("confirmed", "reversed")

SCHEMA = pa.schema(
    [
        pa.field("chargeback_id", pa.string(), nullable=False),
        pa.field("transaction_id", pa.string(), nullable=False),
        pa.field("transaction_date", pa.date32(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("delay_days", pa.int32(), nullable=False),
    ]
)


def chargeback_delays(rows: int, rng: np.random.Generator) -> np.ndarray:
    """Days from transaction to chargeback report, shape ``(rows,)``, each in 1..45."""
    lognormal = rng.lognormal(np.log(DELAY_MEDIAN_DAYS), DELAY_SIGMA, size=rows)
    return 1 + np.minimum(np.floor(lognormal), MAX_DELAY_DAYS - 1).astype(np.int32)


@lru_cache(maxsize=128)
def _disputes_of(day: dt.date, rows: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The disputed transactions of ``day``: ids, whether reversed, delays, reversal delays."""
    transactions = generate_transactions(day, rows)
    rng = np.random.default_rng(zlib.crc32(f"{day.isoformat()}chargebacks".encode()))
    is_fraud = transactions["is_fraud"].to_numpy(zero_copy_only=False).astype(bool)
    delays = chargeback_delays(len(is_fraud), rng)
    friendly = (~is_fraud) & (rng.random(len(is_fraud)) < DISPUTE_RATE)
    reversal = delays + rng.integers(REVERSAL_DAYS[0], REVERSAL_DAYS[1] + 1, size=len(is_fraud))
    disputed = is_fraud | friendly
    ids = transactions["transaction_id"].to_numpy(zero_copy_only=False)[disputed].tolist()
    return ids, friendly[disputed], delays[disputed], reversal[disputed]


def generate_chargebacks(day: dt.date | str, rows: int) -> pa.Table:
    """The chargebacks (and reversals) reported on ``day`` for the transactions of earlier
    days, ``rows`` transactions a day; deterministic for ``(day, rows)``."""
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    columns: dict[str, list] = {name: [] for name in SCHEMA.names}
    oldest = MAX_DELAY_DAYS + REVERSAL_DAYS[1]
    for back in range(oldest, 0, -1):
        transaction_day = day - dt.timedelta(days=back)
        ids, reversed_, delays, reversal = _disputes_of(transaction_day, rows)
        for status, due in (("confirmed", delays), ("reversed", reversal)):
            hits = np.flatnonzero(due == back)
            if status == "reversed":
                hits = hits[reversed_[hits]]
            for index in hits:
                columns["chargeback_id"].append(f"cb_{ids[index]}_{status[0]}")
                columns["transaction_id"].append(ids[index])
                columns["transaction_date"].append(transaction_day)
                columns["status"].append(status)
                columns["delay_days"].append(back)
    return pa.table(columns, schema=SCHEMA)


LABELS_SCHEMA = "labels"
CHARGEBACKS_TABLE = "chargebacks"
LABELS_PIPELINE = "platform_assets_labels"


def chargebacks_source(rows_per_partition: int = 0, partition_keys: Sequence[str] = ()):
    """The dlt source of the late labels: one resource, ``chargebacks``, one Arrow table per
    report day (with its ``partition_date``), each day replaced whole (``merge_key``).

    Built with no arguments it yields nothing: that form only describes the asset."""
    import dlt

    @dlt.resource(
        name=CHARGEBACKS_TABLE,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        merge_key="partition_date",
    )
    def reports() -> Iterator[pa.Table]:
        for key in partition_keys:
            table = generate_chargebacks(key, rows_per_partition)
            day = dt.date.fromisoformat(key)
            table = table.append_column(
                pa.field("partition_date", pa.date32(), nullable=False),
                pa.array([day] * table.num_rows, pa.date32()),
            )
            if table.num_rows:
                yield table

    @dlt.source(name="card_network_chargebacks", max_table_nesting=0)
    def card_network_chargebacks():
        return reports

    return card_network_chargebacks()
