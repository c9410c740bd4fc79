"""What went wrong before, as the platform recorded it: the raw material of new eval cases.

- **quarantined batches**: contract verdicts that failed (``platform.batch_verdicts``), one
  regression per broken error rule;
- **blocked promotions**: gate decisions that did not pass (``gate.json`` in the training
  candidates' folders);
- **triage tickets**: failed runs the triage sensor wrote up (``platform.triage_tickets``);
- **failed cases**: approved eval cases a registered version failed (its ``eval_cases.json``).

Every reader looks before it reads, so an empty warehouse or registry has no regressions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from platform_assets.core.registry import ModelRegistry

SOURCES = ("quarantine", "blocked_promotion", "triage_ticket", "failed_case")


@dataclass(frozen=True)
class Regression:
    source: str  # one of SOURCES
    # where it was recorded: "transactions 2026-11-07", "fraud_model:v2", a ticket or case id
    ref: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _has_table(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    )


def quarantined_batches(conn: duckdb.DuckDBPyConnection, limit: int = 50) -> list[Regression]:
    """One regression per (table, column, rule) that rejected a batch, newest batch first."""
    if not _has_table(conn, "platform", "batch_verdicts"):
        return []
    rows = conn.execute(
        "SELECT table_name, partition_key, violations FROM platform.batch_verdicts "
        "WHERE NOT passes ORDER BY checked_at DESC, partition_key DESC"
    ).fetchall()
    found: dict[tuple, Regression] = {}
    for table, partition, violations in rows:
        for violation in json.loads(violations):
            if violation.get("severity", "error") != "error":
                continue
            key = (table, violation.get("field"), violation.get("rule"))
            if key not in found:
                found[key] = Regression(
                    "quarantine",
                    f"{table} {partition}",
                    f"{table} partition {partition} was rejected: "
                    f"{violation.get('field') or '(table)'} broke {violation.get('rule')}",
                    {
                        "table": table,
                        "partition": partition,
                        "field": violation.get("field"),
                        "rule": violation.get("rule"),
                        "detail": violation.get("detail", "")[:400],
                    },
                )
    return list(found.values())[:limit]


def blocked_promotions(artifacts_dir: str | Path, limit: int = 20) -> list[Regression]:
    """Gate decisions that blocked a challenger, from the candidates' ``gate.json``."""
    folder = Path(artifacts_dir) / "candidates"
    decisions = []
    for path in folder.glob("*/gate.json") if folder.is_dir() else []:
        try:
            decision = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not decision.get("passed", True):
            decisions.append((path.stat().st_mtime, path, decision))
    found = []
    for _, path, decision in sorted(decisions, key=lambda d: d[0], reverse=True)[:limit]:
        version = decision.get("challenger_version")
        failed = [c for c in decision.get("comparisons", []) if not c.get("ok", True)]
        found.append(
            Regression(
                "blocked_promotion",
                f"fraud_model:v{version}",
                f"v{version} was blocked against champion v{decision.get('champion_version')}: "
                + "; ".join(decision.get("reasons", []))[:400],
                {
                    "challenger_version": version,
                    "champion_version": decision.get("champion_version"),
                    "failed_checks": failed,
                    "candidate_dir": str(path.parent),
                },
            )
        )
    return found


def triage_tickets(conn: duckdb.DuckDBPyConnection, limit: int = 20) -> list[Regression]:
    """Failed runs the triage sensor wrote up, newest first."""
    if not _has_table(conn, "platform", "triage_tickets"):
        return []
    rows = conn.execute(
        "SELECT ticket_id, run_id, job_name, pattern, probable_cause, recommended_action "
        "FROM platform.triage_tickets ORDER BY created_at DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [
        Regression(
            "triage_ticket",
            ticket_id,
            f"run {run_id} of {job} failed ({pattern}): {cause}"[:400],
            {
                "run_id": run_id,
                "job_name": job,
                "pattern": pattern,
                "probable_cause": cause,
                "recommended_action": action,
            },
        )
        for ticket_id, run_id, job, pattern, cause, action in rows
    ]


def failed_cases(registry: ModelRegistry, limit: int = 20) -> list[Regression]:
    """Approved eval cases a registered version failed, from its recorded comparison."""
    found: list[Regression] = []
    for number in reversed(registry.versions()):
        comparison = registry.eval_cases(number)
        if comparison is None:
            continue
        for result in comparison.cases:
            if not result.challenger_passed:
                found.append(
                    Regression(
                        "failed_case",
                        result.case,
                        f"fraud_model:v{number} failed case {result.case} ({result.requirement}): "
                        f"{result.detail}"[:400],
                        {
                            "version": number,
                            "case": result.case,
                            "requirement": result.requirement,
                            "champion_passed": result.champion_passed,
                            "detail": result.detail,
                        },
                    )
                )
        if len(found) >= limit:
            break
    return found[:limit]


def recorded_regressions(
    conn: duckdb.DuckDBPyConnection | None,
    registry: ModelRegistry | None,
    artifacts_dir: str | Path | None,
) -> list[Regression]:
    """Every kind of regression the platform recorded, each source newest first."""
    found: list[Regression] = []
    if conn is not None:
        found += quarantined_batches(conn)
    if artifacts_dir is not None:
        found += blocked_promotions(artifacts_dir)
    if conn is not None:
        found += triage_tickets(conn)
    if registry is not None:
        found += failed_cases(registry)
    return found
