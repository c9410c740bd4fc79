"""The eval suite's own asset group (``eval_suite``, apart from the lifecycle groups), and the
release notes of each promotion.

- ``evals/requirements``: the requirement documents parsed into ids, texts and hashes;
- ``evals/suite``: the approved cases, with the checks ``eval_suite_coverage`` (WARN below
  ``min_cases`` approved cases, ERROR with none), ``eval_suite_duplicates`` and
  ``eval_suite_rot`` (stale cases); a quarterly schedule runs the rot review;
- ``evals/drafts``: new drafts in the inbox: the rules' from recorded regressions, and with
  a key Claude's (one Message Batch at half price). A draft never counts as coverage;
- ``evals/results``: every approved case against the challenger (the newest training
  candidate) and the champion, on the candidate's holdout; per-requirement pass rates and
  numbers (cases, coverage %, pass rate) the UI plots over time. The promotion gate reads
  this run (``model/champion_challenger_gate`` depends on it).
- ``model/release_notes`` (group ``evaluation``, next to the model card, wired here because
  it reports the suite's results): the notes of the promotion of the newest version.
"""

import datetime as dt

import dagster as dg
from pydantic import Field

from platform_assets.defs.automation import after_upstream
from platform_assets.defs.keys import (
    CHAMPION_CHALLENGER_GATE,
    EVAL_CASES_PASS_CHECK,
    EVAL_COVERAGE_CHECK,
    EVAL_DRAFTS,
    EVAL_DUPLICATES_CHECK,
    EVAL_REQUIREMENTS,
    EVAL_RESULTS,
    EVAL_ROT_CHECK,
    EVAL_ROT_REVIEW_JOB,
    EVAL_ROT_REVIEW_SCHEDULE,
    EVAL_SUITE,
    EVAL_SUITE_CASES,
    EVAL_SUITE_RESULTS,
    EVALUATION,
    MODEL_CARD,
    RELEASE_NOTES,
    owner_metadata,
    owners,
)
from platform_assets.defs.lineage import run_metadata
from platform_assets.defs.resources import (
    WAREHOUSE_POOL,
    ClaudeResource,
    ModelRegistryResource,
    PlatformSettings,
    WarehouseResource,
)


def _load_suite(platform: PlatformSettings, registry: ModelRegistryResource | None = None):
    """The suite (with the drafts inbox when ``registry`` is given), or a failure naming the
    file and field that do not parse."""
    from platform_assets.core.eval_suite.cases import CaseError
    from platform_assets.core.eval_suite.requirements import RequirementsError
    from platform_assets.core.eval_suite.suite import drafts_inbox, load_suite

    try:
        return load_suite(
            platform.evals_dir, None if registry is None else drafts_inbox(registry.artifacts_path)
        )
    except (CaseError, RequirementsError) as exc:
        raise dg.Failure(description=f"the eval suite does not load: {exc}") from exc


def _table(header: list[str], rows: list[list]) -> str:
    return "\n".join(
        ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    )


@dg.asset(key=EVAL_REQUIREMENTS, group_name=EVAL_SUITE, kinds={"python"}, owners=owners(EVAL_SUITE))
def eval_requirements(
    context: dg.AssetExecutionContext, platform: PlatformSettings
) -> dg.MaterializeResult:
    """The product requirements under ``<evals>/requirements/*.md``: one per numbered item,
    with its id (``document#number``), text and hash."""
    from platform_assets.core.eval_suite.requirements import RequirementsError, load_requirements

    try:
        requirements = load_requirements(platform.evals_dir)
    except RequirementsError as exc:
        raise dg.Failure(description=str(exc)) from exc
    return dg.MaterializeResult(
        metadata={
            "evals_dir": dg.MetadataValue.path(platform.evals_dir),
            "requirements": len(requirements),
            "documents": len({r.document for r in requirements}),
            "table": dg.MetadataValue.md(
                _table(["id", "hash", "text"], [[r.id, r.sha256, r.text] for r in requirements])
            ),
        }
    )


class EvalSuiteConfig(dg.Config):
    min_cases: int = Field(
        2, description="approved cases a requirement needs; fewer is a warning, none an error"
    )
    stale_after_days: int = Field(90, description="a case not reviewed for this long is stale")


