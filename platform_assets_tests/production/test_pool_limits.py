"""Workers that start together on a new Postgres all get the warehouse pool's limit.

Dagster writes a pool's limit (``concurrency.pools.default_limit`` in ``deploy/dagster.yaml``)
the first time one of its steps claims a slot. Two workers doing that at once collide on
Postgres: the loser's INSERT raises a UniqueViolation that Dagster's fallback cannot recover
from in the aborted transaction, and its run failed before any step (seen in CI, in
test_concurrent_backfill). Every CLI run first calls ``ensure_pool_limits``, which takes the
collision.

The collision is made to happen, not hoped for: another worker's INSERT of the pool's row is
held open in a transaction, so the worker under test sees no row, writes its own, waits on
the other's key, and loses when the other commits.
"""

from __future__ import annotations

import threading
import time

import dagster as dg
import psycopg2
import pytest

from platform_assets.operations_runs import ensure_pool_limits

pytestmark = pytest.mark.slow

POOL = "duckdb_warehouse"


def _collide(production, start) -> list[BaseException]:
    """``start(instance)`` in a thread while another worker's first write of the pool's limit
    is in flight; returns what the thread raised."""
    errors: list[BaseException] = []
    with dg.DagsterInstance.from_config(str(production.dagster_home)) as instance:
        other = psycopg2.connect(production.env["PLATFORM_ASSETS_PG_URL"])
        try:
            with (
                other.cursor() as cursor
            ):  # psycopg2 opens a transaction: the row stays uncommitted
                cursor.execute(
                    "INSERT INTO concurrency_limits "
                    '(concurrency_key, "limit", using_default_limit) '
                    "VALUES (%s, 8, true)",
                    [POOL],
                )

            def worker():
                try:
                    start(instance)
                except BaseException as exc:
                    errors.append(exc)

            thread = threading.Thread(target=worker)
            thread.start()
            deadline = time.monotonic() + 30
            while (
                not _waiting_on_a_lock(production)
                and thread.is_alive()
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            assert _waiting_on_a_lock(production), "the worker never wrote the pool's row"
            other.commit()
            thread.join(30)
            assert not thread.is_alive()
        finally:
            other.close()
    return errors


def _waiting_on_a_lock(production) -> bool:
    rows = production.pg(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE 'INSERT INTO concurrency_limits%'"
    )
    return rows[0][0] > 0


def test_a_worker_that_loses_the_race_takes_the_winners_limit(production, caplog):
    caplog.set_level("INFO", logger="platform_assets.operations_runs")
    errors = _collide(production, lambda instance: ensure_pool_limits(instance, [POOL]))
    assert errors == []
    assert "another worker set its limit at the same time" in caplog.text
    with dg.DagsterInstance.from_config(str(production.dagster_home)) as instance:
        limits = {
            limit.name: (limit.limit, limit.from_default)
            for limit in instance.event_log_storage.get_pool_limits()
        }
        assert limits == {POOL: (8, True)}
        ensure_pool_limits(instance, [POOL])  # and a later run finds it there
        assert len(instance.event_log_storage.get_pool_limits()) == 1


def test_dagsters_own_first_claim_fails_the_loser(production):
    """What ensure_pool_limits is for (when Dagster fixes this, the test says so and the guard can
    go).
    """
    errors = _collide(
        production,
        lambda instance: instance.event_log_storage.initialize_concurrency_limit_to_default(POOL),
    )
    assert errors, (
        "Dagster's own pool initialization no longer fails the worker that loses the race"
    )
    assert any(
        "concurrency_limits" in str(exc) or "transaction is aborted" in str(exc) for exc in errors
    ), errors
