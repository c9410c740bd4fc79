"""Evaluation: metrics of the candidate, the champion/challenger gate, shadow scoring, model card.

- ``model/eval_results``: the candidate's ONNX model on its holdout, and the current champion
  re-scored on the *same* holdout, so the gate compares like with like;
- ``model/champion_challenger_gate``: registers the candidate as the ``challenger``; its
  blocking check ``promotion_gate`` runs the gate and promotes on a pass (the only road to
  ``champion``); a blocked challenger stops shadow scoring and the card. The gate also
  takes the eval suite's run of the candidate and the champion (``evals/results``, or a run
  made by the check itself when that asset did not run): a case the champion passes and
  the challenger fails blocks it;
- ``model/shadow_scores``: the newest feature partition scored by champion and challenger,
  with the decisions on which they differ;
- ``model/model_card``: JSON + Markdown card of the version, attached to it in the registry.
"""

import datetime as dt

import dagster as dg

from platform_assets.core.features.transactions import FEATURE_TABLE
from platform_assets.core.operations.alerts import Alert
from platform_assets.defs.automation import after_upstream, with_its_asset
from platform_assets.defs.keys import (
    CHAMPION_CHALLENGER_GATE,
    EVAL_RESULTS,
    EVAL_SUITE_RESULTS,
    EVALUATION,
    FEATURE_DRIFT,
    FRAUD_MODEL,
    FRAUD_MODEL_ONNX,
    MODEL_CARD,
    PROMOTION_GATE_CHECK,
    SHADOW_SCORES,
    owner_metadata,
    owners,
)
from platform_assets.defs.lineage import latest_metadata
from platform_assets.defs.resources import (
    WAREHOUSE_POOL,
    ClaudeResource,
    ModelRegistryResource,
    NotifierResource,
    PlatformSettings,
    WarehouseResource,
)


@dg.asset(
    key=EVAL_RESULTS,
    deps=[FRAUD_MODEL_ONNX],
    group_name=EVALUATION,
    kinds={"onnx", "python"},
    owners=owners(EVALUATION),
    automation_condition=after_upstream(),
)
def eval_results(
    context: dg.AssetExecutionContext, registry: ModelRegistryResource
) -> dg.MaterializeResult:
    """Holdout metrics of the candidate (AUROC, PR-AUC, precision/recall at the threshold, Brier,
    ECE, per-slice metrics, single-row latency) and of the champion on the same rows."""
    from platform_assets.core.evaluation.comparison import (
        comparison_markdown,
        evaluate_with_champion,
    )

    candidate = registry.current_candidate(context.instance)
    evaluation = evaluate_with_champion(
        candidate.onnx_path, candidate.holdout(), candidate.threshold, registry.get_registry()
    )
    path = candidate.write_json("eval.json", evaluation)
    result = evaluation["candidate"]
    return dg.MaterializeResult(
        metadata={
            "candidate_dir": dg.MetadataValue.path(str(candidate.path)),
            "eval_path": dg.MetadataValue.path(str(path)),
            **{
                name: result[name]
                for name in (
                    "auroc",
                    "pr_auc",
                    "precision",
                    "recall",
                    "brier",
                    "ece",
                    "latency_p50_ms",
                    "latency_p99_ms",
                )
            },
            "champion_version": evaluation["champion_version"],
            "comparison": dg.MetadataValue.md(comparison_markdown(result, evaluation["champion"])),
        }
    )


@dg.asset(
    key=CHAMPION_CHALLENGER_GATE,
    deps=[EVAL_RESULTS, EVAL_SUITE_RESULTS],
    group_name=EVALUATION,
    kinds={"python"},
    owners=owners(EVALUATION),
    automation_condition=after_upstream(),
)
def champion_challenger_gate(
    context: dg.AssetExecutionContext, registry: ModelRegistryResource
) -> dg.MaterializeResult:
    """The candidate registered as a model version and made the ``challenger``; the
    ``promotion_gate`` check decides whether it becomes ``champion``."""
    from platform_assets.core.registry.candidates import register_candidate

    models = registry.get_registry()
    version = register_candidate(
        models,
        registry.current_candidate(context.instance),
        run_id=context.run_id,
        asset=FRAUD_MODEL.to_user_string(),
        feature_table=FEATURE_TABLE,
    )
    return dg.MaterializeResult(
        metadata={
            "version": version.version,
            "model_id": version.id,
            "registry": dg.MetadataValue.path(models.file_uri(version.version, "version.json")),
            "aliases": dg.MetadataValue.json(models.aliases()),
        }
    )