@dg.asset(
    key=EVAL_SUITE_CASES,
    deps=[EVAL_REQUIREMENTS],
    group_name=EVAL_SUITE,
    kinds={"python"},
    owners=owners(EVAL_SUITE),
    check_specs=[
        dg.AssetCheckSpec(
            EVAL_COVERAGE_CHECK,
            asset=EVAL_SUITE_CASES,
            metadata=owner_metadata(EVAL_SUITE),
            description="Every requirement has min_cases approved cases (WARN below, ERROR "
            "with none) and every approved case names an existing requirement.",
        ),
        dg.AssetCheckSpec(
            EVAL_DUPLICATES_CHECK,
            asset=EVAL_SUITE_CASES,
            metadata=owner_metadata(EVAL_SUITE),
            description="No two approved cases test the same thing.",
        ),
        dg.AssetCheckSpec(
            EVAL_ROT_CHECK,
            asset=EVAL_SUITE_CASES,
            metadata=owner_metadata(EVAL_SUITE),
            description="No approved case is stale: reviewed within stale_after_days, and its "
            "requirement's text unchanged since approval.",
        ),
    ],
)
def eval_suite(
    context: dg.AssetExecutionContext,
    config: EvalSuiteConfig,
    platform: PlatformSettings,
    registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    """The approved eval cases under ``<evals>/cases``, with the suite's coverage of the
    requirements, its duplicates and its stale cases."""
    from platform_assets.core.eval_suite.suite import review_suite

    suite = _load_suite(platform, registry)
    review = review_suite(
        suite, min_cases=config.min_cases, stale_after_days=config.stale_after_days
    )
    coverage_problems = (
        [f"{rid}: no approved case" for rid in review.uncovered]
        + [f"{rid}: fewer than {review.min_cases} approved cases" for rid in review.thin]
        + [
            f"{case}: requirement {rid} does not exist"
            for case, rid in review.unknown_requirements.items()
        ]
    )
    coverage_check = dg.AssetCheckResult(
        check_name=EVAL_COVERAGE_CHECK,
        passed=not coverage_problems,
        severity=dg.AssetCheckSeverity.ERROR
        if review.uncovered or review.unknown_requirements
        else dg.AssetCheckSeverity.WARN,
        description="; ".join(coverage_problems)
        or f"every requirement has {review.min_cases}+ approved cases",
        metadata={
            "coverage": dg.MetadataValue.md(review.coverage_markdown()),
            "coverage_pct": round(100 * review.coverage, 2),
        },
    )
    duplicates_check = dg.AssetCheckResult(
        check_name=EVAL_DUPLICATES_CHECK,
        passed=not review.duplicates,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f"{', '.join(g)} test the same thing" for g in review.duplicates)
        or "no duplicates",
    )
    rot_check = dg.AssetCheckResult(
        check_name=EVAL_ROT_CHECK,
        passed=not review.stale,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f"{s.case}: {'; '.join(s.reasons)}" for s in review.stale)
        or f"no case is stale (reviewed within {review.stale_after_days} days, requirement "
        "unchanged)",
        metadata={"stale_cases": len(review.stale)},
    )
    return dg.MaterializeResult(
        metadata={
            "cases": review.cases,
            "drafted": review.drafted,
            "requirements": len(review.requirements),
            "coverage_pct": round(100 * review.coverage, 2),
            "stale": len(review.stale),
            "duplicates": len(review.duplicates),
            "suite_fingerprint": suite.fingerprint(),
            "coverage": dg.MetadataValue.md(review.coverage_markdown()),
        },
        check_results=[coverage_check, duplicates_check, rot_check],
    )


class EvalDraftsConfig(dg.Config):
    wait_seconds: float = Field(
        120.0,
        description="how long to wait for Claude's Message Batch before leaving it "
        "for the next run to collect",
    )
    poll_seconds: float = Field(10.0, description="time between two looks at the batch")
    requirements: list[str] = Field(
        default_factory=list,
        description="draft for these requirement ids only "
        "(empty: all); Claude drafts only where no "
        "draft waits for review",
    )


