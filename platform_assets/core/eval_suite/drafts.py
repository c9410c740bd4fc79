"""A drafting pass: the rules' drafts from recorded regressions and, with a key, Claude's
from the requirements, the suite and the same regressions; all written to the drafts inbox
for a person to review. A draft never counts as coverage.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from platform_assets.core.eval_suite.cases import write_case
from platform_assets.core.eval_suite.drafting import draft_with_claude, holdout_columns
from platform_assets.core.eval_suite.regressions import Regression
from platform_assets.core.eval_suite.rules_drafting import DraftReport, draft_from_regressions
from platform_assets.core.eval_suite.suite import Suite

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from platform_assets.core.llm.client import ClaudeClient

NO_KEY_NOTE = (
    "no ANTHROPIC_API_KEY: the rules drafted from the recorded regressions only (requirements and "
    "approved cases need Claude)"
)


def draft_cases(
    suite: Suite,
    regressions: list[Regression],
    *,
    inbox: str | Path,
    client: ClaudeClient | None = None,
    log_conn: duckdb.DuckDBPyConnection | None = None,
    contracts_dir: str | Path | None = None,
    holdout: pd.DataFrame | None = None,
    requirement_ids: list[str] | None = None,
    only_where_none_waits: bool = False,
    wait_seconds: float = 600.0,
    poll_seconds: float = 10.0,
    run_id: str | None = None,
    asset: str | None = "evals/drafts",
    today: dt.date | None = None,
) -> DraftReport:
    """Draft, write the drafts to ``inbox`` and say what happened.

    ``requirement_ids`` limits both drafters to those requirements; ``only_where_none_waits``
    limits Claude to requirements with no draft waiting for review (what a scheduled run
    wants: drafts do not pile up, and each day does not pay for the same proposals).

    Raises:
        ValueError: ``requirement_ids`` names a requirement the suite does not have.
    """
    unknown = sorted(set(requirement_ids or []) - {r.id for r in suite.requirements})
    if unknown:
        raise ValueError(
            f"unknown requirement(s) {', '.join(unknown)}; the suite has "
            f"{', '.join(r.id for r in suite.requirements) or 'none'}"
        )
    report = draft_from_regressions(
        regressions,
        suite.requirements,
        [*suite.cases, *suite.inbox],
        contracts_dir=contracts_dir,
        today=today,
    )
    if requirement_ids is not None:
        report.drafted = [c for c in report.drafted if c.requirement in requirement_ids]
    report.notes.insert(
        0, f"rules: {len(report.drafted)} draft(s) from {len(regressions)} recorded regression(s)"
    )
    if client is not None and client.enabled:
        if log_conn is None:
            raise ValueError("Claude's calls are logged: pass the warehouse connection (log_conn)")
        for_claude = requirement_ids
        if only_where_none_waits:
            waiting = {c.requirement for c in suite.drafted if c.requirement}
            for_claude = [
                r.id
                for r in suite.requirements
                if r.id not in waiting and (requirement_ids is None or r.id in requirement_ids)
            ]
            skipped = sorted(waiting & {r.id for r in suite.requirements})
            if skipped:
                report.notes.append(
                    f"Claude skips {', '.join(skipped)}: drafts wait for review there"
                )
        claude = draft_with_claude(
            client,
            suite,
            regressions,
            log_conn,
            inbox=inbox,
            holdout_columns=holdout_columns(holdout),
            requirement_ids=for_claude,
            existing=report.drafted,
            contracts_dir=contracts_dir,
            wait_seconds=wait_seconds,
            poll_seconds=poll_seconds,
            run_id=run_id,
            asset=asset,
            today=today,
        )
        report = report.merge(claude)
    else:
        report.notes.append(NO_KEY_NOTE)
    for case in report.drafted:
        write_case(case, inbox)
    return report
