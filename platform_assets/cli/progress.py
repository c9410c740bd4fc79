"""Progress of the runs a command starts: one line per finished asset step, to stderr.

The runs execute in-process and write their events to the Dagster instance; a thread reads
them back (every half second) and prints what finished. Dagster's own event log stays in
the instance, where the UI shows it; the console keeps only this and warnings.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
from typing import TextIO

import dagster as dg

from platform_assets.operations_runs import PID_TAG

POLL_SECONDS = 0.5
_WATCHED = {
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}


class StepProgress:
    """Use as a context manager around the command's runs."""

    def __init__(self, instance: dg.DagsterInstance, out: TextIO | None = None):
        self.instance = instance
        self.out = out or sys.stderr
        self.since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        self.run_ids: list[str] = []
        self._cursors: dict[str, str | None] = {}
        self._labels: dict[tuple[str, str], str] = {}
        self._checks: set[tuple[str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="platform-assets-progress", daemon=True
        )

    def __enter__(self) -> StepProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._poll()  # what finished since the last look

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self._poll()

    def _say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def _poll(self) -> None:
        try:
            # This process's runs: the CLI tags each run with its owner's pid (operations_runs).
            records = self.instance.get_run_records(
                filters=dg.RunsFilter(created_after=self.since, tags={PID_TAG: str(os.getpid())}),
                order_by="create_timestamp",
                ascending=True,
            )
            for record in records:
                self._follow(record.dagster_run)
        except Exception:  # progress is a courtesy: a busy SQLite read must not break the run
            return

    def _follow(self, run: dg.DagsterRun) -> None:
        if run.run_id not in self._cursors:
            self.run_ids.append(run.run_id)
            self._cursors[run.run_id] = None
            tags = run.tags
            window = (
                tags.get("dagster/partition")
                or "..".join(
                    t
                    for t in (
                        tags.get("dagster/asset_partition_range_start"),
                        tags.get("dagster/asset_partition_range_end"),
                    )
                    if t
                )
                or "-"
            )
            self._say(f"{run.job_name} {window} (run {run.run_id[:8]})")
        connection = self.instance.get_records_for_run(
            run.run_id, cursor=self._cursors[run.run_id], of_type=_WATCHED
        )
        self._cursors[run.run_id] = connection.cursor
        for record in connection.records:
            self._show(run.run_id, record.event_log_entry)

    def _show(self, run_id: str, entry) -> None:
        event = entry.dagster_event
        key = (run_id, entry.step_key or "")
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            self._labels.setdefault(key, event.asset_key.to_user_string())
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            self._checks.add(key)
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            if key in self._checks and key not in self._labels:
                return  # a check's own step: the summary lists the checks
            seconds = (event.event_specific_data.duration_ms or 0) / 1000
            self._say(f"  ✓ {self._labels.get(key, entry.step_key)}  {seconds:.1f} s")
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            self._say(f"  ✗ {self._labels.get(key, entry.step_key)} failed")
