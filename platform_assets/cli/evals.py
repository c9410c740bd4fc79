"""``platform-assets evals``: draft eval cases, review them, measure coverage, run the suite.

The suite is ``$PLATFORM_ASSETS_EVALS_DIR`` (default ``./evals``): ``requirements/*.md`` and
``cases/*.yaml``. Drafts wait in ``$PLATFORM_ASSETS_HOME/artifacts/eval_drafts`` until a person
approves them (``evals review approve``), the only way into the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import contextmanager

import click

from platform_assets.cli.common import EXIT_FAILED, EXIT_OK, fail_usage


@click.group()
def evals() -> None:
    """The eval suite: requirements, reviewed cases, coverage, runs against the models."""


def _settings():
    from platform_assets.core.settings import Settings

    return Settings.from_env()


def _inbox(settings):
    from platform_assets.core.eval_suite.suite import drafts_inbox

    return drafts_inbox(settings.artifacts_dir)


def _suite(settings, with_inbox: bool = True):
    """The suite, or exit 2 naming the file and field that does not parse."""
    from platform_assets.core.eval_suite.cases import CaseError
    from platform_assets.core.eval_suite.requirements import RequirementsError
    from platform_assets.core.eval_suite.suite import load_suite

    try:
        return load_suite(settings.evals_dir, _inbox(settings) if with_inbox else None)
    except (CaseError, RequirementsError) as exc:
        fail_usage(str(exc))


def _git_user() -> str | None:
    try:
        found = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


@contextmanager
def _warehouse(settings, write: bool):
    """The warehouse (``None`` when it does not exist and nothing needs writing)."""
    from platform_assets.core import warehouse

    if not write and not warehouse.exists(settings.warehouse):
        yield None
        return
    with warehouse.session(settings.warehouse, read_only=not write) as conn:
        yield conn


# -- draft -------------------------------------------------------------------------------


@evals.command("draft")
@click.option(
    "--requirement",
    "requirements",
    multiple=True,
    help="Draft for this requirement id only (repeatable), e.g. fraud_scoring#3.",
)
@click.option(
    "--wait",
    "wait_seconds",
    default=600.0,
    show_default=True,
    help="Seconds to wait for Claude's Message Batch before leaving it for the next pass.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the drafts as JSON.")
def evals_draft(requirements: tuple[str, ...], wait_seconds: float, as_json: bool) -> None:
    """Draft cases into the drafts inbox: from the recorded regressions by the rules and, with
    ANTHROPIC_API_KEY, by Claude from the requirements, the suite and the regressions (one
    Message Batch at half price). Nothing enters the suite until `evals review approve`."""
    from platform_assets.core.eval_suite.drafts import draft_cases
    from platform_assets.core.eval_suite.promotion import holdout_for_version
    from platform_assets.core.eval_suite.regressions import recorded_regressions
    from platform_assets.core.llm.client import ClaudeClient, ClaudeConfig
    from platform_assets.core.registry import registry_for

    settings = _settings()
    suite = _suite(settings)
    client = ClaudeClient(ClaudeConfig.from_env())
    registry = registry_for(settings.registry_url)
    champion = registry.champion()
    holdout = None
    if client.enabled and champion is not None:
        try:
            holdout = holdout_for_version(champion, settings.warehouse)
        except FileNotFoundError:
            holdout = None
    with _warehouse(settings, write=client.enabled) as conn:
        regressions = recorded_regressions(conn, registry, settings.artifacts_dir)
        try:
            report = draft_cases(
                suite,
                regressions,
                inbox=_inbox(settings),
                client=client,
                log_conn=conn,
                contracts_dir=settings.contracts_dir,
                holdout=holdout,
                requirement_ids=list(requirements) or None,
                wait_seconds=wait_seconds,
            )
        except ValueError as exc:
            fail_usage(str(exc))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "drafted": [
                        c.model_dump(mode="json", exclude_none=True) for c in report.drafted
                    ],
                    "skipped": report.skipped,
                    "notes": report.notes,
                    "batch_id": report.batch_id,
                    "pending": report.pending,
                    "inbox": str(_inbox(settings)),
                },
                indent=2,
            )
        )
        return
    for note in report.notes:
        click.echo(f"note: {note}")
    for case in report.drafted:
        click.echo(
            f"drafted {case.id} ({case.requirement or 'requirement not set'}, {case.kind}): "
            f"{case.title}"
        )
    for skipped in report.skipped:
        click.echo(f"skipped: {skipped}")
    click.echo(
        f"{len(report.drafted)} draft(s) in {_inbox(settings)}; review them with "
        f"`platform-assets evals review list`"
    )


# -- review ------------------------------------------------------------------------------


@evals.group("review")
def review() -> None:
    """Review drafts: list them, approve one into the suite, or reject it with a reason."""


@review.command("list")
@click.option("--json", "as_json", is_flag=True)
def review_list(as_json: bool) -> None:
    """Drafts waiting for review, in the cases folder and the drafts inbox."""
    settings = _settings()
    suite = _suite(settings)
    inbox_ids = {c.id for c in suite.inbox}
    rows = [
        {
            "id": c.id,
            "requirement": c.requirement,
            "kind": c.kind,
            "title": c.title,
            "drafted_by": c.drafted_by.describe(),
            "drafted_at": None if c.drafted_at is None else str(c.drafted_at),
            "where": str(
                (_inbox(settings) if c.id in inbox_ids else settings.evals_dir / "cases")
                / f"{c.id}.yaml"
            ),
        }
        for c in suite.drafted
    ]
    if as_json:
        click.echo(json.dumps({"drafts": rows}, indent=2))
        return
    if not rows:
        click.echo("no drafts waiting for review (draft some with `platform-assets evals draft`)")
        return
    for row in rows:
        click.echo(
            f"{row['id']}  [{row['requirement'] or 'requirement not set'}, {row['kind']}] "
            f"{row['title']}\n    drafted by {row['drafted_by']}; {row['where']}"
        )


@review.command("approve")
@click.argument("case")
@click.option("--reviewer", help="Who approves (default: git config user.name).")
def review_approve(case: str, reviewer: str | None) -> None:
    """Approve CASE: it enters the suite (evals/cases), tied to its requirement's text as it is
    now."""
    from platform_assets.core.eval_suite.review import ReviewError, approve

    settings = _settings()
    _suite(settings)  # a malformed file is named before anything is written
    reviewer = reviewer or _git_user()
    if not reviewer:
        fail_usage("no reviewer: pass --reviewer NAME (git config user.name is not set)")
    try:
        path = approve(settings.evals_dir, _inbox(settings), case, reviewer)
    except ReviewError as exc:
        fail_usage(str(exc))
    click.echo(f"approved {case} by {reviewer}: {path}")


@review.command("reject")
@click.argument("case")
@click.option("--reason", required=True, help="Why: kept with the case so it is not drafted again.")
@click.option("--reviewer", help="Who rejects (default: git config user.name).")
def review_reject(case: str, reason: str, reviewer: str | None) -> None:
    """Reject CASE with a reason; it stays in evals/cases as rejected so it is not proposed
    again."""
    from platform_assets.core.eval_suite.review import ReviewError, reject

    settings = _settings()
    _suite(settings)
    reviewer = reviewer or _git_user()
    if not reviewer:
        fail_usage("no reviewer: pass --reviewer NAME (git config user.name is not set)")
    try:
        path = reject(settings.evals_dir, _inbox(settings), case, reviewer, reason)
    except ReviewError as exc:
        fail_usage(str(exc))
    click.echo(f"rejected {case} by {reviewer}: {path}")


# -- coverage ----------------------------------------------------------------------------


@evals.command("coverage")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='{"coverage": 0..1, "requirements": [{"id", "approved", "drafted", "stale"}]}',
)
@click.option(
    "--min-cases",
    default=None,
    type=click.IntRange(1),
    help="Approved cases a requirement needs (default 2); fewer is a warning.",
)
def evals_coverage(as_json: bool, min_cases: int | None) -> None:
    """Approved, drafted and stale cases per requirement. Exits 1 when a requirement has no
    approved case (drafts never count)."""
    from platform_assets.core.eval_suite.suite import DEFAULT_MIN_CASES, review_suite

    settings = _settings()
    suite = _suite(settings)
    report = review_suite(suite, min_cases=min_cases or DEFAULT_MIN_CASES)
    if as_json:
        click.echo(json.dumps(report.coverage_json(), indent=2))
    else:
        click.echo(
            f"coverage {report.coverage:.0%}: {len(report.requirements) - len(report.uncovered)} "
            f"of {len(report.requirements)} requirements have an approved case ({report.cases} "
            f"approved, {report.drafted} drafted) in {settings.evals_dir}"
        )
        click.echo(report.coverage_markdown())
        for rid in report.uncovered:
            click.echo(f"ERROR {rid}: no approved case")
        for rid in report.thin:
            click.echo(f"WARN {rid}: fewer than {report.min_cases} approved cases")
        for stale in report.stale:
            click.echo(f"STALE {stale.case}: {'; '.join(stale.reasons)}")
        for group in report.duplicates:
            click.echo(f"DUPLICATE {', '.join(group)}: they test the same thing")
        for case, rid in report.unknown_requirements.items():
            click.echo(f"ERROR {case}: its requirement {rid} does not exist")
    sys.exit(EXIT_FAILED if report.uncovered else EXIT_OK)


# -- run ---------------------------------------------------------------------------------


@evals.command("run")
@click.option(
    "--alias", type=click.Choice(["champion", "challenger"]), default="champion", show_default=True
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='{"alias", "version", "requirements": [{"id", "cases", "passed"}], "failed_cases": [...]}',
)
def evals_run(alias: str, as_json: bool) -> None:
    """Run every approved case against the champion (or --alias challenger) on its holdout.
    Exits 1 when an approved case fails or cannot run."""
    from platform_assets.core.eval_suite.promotion import (
        holdout_for_version,
        run_suite,
        version_under_test,
    )
    from platform_assets.core.registry import RegistryError, registry_for

    settings = _settings()
    suite = _suite(settings, with_inbox=False)
    registry = registry_for(settings.registry_url)
    version = registry.alias(alias)
    if version is None:
        click.echo(f"no {alias} yet: train one first (platform-assets run)", err=True)
        sys.exit(EXIT_FAILED)
    try:
        model = version_under_test(registry, version, alias)
        holdout = holdout_for_version(version, settings.warehouse)
    except (RegistryError, FileNotFoundError) as exc:
        click.echo(f"cannot run the suite on {version.id}: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    run = run_suite(suite, [model], holdout, settings.contracts_dir)
    failed = run.failed_cases(alias)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "alias": alias,
                    "version": version.version,
                    "requirements": run.requirement_summary(alias),
                    "failed_cases": failed,
                },
                indent=2,
            )
        )
    else:
        rate = run.pass_rate(alias)
        click.echo(
            f"{version.id} ({alias}) on {run.holdout_rows} holdout rows: "
            f"{sum(r['passed'] for r in run.requirement_summary(alias))} of "
            f"{len(run.outcomes[alias])} approved cases "
            "pass" + ("" if rate is None else f" ({rate:.0%})")
        )
        for row in run.requirement_summary(alias):
            click.echo(f"  {row['id']}: {row['passed']}/{row['cases']}")
        for case in failed:
            click.echo(
                f"FAIL {case['case']} ({case['requirement']}, {case['kind']}) {case['status']}: "
                f"{case['detail']}"
            )
    sys.exit(EXIT_FAILED if failed else EXIT_OK)