@dg.asset(
    key=EVAL_DRAFTS,
    deps=[EVAL_REQUIREMENTS, EVAL_SUITE_CASES],
    group_name=EVAL_SUITE,
    kinds={"anthropic", "python"},
    pool=WAREHOUSE_POOL,
    owners=owners(EVAL_SUITE),
)
def eval_drafts(
    context: dg.AssetExecutionContext,
    config: EvalDraftsConfig,
    platform: PlatformSettings,
    registry: ModelRegistryResource,
    warehouse: WarehouseResource,
    claude: ClaudeResource,
) -> dg.MaterializeResult:
    """New drafted cases in the drafts inbox, for a person to review: the rules' from the
    recorded regressions and, with a key, Claude's from the requirements, the approved cases
    and the same regressions. Drafts never count as coverage."""
    from platform_assets.core.eval_suite.drafts import draft_cases
    from platform_assets.core.eval_suite.promotion import holdout_for_version
    from platform_assets.core.eval_suite.regressions import recorded_regressions
    from platform_assets.core.eval_suite.suite import drafts_inbox

    suite = _load_suite(platform, registry)
    models = registry.get_registry()
    client = claude.get_client()
    holdout = None
    champion = models.champion()
    if client.enabled and champion is not None:
        try:
            holdout = holdout_for_version(champion, warehouse.database)
        except FileNotFoundError:
            holdout = None
    inbox = drafts_inbox(registry.artifacts_path)
    with warehouse.get_connection() as conn:
        regressions = recorded_regressions(conn, models, registry.artifacts_path)
        try:
            report = draft_cases(
                suite,
                regressions,
                inbox=inbox,
                client=client,
                log_conn=conn,
                contracts_dir=platform.contracts_dir,
                holdout=holdout,
                requirement_ids=list(config.requirements) or None,
                only_where_none_waits=True,
                wait_seconds=config.wait_seconds,
                poll_seconds=config.poll_seconds,
                run_id=context.run_id,
                asset=EVAL_DRAFTS.to_user_string(),
            )
        except ValueError as exc:
            raise dg.Failure(description=str(exc)) from exc
    for note in report.notes:
        context.log.info(note)
    return dg.MaterializeResult(
        metadata={
            "drafted": len(report.drafted),
            "drafted_by_claude": sum(1 for c in report.drafted if c.drafted_by.kind == "claude"),
            "drafted_by_rules": sum(1 for c in report.drafted if c.drafted_by.kind == "rules"),
            "waiting_for_review": len(suite.drafted) + len(report.drafted),
            "regressions": len(regressions),
            "batch_id": report.batch_id or "",
            "batch_pending": report.pending,
            "inbox": dg.MetadataValue.path(str(inbox)),
            "notes": dg.MetadataValue.md(
                "\n".join(f"- {n}" for n in report.notes + report.skipped) or "-"
            ),
            "drafts": dg.MetadataValue.md(
                _table(
                    ["id", "requirement", "kind", "by", "title"],
                    [
                        [
                            c.id,
                            c.requirement or "(not set)",
                            c.kind,
                            c.drafted_by.describe(),
                            c.title,
                        ]
                        for c in report.drafted
                    ],
                )
            ),
        }
    )


