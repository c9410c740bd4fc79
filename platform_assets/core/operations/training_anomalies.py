"""Training runs that succeed with anomalous numbers: triaged like a failed run.

A training run is compared with the model's own history (the earlier successful training
runs, newest first): it is anomalous when

- AUROC or PR-AUC on its holdout dropped more than ``metric_drop`` below the history's median;
- its training rows, or its positive (fraud) rows, are outside ``[1/rows_factor, rows_factor]``
  times the history's median;
- fitting took more than ``fit_time_factor`` times the history's median.

Fewer than ``min_history`` earlier runs: nothing is judged (a new model has no history).
An anomalous run gets a ticket (pattern ``training_anomaly``, runbook
``review_training_anomaly``) in ``platform.triage_tickets``, like a failed run.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import dataclass

import duckdb

from platform_assets.core.operations.triage import Runbook, Ticket, similar_failures, write_ticket

PATTERN = "training_anomaly"
RUNBOOK = "review_training_anomaly"


@dataclass(frozen=True)
class TrainingRun:
    """The numbers of one training run (from the training and evaluation assets)."""

    run_id: str
    auroc: float | None
    pr_auc: float | None
    train_rows: int | None
    positive_rows: float | None
    fit_seconds: float | None


@dataclass(frozen=True)
class Tolerances:
    metric_drop: float = 0.05
    rows_factor: float = 2.0
    fit_time_factor: float = 3.0
    min_history: int = 3


def _median(history: list[TrainingRun], name: str) -> float | None:
    values = [getattr(run, name) for run in history if getattr(run, name) is not None]
    return statistics.median(values) if values else None


def not_judged_yet(history: list[TrainingRun], tolerances: Tolerances | None = None) -> str | None:
    """Why a run is not judged (too few earlier runs, saying how many are needed), or None."""
    tol = tolerances or Tolerances()
    if len(history) >= tol.min_history:
        return None
    return (
        f"not judged yet: {len(history)} earlier training run(s), {tol.min_history} are needed "
        f"before a run is compared with its history"
    )


def find_anomalies(
    run: TrainingRun, history: list[TrainingRun], tolerances: Tolerances | None = None
) -> list[str]:
    """What is anomalous about ``run`` against ``history`` (empty: nothing, or too little history)."""
    tol = tolerances or Tolerances()
    if len(history) < tol.min_history:
        return []
    found = []
    for metric in ("auroc", "pr_auc"):
        value, median = getattr(run, metric), _median(history, metric)
        if value is not None and median is not None and median - value > tol.metric_drop:
            found.append(
                f"{metric} {value:.4f} is {median - value:.4f} below the median {median:.4f} of the last "
                f"{len(history)} training runs (tolerance {tol.metric_drop})"
            )
    for name, label in (
        ("train_rows", "training rows"),
        ("positive_rows", "positive (fraud) training rows"),
    ):
        value, median = getattr(run, name), _median(history, name)
        if value is not None and median:
            ratio = value / median
            if not 1 / tol.rows_factor <= ratio <= tol.rows_factor:
                found.append(
                    f"{label} {value:.0f} are ×{ratio:.2f} the median {median:.0f} of the last "
                    f"{len(history)} training runs (allowed ×{1 / tol.rows_factor:g}..×{tol.rows_factor:g})"
                )
    value, median = run.fit_seconds, _median(history, "fit_seconds")
    if value is not None and median and value > tol.fit_time_factor * median:
        found.append(
            f"fitting took {value:.1f} s, ×{value / median:.1f} the median {median:.1f} s of the last "
            f"{len(history)} training runs (allowed ×{tol.fit_time_factor:g})"
        )
    return found


def anomaly_ticket(
    conn: duckdb.DuckDBPyConnection,
    run: TrainingRun,
    job_name: str,
    anomalies: list[str],
    history: list[TrainingRun],
    allowlist: dict[str, Runbook],
) -> Ticket:
    """Write and return the ticket of an anomalous training run."""
    kinds = sorted({a.split(" ")[0] for a in anomalies})
    signature = hashlib.sha1(json.dumps([PATTERN, job_name, kinds]).encode()).hexdigest()[:16]
    runbook = allowlist.get(RUNBOOK)
    ticket = Ticket(
        ticket_id=f"anomaly-{run.run_id}",
        run_id=run.run_id,
        job_name=job_name,
        pattern=PATTERN,
        probable_cause="The training run succeeded, but its numbers are far from the model's own history.",
        evidence=[*anomalies, f"history: runs {', '.join(h.run_id[:8] for h in history[:10])}"],
        recommended_action=RUNBOOK if runbook else "escalate_to_on_call",
        safe_to_automate=bool(runbook and runbook.runs_by_itself),
        signature=signature,
        similar_runs=similar_failures(conn, signature, PATTERN, job_name, run.run_id),
        failed_steps=[],
    )
    write_ticket(conn, ticket)
    return ticket
