"""The Dagster UI end to end: find the assets, materialize one partition, see it succeed.

Drives ``dagster dev`` (started by the ``dagster_server`` fixture) in headless Chromium,
then checks the result where it lands: the run's status in Dagster and the partition's
rows in the DuckDB warehouse.

Run: ``.venv/bin/python -m pytest platform_assets_tests/ui -q -m browser``
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import duckdb
import pytest

from platform_assets_tests.support.dagster_dev import CHROMIUM, ROWS_PER_PARTITION, DagsterServer

PARTITION = "2026-11-01"
RUN_TIMEOUT_S = 180
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

_RUNS = """
{ runsOrError(limit: 20) { __typename ... on Runs { results { runId status
    tags { key value } } } } }
"""
_RUN_STATUS = """
query ($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } } }
"""
_TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def _dismiss_community_dialog(page) -> None:
    """The first-visit dialog asking to join the community; off in dagster.yaml, but harmless."""
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.first.click()


def _run_for_partition(server: DagsterServer, partition: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for run in server.graphql(_RUNS)["runsOrError"]["results"]:
            tags = {t["key"]: t["value"] for t in run["tags"]}
            if tags.get("dagster/partition") == partition:
                return run["runId"]
        time.sleep(1)
    raise AssertionError(f"No run for partition {partition} appeared within {timeout_s}s")


def _wait_for_terminal_status(server: DagsterServer, run_id: str, page) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    status = "unknown"
    while time.monotonic() < deadline:
        status = server.graphql(_RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        if status in _TERMINAL:
            return status
        page.wait_for_timeout(2000)
    raise AssertionError(f"Run {run_id} still {status} after {RUN_TIMEOUT_S}s")


@pytest.mark.browser
def test_materialize_one_partition_from_the_ui(dagster_server: DagsterServer, tmp_path: Path):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(30_000)
        step = "start"
        try:
            step = "catalog lists both assets"
            page.goto(f"{dagster_server.url}/assets")
            _dismiss_community_dialog(page)
            expect(page.get_by_role("link", name="raw / transactions").first).to_be_visible(
                timeout=60_000
            )

            step = "asset page of raw/transactions"
            page.goto(f"{dagster_server.url}/assets/raw/transactions")
            _dismiss_community_dialog(page)
            expect(page.get_by_text("Never materialized")).to_be_visible()
            # The lineage section links the downstream validated asset.
            expect(page.get_by_role("link", name="validated / transactions").first).to_be_visible()

            step = "partition dialog"
            page.get_by_role("button", name="Materialize…").click()
            dialog = page.get_by_role("dialog")
            expect(
                dialog.get_by_text("Launch runs to materialize raw / transactions")
            ).to_be_visible()
            partitions = dialog.get_by_placeholder("No matching partitions")
            partitions.click()
            partitions.fill(PARTITION)
            partitions.press("Enter")
            expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
            page.screenshot(path=str(tmp_path / "partition_dialog.png"))

            step = "launch"
            dialog.get_by_role("button", name="Launch 1 run").click()
            expect(dialog).to_be_hidden()
            run_id = _run_for_partition(dagster_server, PARTITION)

            step = f"run page of {run_id}"
            page.goto(f"{dagster_server.url}/runs/{run_id}")
            status = _wait_for_terminal_status(dagster_server, run_id, page)
            page.reload()
            page.screenshot(path=str(tmp_path / "run.png"))
            assert status == "SUCCESS", (
                f"Run {run_id} ended {status}; screenshots in {tmp_path}.\n"
                f"{dagster_server.log_tail()}"
            )
            expect(page.get_by_text("Success", exact=True).first).to_be_visible()

            step = "asset page after the run"
            page.goto(f"{dagster_server.url}/assets/raw/transactions")
            expect(page.get_by_text("Never materialized")).to_have_count(0)
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print(f"Failed at step {step!r}; screenshots in {tmp_path}")
            raise
        finally:
            browser.close()

    warehouse = dagster_server.data_home / "warehouse.duckdb"
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = conn.execute(
            "SELECT count(*) FROM raw.transactions WHERE partition_date = ?", [PARTITION]
        ).fetchall()[0][0]
        other_days = conn.execute(
            "SELECT count(*) FROM raw.transactions WHERE partition_date <> ?", [PARTITION]
        ).fetchall()[0][0]
    finally:
        conn.close()
    assert rows == ROWS_PER_PARTITION
    assert other_days == 0
