"""The training features of one transaction, computed online from per-user state.

This is :data:`~platform_assets.core.features.transactions.FEATURE_SQL` evaluated for a
single row instead of a day: the same windows (``HISTORY_DAYS``, 1 h / 24 h / 7 d), the same
constants (``PRIOR_STRENGTH``, ``DEFAULT_FRAUD_RATE``, ``MAX_GAP_SECONDS``, the home
currencies) and the same point-in-time rule, read from ``transactions.py``, never restated.
The batch SQL stays the definition; ``platform_assets_tests/serving`` replays whole days
through this path and compares the scores with the batch's to 1e-6.

Point in time, as in the SQL's ``RANGE ... EXCLUDE GROUP`` frames: a transaction at ``t``
sees the user's events with ``t - window <= ts < t``. Events at or after ``t`` never count,
so the state may hold events later than the transaction (a replayed day), and the
transaction itself, already in the state, is not counted (nor added twice: the state keeps
the ids it holds).

The state (:class:`OnlineState`) is two small tables that the ``features/online_state``
asset materializes from ``validated.transactions`` (:func:`online_state_tables`):

- ``events``: ``user_id, transaction_id, event_us`` (microseconds since the epoch, UTC),
  ``amount_usd``; the last ``HISTORY_DAYS + 1`` validated days;
- ``labels``: ``partition_date, merchant_category, n, frauds``; the last
  ``LABEL_HISTORY_DAYS + 1`` days, for the prior-days category fraud rate.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from platform_assets.core.features.transactions import (
    _HOME_CURRENCY,
    DEFAULT_FRAUD_RATE,
    HISTORY_DAYS,
    LABEL_HISTORY_DAYS,
    MAX_GAP_SECONDS,
    PRIOR_STRENGTH,
    SOURCE_TABLE,
)

if TYPE_CHECKING:
    import duckdb

_US = 1_000_000
WINDOW_1H_US = 3600 * _US
WINDOW_24H_US = 24 * 3600 * _US
WINDOW_7D_US = HISTORY_DAYS * 86400 * _US
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_us(ts: dt.datetime) -> int:
    """Microseconds since the epoch of an aware datetime (naive means UTC, as the contract says)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    delta = ts - _EPOCH
    return (delta.days * 86400 + delta.seconds) * _US + delta.microseconds


def online_state_tables(
    conn: duckdb.DuckDBPyConnection, as_of: dt.date | None = None
) -> tuple[pa.Table, pa.Table, dt.date | None]:
    """``(events, labels, as_of)``: the state the online features need, read from
    ``validated.transactions`` up to ``as_of`` (default: its latest day). ``as_of`` is None
    (and both tables empty) when nothing is validated yet."""
    if as_of is None:
        as_of = conn.execute(f"SELECT max(partition_date) FROM {SOURCE_TABLE}").fetchall()[0][0]
    if as_of is None:
        return _empty_events(), _empty_labels(), None
    events = conn.execute(
        f"SELECT user_id, transaction_id, CAST(epoch_us(event_ts) AS BIGINT) AS event_us, "
        f"amount_cents / 100.0 AS amount_usd FROM {SOURCE_TABLE} "
        f"WHERE partition_date BETWEEN CAST(? AS DATE) - INTERVAL {HISTORY_DAYS} DAY AND ? "
        f"ORDER BY user_id, event_us, transaction_id",
        [as_of, as_of],
    ).to_arrow_table()
    labels = conn.execute(
        f"SELECT partition_date, merchant_category, count(*) AS n, "
        f"CAST(sum(CAST(is_fraud AS INTEGER)) AS BIGINT) AS frauds FROM {SOURCE_TABLE} "
        f"WHERE partition_date BETWEEN CAST(? AS DATE) - INTERVAL {LABEL_HISTORY_DAYS} DAY AND ? "
        f"GROUP BY ALL ORDER BY 1, 2",
        [as_of, as_of],
    ).to_arrow_table()
    return events, labels, as_of


def _empty_events() -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array([], pa.string()),
            "transaction_id": pa.array([], pa.string()),
            "event_us": pa.array([], pa.int64()),
            "amount_usd": pa.array([], pa.float64()),
        }
    )


def _empty_labels() -> pa.Table:
    return pa.table(
        {
            "partition_date": pa.array([], pa.date32()),
            "merchant_category": pa.array([], pa.string()),
            "n": pa.array([], pa.int64()),
            "frauds": pa.array([], pa.int64()),
        }
    )


@dataclass
class _UserEvents:
    """One user's events, sorted by time: parallel lists (small; bisect beats numpy here)."""

    times: list[int]
    amounts: list[float]