@dg.asset(
    key=EVAL_SUITE_RESULTS,
    deps=[EVAL_SUITE_CASES, EVAL_RESULTS],
    group_name=EVAL_SUITE,
    kinds={"onnx", "python"},
    owners=owners(EVAL_SUITE),
    automation_condition=after_upstream(),
    check_specs=[
        dg.AssetCheckSpec(
            EVAL_CASES_PASS_CHECK,
            asset=EVAL_SUITE_RESULTS,
            metadata=owner_metadata(EVAL_SUITE),
            description="The challenger passes every approved case (the promotion gate "
            "blocks only cases the champion passes).",
        )
    ],
)
def eval_suite_results(
    context: dg.AssetExecutionContext, platform: PlatformSettings, registry: ModelRegistryResource
) -> dg.MaterializeResult:
    """Every approved case run against the challenger (the newest training candidate) and the
    champion on the candidate's holdout: per-requirement pass rates, and the cases the
    champion passes that the challenger fails, which block its promotion."""
    from platform_assets.core.eval_suite.promotion import CHALLENGER, CHAMPION, run_for_candidate
    from platform_assets.core.eval_suite.suite import review_suite

    suite = _load_suite(platform)
    run = run_for_candidate(
        registry.current_candidate(context.instance, context.run.run_id),
        registry.get_registry(),
        suite,
        platform.contracts_dir,
    )
    comparison = run.comparison()
    challenger_rate, champion_rate = run.pass_rate(CHALLENGER), run.pass_rate(CHAMPION)
    failed = run.failed_cases(CHALLENGER)
    check = dg.AssetCheckResult(
        check_name=EVAL_CASES_PASS_CHECK,
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(
            f"{c['case']} ({c['requirement']}) {c['status']}: {c['detail']}" for c in failed
        )
        or f"the challenger passes all {len(comparison.cases)} approved cases",
    )
    return dg.MaterializeResult(
        metadata={
            "cases": len(comparison.cases),
            "requirements": len(run.requirements),
            "coverage_pct": round(100 * review_suite(suite).coverage, 2),
            "challenger_pass_rate": -1.0 if challenger_rate is None else round(challenger_rate, 4),
            "champion_pass_rate": -1.0 if champion_rate is None else round(champion_rate, 4),
            "challenger_failed": len(failed),
            "regressions_vs_champion": len(comparison.regressions),
            "challenger_version": run.version_of(CHALLENGER) or -1,
            "champion_version": run.version_of(CHAMPION) or -1,
            "holdout_rows": run.holdout_rows,
            "suite_fingerprint": run.suite_fingerprint,
            "results": dg.MetadataValue.md(run.markdown()),
        },
        check_results=[check],
    )


@dg.asset(
    key=RELEASE_NOTES,
    deps=[MODEL_CARD],
    group_name=EVALUATION,
    kinds={"python"},
    pool=WAREHOUSE_POOL,
    owners=owners(EVALUATION),
    automation_condition=after_upstream(),
)
def release_notes(
    context: dg.AssetExecutionContext,
    registry: ModelRegistryResource,
    claude: ClaudeResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Internal release notes of the newest version's promotion (config, data window and
    metric changes, eval cases newly passing or failing, the card's diff, who approved),
    attached next to its model card."""
    from platform_assets.core.model_card.release_notes import (
        build_release_notes,
        draft_notes_prose,
        publish_release_notes,
    )

    models = registry.get_registry()
    version = models.get(
        int(run_metadata(context.instance, context.run.run_id, CHAMPION_CHALLENGER_GATE)["version"])
    )
    notes = build_release_notes(models, version)
    with warehouse.get_connection() as conn:
        notes = draft_notes_prose(claude.get_client(), notes, conn, run_id=context.run_id)
    published = publish_release_notes(
        models, version, notes, registry.artifacts_path / "release_notes"
    )
    cases = notes["eval_cases"]
    return dg.MaterializeResult(
        metadata={
            "model_id": version.id,
            "promoted": notes["promotion"] is not None,
            "newly_passing_cases": len(cases.get("newly_passing", [])),
            "newly_failing_cases": len(cases.get("newly_failing", [])),
            "config_changes": len(notes["config_changes"]),
            "notes_markdown": dg.MetadataValue.path(str(published.markdown_path)),
            "notes": dg.MetadataValue.md(published.markdown[:20_000]),
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )


eval_rot_review_job = dg.define_asset_job(
    EVAL_ROT_REVIEW_JOB,
    selection=dg.AssetSelection.assets(EVAL_REQUIREMENTS, EVAL_SUITE_CASES),
    owners=owners(EVAL_SUITE),
    description="The eval suite's review: coverage, duplicates, and rot (cases not reviewed for "
    "90 days or whose requirement changed).",
)

quarterly_rot_review = dg.ScheduleDefinition(
    name=EVAL_ROT_REVIEW_SCHEDULE,
    job=eval_rot_review_job,
    cron_schedule="0 6 1 1,4,7,10 *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    owners=owners(EVAL_SUITE),
    description="Each quarter, the suite's rot review: stale cases show as a failing "
    "eval_suite_rot check.",
)
