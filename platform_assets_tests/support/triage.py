"""Real failed runs and the triage sensor run over them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import yaml

from platform_assets.core import warehouse as wh
from platform_assets.core.operations.triage import default_allowlist_path, tickets
from platform_assets.defs.operations import build_triage_sensor
from platform_assets_tests.support.typed import present

TWO_REVIEWS = [
    {"by": "Reviewer One", "on": "2026-11-20"},
    {"by": "Reviewer Two", "on": "2026-11-21"},
]


def reviewed_allowlist(folder: Path, *names: str, reviews: list[dict] | None = None) -> Path:
    """The repository's allow-list with ``reviews`` (default: two different reviewers) recorded
    for the runbooks ``names``, written to ``folder/allowlist.yaml``."""
    data = yaml.safe_load(default_allowlist_path().read_text())
    for entry in data["runbooks"]:
        if entry["name"] in names:
            entry["reviews"] = list(TWO_REVIEWS if reviews is None else reviews)
    path = folder / "allowlist.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def failing_job(name: str, cause: Callable[[], object]) -> dg.JobDefinition:
    """A one-step job ``name`` whose step ``{name}_step`` logs a line, then calls ``cause``."""

    @dg.op(name=f"{name}_step")
    def failing_op(context):
        context.log.info(f"starting {name}")
        cause()

    @dg.job(name=name)
    def _failing_job():
        failing_op()

    return _failing_job


def fail_and_triage(
    instance: dg.DagsterInstance,
    resources: dict,
    job: dg.JobDefinition | None = None,
    assets: list | None = None,
    sensor=None,
    tags: dict | None = None,
):
    """Run ``job`` (or materialize ``assets``), which must fail, then evaluate the triage sensor
    on the failure. Returns ``(ticket, actions, sensor outcome)``; ``actions`` are
    ``(runbook, status, detail)`` rows in the order they were taken."""
    if job is not None:
        result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
    else:
        result = dg.materialize(present(assets), instance=instance, raise_on_error=False, tags=tags)
    assert not result.success
    run = present(instance.get_run_by_id(result.run_id))
    failure = instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE
    ).records[0]
    context = dg.build_run_status_sensor_context(
        sensor_name="triage_run_failures",
        dagster_event=present(failure.event_log_entry.dagster_event),
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    )
    outcome = (sensor or build_triage_sensor())(context)
    with wh.session(resources["warehouse"].database) as conn:
        ticket = next(t for t in tickets(conn) if t["run_id"] == result.run_id)
        actions = conn.execute(
            "SELECT runbook, status, detail FROM platform.triage_actions WHERE ticket_id = ? "
            "ORDER BY acted_at",
            [ticket["ticket_id"]],
        ).fetchall()
    return ticket, actions, outcome