class OnlineState:
    """Per-user event windows and per-day category labels, as of a point in time.

    Not thread-safe for :meth:`add`: the service calls it from its one event loop.
    """

    def __init__(self, events: pa.Table, labels: pa.Table):
        self._users: dict[str, _UserEvents] = {}
        self._ids: set[str] = set(events.column("transaction_id").to_pylist())
        users = events.column("user_id").to_pylist()
        times = events.column("event_us").to_pylist()
        amounts = events.column("amount_usd").to_pylist()
        start = 0
        for i in range(1, len(users) + 1):
            if i == len(users) or users[i] != users[start]:
                self._users[users[start]] = _UserEvents(times[start:i], amounts[start:i])
                start = i
        self._labels: dict[dt.date, dict[str, tuple[int, int]]] = {}
        for day, category, n, frauds in zip(
            labels.column("partition_date").to_pylist(),
            labels.column("merchant_category").to_pylist(),
            labels.column("n").to_pylist(),
            labels.column("frauds").to_pylist(),
            strict=True,
        ):
            self._labels.setdefault(day, {})[category] = (int(n), int(frauds or 0))
        self._rates: dict[dt.date, tuple[float, dict[str, tuple[int, int]]]] = {}

    @property
    def events(self) -> int:
        return len(self._ids)

    @property
    def users(self) -> int:
        return len(self._users)

    def __contains__(self, transaction_id: str) -> bool:
        return transaction_id in self._ids

    def add(self, transaction_id: str, user_id: str, event_us: int, amount_usd: float) -> bool:
        """Record a transaction the service has seen; False (and nothing changes) when the
        state already holds it."""
        if transaction_id in self._ids:
            return False
        self._ids.add(transaction_id)
        user = self._users.get(user_id)
        if user is None:
            self._users[user_id] = _UserEvents([event_us], [amount_usd])
            return True
        at = bisect.bisect_right(user.times, event_us)
        user.times.insert(at, event_us)
        user.amounts.insert(at, amount_usd)
        return True

    def _day_history(self, day: dt.date) -> tuple[float, dict[str, tuple[int, int]]]:
        """The global prior rate and per-category (n, frauds) of the 28 days before ``day``."""
        cached = self._rates.get(day)
        if cached is not None:
            return cached
        totals: dict[str, tuple[int, int]] = {}
        for offset in range(1, LABEL_HISTORY_DAYS + 1):
            for category, (n, frauds) in self._labels.get(
                day - dt.timedelta(days=offset), {}
            ).items():
                before = totals.get(category, (0, 0))
                totals[category] = (before[0] + n, before[1] + frauds)
        n_all = sum(n for n, _ in totals.values())
        rate = sum(f for _, f in totals.values()) / n_all if n_all else DEFAULT_FRAUD_RATE
        if len(self._rates) > 64:
            self._rates.clear()
        self._rates[day] = (rate, totals)
        return rate, totals

    def features(self, transaction: Mapping[str, Any], event_ts: dt.datetime) -> dict[str, Any]:
        """The model's features of one validated transaction (the contract's columns), as
        of its ``event_ts``: the columns of ``features.transactions`` the model reads."""
        t = epoch_us(event_ts)
        utc = event_ts.astimezone(dt.UTC) if event_ts.tzinfo else event_ts
        amount_usd = transaction["amount_cents"] / 100.0
        user = self._users.get(transaction["user_id"])
        count_1h = count_24h = count_7d = 0
        sum_24h = mean_7d = 0.0
        gap = MAX_GAP_SECONDS
        if user is not None:
            times, amounts = user.times, user.amounts
            end = bisect.bisect_left(times, t)  # strictly before t: the row's peers excluded
            lo_7d = bisect.bisect_left(times, t - WINDOW_7D_US, 0, end)
            lo_24h = bisect.bisect_left(times, t - WINDOW_24H_US, lo_7d, end)
            lo_1h = bisect.bisect_left(times, t - WINDOW_1H_US, lo_24h, end)
            count_1h, count_24h, count_7d = end - lo_1h, end - lo_24h, end - lo_7d
            if count_24h:
                sum_24h = sum(amounts[lo_24h:end])
            if count_7d:
                mean_7d = sum(amounts[lo_7d:end]) / count_7d
                gap = min((t - times[end - 1]) / _US, MAX_GAP_SECONDS)
        rate, totals = self._day_history(utc.date())
        n, frauds = totals.get(transaction["merchant_category"], (0, 0))
        home = _HOME_CURRENCY.get(transaction["user_country"])
        hour = utc.hour
        return {
            "merchant_category": transaction["merchant_category"],
            "user_country": transaction["user_country"],
            "amount_usd": amount_usd,
            "log_amount": math.log(1 + amount_usd),
            "hour_of_day": hour,
            "is_night": int(hour < 5),
            "card_present": int(bool(transaction["card_present"])),
            "has_device_fingerprint": int(transaction.get("device_fingerprint") is not None),
            "is_foreign_currency": int(home is not None and transaction["currency"] != home),
            "user_txn_count_1h": count_1h,
            "user_txn_count_24h": count_24h,
            "user_txn_count_7d": count_7d,
            "user_amount_sum_24h": sum_24h,
            "user_amount_mean_7d": mean_7d,
            "amount_vs_user_mean_7d": amount_usd / mean_7d if mean_7d > 0 else 1.0,
            "seconds_since_prev_txn": gap,
            "category_fraud_rate_prior": (frauds + PRIOR_STRENGTH * rate) / (n + PRIOR_STRENGTH),
        }
