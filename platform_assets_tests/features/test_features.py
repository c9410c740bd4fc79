"""Point-in-time correctness and idempotence of features.transactions, on real DuckDB."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from platform_assets.core.features import build_feature_partition, feature_partitions, load_features
from platform_assets.core.features.sample_data import day_range, load_validated_days

DAYS = day_range("2026-01-01", 4)


@pytest.fixture
def conn():
    connection = duckdb.connect()
    load_validated_days(connection, DAYS, 2_000)
    yield connection
    connection.close()


def _insert_tx(conn, tx_id, ts, user="u_999999", amount=10_000, fraud=False, category="travel"):
    conn.execute(
        "INSERT INTO validated.transactions VALUES (?, ?, ?, 'US', 'm_00001', ?, ?, 'USD', false, "
        "'d_1', ?, CAST(timezone('UTC', CAST(? AS TIMESTAMPTZ)) AS DATE))",
        [tx_id, ts, user, category, amount, fraud, ts],
    )


def _row(conn, tx_id):
    frame = conn.execute(
        "SELECT * FROM features.transactions WHERE transaction_id = ?", [tx_id]
    ).df()
    assert len(frame) == 1, tx_id
    return frame.iloc[0].to_dict()


def test_windows_count_only_strictly_earlier_events(conn):
    day = DAYS[2]
    _insert_tx(conn, "t_a", f"{day} 10:00:00+00", amount=1_000)
    _insert_tx(conn, "t_b", f"{day} 10:30:00+00", amount=3_000)
    _insert_tx(
        conn, "t_c", f"{day} 10:30:00+00", amount=5_000
    )  # same instant as t_b: not "before" it
    _insert_tx(conn, "t_d", f"{day} 12:00:00+00", amount=7_000)
    build_feature_partition(conn, day)
    a, b, c, d = (_row(conn, t) for t in ("t_a", "t_b", "t_c", "t_d"))
    assert (
        a["user_txn_count_24h"] == 0
        and a["user_amount_mean_7d"] == 0.0
        and a["amount_vs_user_mean_7d"] == 1.0
    )
    assert b["user_txn_count_1h"] == 1 and c["user_txn_count_1h"] == 1  # ties excluded both ways
    assert b["user_amount_sum_24h"] == pytest.approx(10.0)
    assert d["user_txn_count_1h"] == 0 and d["user_txn_count_24h"] == 3
    assert d["user_amount_mean_7d"] == pytest.approx(30.0)
    assert d["amount_vs_user_mean_7d"] == pytest.approx(70.0 / 30.0)
    assert d["seconds_since_prev_txn"] == pytest.approx(5400.0)
    assert a["hour_of_day"] == 10


def test_a_future_event_does_not_change_past_features(conn):
    day = DAYS[3]
    build_feature_partition(conn, day)
    before = load_features(conn, day, day).set_index("transaction_id")
    # A burst of large events for a real user, later the same day, plus fraud labels on that day.
    user = before.iloc[len(before) // 2]["user_id"]
    cutoff = before.iloc[len(before) // 2]["event_ts"]
    for i in range(5):
        _insert_tx(
            conn,
            f"t_future_{i}",
            (cutoff + dt.timedelta(seconds=1 + i)).isoformat(),
            user=user,
            amount=900_000,
            fraud=True,
        )
    build_feature_partition(conn, day)
    after = load_features(conn, day, day).set_index("transaction_id")
    past = before[before["event_ts"] <= cutoff].index
    assert len(past) > 100
    feature_columns = [c for c in before.columns if c not in ("event_ts",)]
    # Windowed sums may differ in the last bit (DuckDB's segment trees add in another order).
    pd.testing.assert_frame_equal(
        after.loc[past, feature_columns],
        before.loc[past, feature_columns],
        check_exact=False,
        rtol=1e-12,
        atol=1e-9,
    )
    later_same_user = after[(after["user_id"] == user) & (after.index.str.startswith("t_future_4"))]
    assert later_same_user.iloc[0]["user_txn_count_1h"] >= 4  # the later rows do see the burst


def test_category_fraud_rate_uses_prior_days_only(conn):
    day = DAYS[2]
    build_feature_partition(conn, day)
    rate_before = load_features(conn, day, day).query("merchant_category == 'travel'")[
        "category_fraud_rate_prior"
    ]
    # Same-day fraud labels must not leak into the rate; an earlier day's labels must.
    for i in range(50):
        _insert_tx(
            conn,
            f"t_same_{i}",
            f"{day} 23:00:00+00",
            fraud=True,
            category="travel",
            user=f"u_8{i:05d}",
        )
    build_feature_partition(conn, day)
    same_day = load_features(conn, day, day).query(
        "merchant_category == 'travel' and ~transaction_id.str.startswith('t_')"
    )
    assert same_day["category_fraud_rate_prior"].unique().tolist() == rate_before.unique().tolist()
    for i in range(50):
        _insert_tx(
            conn,
            f"t_prior_{i}",
            f"{DAYS[1]} 23:00:00+00",
            fraud=True,
            category="travel",
            user=f"u_7{i:05d}",
        )
    build_feature_partition(conn, day)
    raised = load_features(conn, day, day).query("merchant_category == 'travel'")[
        "category_fraud_rate_prior"
    ]
    assert raised.iloc[0] > rate_before.iloc[0]


def test_rebuilding_a_partition_is_idempotent(conn):
    for day in DAYS:
        build_feature_partition(conn, day)
    first = load_features(conn, DAYS[0], DAYS[-1])
    assert build_feature_partition(conn, DAYS[1]) == 2_000
    second = load_features(conn, DAYS[0], DAYS[-1])
    assert len(second) == len(first) == 8_000
    assert second.equals(first)
    assert feature_partitions(conn) == DAYS


def test_missing_validated_table_is_a_clear_error():
    with pytest.raises(LookupError, match="validated/transactions"):
        build_feature_partition(duckdb.connect(), "2026-01-01")


def test_a_range_built_in_one_pass_equals_day_by_day(conn):
    from platform_assets.core.features import build_feature_partitions

    for day in DAYS:
        build_feature_partition(conn, day)
    day_by_day = load_features(conn, DAYS[0], DAYS[-1])
    written = build_feature_partitions(conn, DAYS[0], DAYS[-1])
    assert written == dict.fromkeys(DAYS, 2000)
    pd.testing.assert_frame_equal(
        load_features(conn, DAYS[0], DAYS[-1]), day_by_day, check_exact=False, rtol=1e-12
    )