@dg.asset_check(
    asset=CHAMPION_CHALLENGER_GATE,
    name=PROMOTION_GATE_CHECK,
    automation_condition=with_its_asset(),
    blocking=True,
    metadata=owner_metadata(EVALUATION),
    description="The challenger is not worse than the champion on PR-AUC beyond 0.01, no slice "
    "regresses beyond its tolerance (or, with no champion, it meets the minimums), and it "
    "fails no approved eval case the champion passes. Passing promotes it.",
)
def promotion_gate(
    context: dg.AssetCheckExecutionContext,
    registry: ModelRegistryResource,
    platform: PlatformSettings,
    notifier: NotifierResource,
) -> dg.AssetCheckResult:
    from platform_assets.core.eval_suite.cases import CaseError
    from platform_assets.core.eval_suite.promotion import suite_run_for_gate
    from platform_assets.core.eval_suite.requirements import RequirementsError
    from platform_assets.core.eval_suite.suite import load_suite
    from platform_assets.core.model_card.signing import unsigned_reason
    from platform_assets.core.registry import CorruptModelError
    from platform_assets.core.registry.candidates import promote_if_better

    models = registry.get_registry()
    version = int(latest_metadata(context.instance, CHAMPION_CHALLENGER_GATE)["version"])
    candidate = registry.current_candidate(context.instance)
    try:
        suite = load_suite(platform.evals_dir)
    except (CaseError, RequirementsError) as exc:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"not promoted, champion unchanged: the eval suite does not load: {exc}",
        )
    try:
        suite_run = suite_run_for_gate(candidate, models, suite, platform.contracts_dir)
        decision = promote_if_better(
            models,
            version,
            candidate.read_json("eval.json"),
            actor="promotion_gate",
            eval_cases=suite_run.comparison(),
            hold=unsigned_reason(models, version) if platform.require_signed_card else None,
        )
    except CorruptModelError as exc:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"not promoted, champion unchanged: {exc}",
        )
    candidate.write_json("gate.json", decision.to_dict())
    if not decision.passed:
        champion = models.aliases()["champion"]
        notifier.notify(
            Alert(
                kind="promotion_blocked",
                severity="warning",
                owner=owners(EVALUATION)[0],
                title=f"the gate blocked challenger v{decision.challenger_version}; the champion "
                f"{'v' + str(champion) if champion else '(none)'} is unchanged",
                summary="; ".join(decision.reasons),
                runbook="review_blocked_promotion",
                run_id=context.run.run_id,
                asset=CHAMPION_CHALLENGER_GATE.to_user_string(),
                details={
                    "decision": decision.to_dict(),
                    "trigger": context.run.tags.get("platform_assets/trigger"),
                },
            ),
            log=context.log,
        )
    return dg.AssetCheckResult(
        passed=decision.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(decision.reasons),
        metadata={
            "decision": dg.MetadataValue.md(decision.markdown()),
            "challenger_version": decision.challenger_version,
            "champion_version_before": decision.champion_version,
            "champion_version_after": models.aliases()["champion"],
            "eval_cases_regressed": len(suite_run.comparison().regressions),
        },
    )


@dg.asset(
    key=SHADOW_SCORES,
    deps=[CHAMPION_CHALLENGER_GATE],
    group_name=EVALUATION,
    kinds={"onnx", "duckdb"},
    pool=WAREHOUSE_POOL,
    owners=owners(EVALUATION),
    automation_condition=after_upstream(),
)
def shadow_scores(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, registry: ModelRegistryResource
) -> dg.MaterializeResult:
    """The newest feature partition scored by the champion and the challenger side by side,
    and how many flag/no-flag decisions differ between them."""
    from platform_assets.core.evaluation.comparison import shadow_compare
    from platform_assets.core.features import feature_partitions, load_features

    models = registry.get_registry()
    champion, challenger = models.compared_versions()
    with warehouse.get_connection() as conn:
        days = feature_partitions(conn)
        if not days:
            raise dg.Failure(description="features.transactions is empty: nothing to shadow-score")
        batch = load_features(conn, days[-1], days[-1])
    if challenger is None or champion is None:
        return dg.MaterializeResult(
            metadata={
                "note": "only one model version: nothing to compare",
                "batch_partition": days[-1].isoformat(),
            }
        )
    shadow = shadow_compare(models, champion, challenger, batch)
    return dg.MaterializeResult(
        metadata={
            "batch_partition": days[-1].isoformat(),
            "rows": shadow.rows,
            "decision_differences": shadow.decision_differences,
            "decision_difference_rate": shadow.decision_difference_rate,
            "only_champion_flags": shadow.only_champion_flags,
            "only_challenger_flags": shadow.only_challenger_flags,
            "max_abs_score_diff": shadow.max_abs_score_diff,
            "summary": dg.MetadataValue.md(shadow.markdown),
        }
    )


@dg.asset(
    key=MODEL_CARD,
    deps=[CHAMPION_CHALLENGER_GATE],
    group_name=EVALUATION,
    kinds={"python"},
    pool=WAREHOUSE_POOL,
    owners=owners(EVALUATION),
    automation_condition=after_upstream(),
)
def model_card(
    context: dg.AssetExecutionContext,
    registry: ModelRegistryResource,
    claude: ClaudeResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """The model card (JSON + Markdown, NIST AI RMF terms) of the newest version, with its
    change against the version it was compared with and a diff against that version's card."""
    from platform_assets.core.model_card.prose import draft_card_prose
    from platform_assets.core.model_card.publish import card_for_version, publish_card

    models = registry.get_registry()
    version = models.get(
        int(latest_metadata(context.instance, CHAMPION_CHALLENGER_GATE)["version"])
    )
    drift = latest_metadata(context.instance, FEATURE_DRIFT)
    card = card_for_version(
        models, version, drift={"drift_share": drift.get("drift_share")} if drift else None
    )
    # Facts come from the artifacts; Claude (when a key is set) only drafts prose, marked as drafted.
    with warehouse.get_connection() as conn:
        card = draft_card_prose(
            claude.get_client(),
            card,
            conn,
            run_id=context.run.run_id,
            asset=MODEL_CARD.to_user_string(),
        )
    published = publish_card(models, version, card, registry.artifacts_path / "model_cards")
    return dg.MaterializeResult(
        metadata={
            "model_id": version.id,
            "status": card["model"]["status"],
            "card_json": dg.MetadataValue.path(str(published.json_path)),
            "card_markdown": dg.MetadataValue.path(str(published.markdown_path)),
            "change_vs_previous": card["drift_vs_previous"]["summary"] or "first version",
            "fields_changed_vs_previous_card": len(card["diff_vs_previous_card"]),
            "signed": f"not signed yet: platform-assets models sign {version.version} --by NAME",
            "card": dg.MetadataValue.md(published.markdown[:20_000]),
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
