"""Evaluation: metrics of the candidate, the champion/challenger gate, shadow scoring, model card.

- ``model/eval_results``: the candidate's ONNX model on its holdout, and the current champion
  re-scored on the *same* holdout, so the gate compares like with like;
- ``model/champion_challenger_gate``: registers the candidate as the ``challenger``; its
  blocking check ``promotion_gate`` runs the gate and promotes on a pass (the only road to
  ``champion``); a blocked challenger stops shadow scoring and the card;
- ``model/shadow_scores``: the newest feature partition scored by champion and challenger,
  with the decisions on which they differ;
- ``model/model_card``: JSON + Markdown card of the version, attached to it in the registry.
"""

import datetime as dt
import json

import dagster as dg

from platform_assets.defs.resources import WAREHOUSE_POOL, PlatformSettings, WarehouseResource
from platform_assets.defs.llm import ClaudeResource
from platform_assets.defs.training import (
    FRAUD_MODEL,
    FRAUD_MODEL_ONNX,
    artifacts_dir,
    current_candidate,
    latest_metadata,
    model_registry,
)

EVAL_RESULTS = dg.AssetKey(["model", "eval_results"])
CHAMPION_CHALLENGER_GATE = dg.AssetKey(["model", "champion_challenger_gate"])
SHADOW_SCORES = dg.AssetKey(["model", "shadow_scores"])
MODEL_CARD = dg.AssetKey(["model", "model_card"])
PROMOTION_GATE_CHECK = "promotion_gate"


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _comparison_table(candidate: dict, champion: dict | None) -> str:
    from platform_assets.core.model_card.card import HEADLINE

    lines = ["| metric | candidate | champion (same holdout) |", "| --- | --- | --- |"]
    for name in HEADLINE:
        lines.append(f"| {name} | {_fmt(candidate.get(name))} | {_fmt((champion or {}).get(name))} |")
    for column, gap in candidate.get("slice_gaps", {}).items():
        if gap.get("gap") is not None:
            lines.append(f"| largest AUROC gap by {column} | {gap['gap']:.3f} ({gap['worst']} vs {gap['best']}) | |")
    return "\n".join(lines)


@dg.asset(key=EVAL_RESULTS, deps=[FRAUD_MODEL_ONNX], group_name="evaluation", kinds={"onnx", "python"})
def eval_results(context: dg.AssetExecutionContext, platform: PlatformSettings) -> dg.MaterializeResult:
    """Holdout metrics of the candidate (AUROC, PR-AUC, precision/recall at the threshold, Brier,
    ECE, per-slice metrics, single-row latency) and of the champion on the same rows."""
    from platform_assets.core.evaluation import evaluate

    candidate = current_candidate(context.instance)
    holdout = candidate.holdout()
    result = evaluate(candidate.onnx_path, holdout, candidate.threshold).to_dict()
    registry = model_registry(platform)
    champion = registry.champion()
    champion_result = None
    if champion is not None:
        onnx_bytes = registry.read_file(champion.version, "model.onnx")
        champion_result = evaluate(onnx_bytes, holdout, champion.threshold).to_dict()
    path = candidate.write_json("eval.json", {
        "candidate": result, "champion": champion_result,
        "champion_version": None if champion is None else champion.version})
    return dg.MaterializeResult(metadata={
        "candidate_dir": dg.MetadataValue.path(str(candidate.path)),
        "eval_path": dg.MetadataValue.path(str(path)),
        "auroc": result["auroc"], "pr_auc": result["pr_auc"], "precision": result["precision"],
        "recall": result["recall"], "brier": result["brier"], "ece": result["ece"],
        "latency_p50_ms": result["latency_p50_ms"], "latency_p99_ms": result["latency_p99_ms"],
        "champion_version": champion.version if champion else None,
        "comparison": dg.MetadataValue.md(_comparison_table(result, champion_result)),
    })


@dg.asset(key=CHAMPION_CHALLENGER_GATE, deps=[EVAL_RESULTS], group_name="evaluation", kinds={"python"})
def champion_challenger_gate(context: dg.AssetExecutionContext, platform: PlatformSettings) -> dg.MaterializeResult:
    """The candidate registered as a model version and made the ``challenger``; the
    ``promotion_gate`` check decides whether it becomes ``champion``."""
    candidate = current_candidate(context.instance)
    registry = model_registry(platform)
    evaluation = candidate.read_json("eval.json")
    for existing in reversed(registry.versions()):  # a re-run registers nothing new
        if registry.get(existing).record.get("lineage", {}).get("candidate_dir") == str(candidate.path):
            version = registry.get(existing)
            break
    else:
        files = {name: (candidate.path / name).read_bytes() for name in ("model.onnx", "model.joblib",
                                                                          "reference.parquet")}
        summary = candidate.summary
        version = registry.register(
            files, config=summary["config"], threshold=candidate.threshold,
            data_window={"train": summary["train_window"], "holdout": summary["holdout_window"],
                         "train_rows": summary["train_rows"], "holdout_rows": summary["holdout_rows"],
                         "train_positive_rate": summary["train_positive_rate"]},
            metrics=evaluation["candidate"],
            lineage={"run_id": context.run_id, "candidate_dir": str(candidate.path),
                     "feature_table": "features.transactions", "asset": FRAUD_MODEL.to_user_string()},
            extra={"parity": candidate.read_json("parity.json")},
        )
    return dg.MaterializeResult(metadata={
        "version": version.version, "model_id": version.id,
        "registry": dg.MetadataValue.path(registry.store.uri(registry.file_key(version.version, "version.json"))),
        "aliases": dg.MetadataValue.json(registry.aliases()),
    })


@dg.asset_check(asset=CHAMPION_CHALLENGER_GATE, name=PROMOTION_GATE_CHECK, blocking=True,
                description="The challenger is not worse than the champion on PR-AUC beyond 0.01 and no slice "
                            "regresses beyond its tolerance (or, with no champion, it meets the minimums). "
                            "Passing promotes it.")
def promotion_gate(context: dg.AssetCheckExecutionContext, platform: PlatformSettings) -> dg.AssetCheckResult:
    from platform_assets.core.registry import CorruptModelError

    registry = model_registry(platform)
    version = latest_metadata(context.instance, CHAMPION_CHALLENGER_GATE).get("version")
    candidate = current_candidate(context.instance)
    evaluation = candidate.read_json("eval.json")
    champion = registry.champion()
    same_holdout = evaluation["champion"] if champion and evaluation.get("champion_version") == champion.version \
        else None
    try:
        decision = registry.promote_if_passes(int(version), champion_metrics=same_holdout, actor="promotion_gate")
    except CorruptModelError as exc:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR,
                                   description=f"not promoted, champion unchanged: {exc}")
    candidate.write_json("gate.json", decision.to_dict())
    return dg.AssetCheckResult(
        passed=decision.passed, severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(decision.reasons),
        metadata={"decision": dg.MetadataValue.md(decision.markdown()),
                  "challenger_version": decision.challenger_version,
                  "champion_version_before": decision.champion_version,
                  "champion_version_after": registry.aliases()["champion"]},
    )


def _compared_versions(registry) -> tuple:
    """(champion, challenger); after a promotion they coincide, so the challenger's opponent
    becomes the champion it replaced."""
    champion, challenger = registry.champion(), registry.challenger()
    if champion is not None and challenger is not None and champion.version == challenger.version:
        stack = [e["from"] for e in registry.history() if e["alias"] == "champion" and e["event"] == "promote"
                 and e["to"] == champion.version and e["from"] is not None]
        champion = registry.get(stack[-1]) if stack else None
    return champion, challenger


@dg.asset(key=SHADOW_SCORES, deps=[CHAMPION_CHALLENGER_GATE], group_name="evaluation", kinds={"onnx", "duckdb"},
          pool=WAREHOUSE_POOL)
def shadow_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  platform: PlatformSettings) -> dg.MaterializeResult:
    """The newest feature partition scored by the champion and the challenger side by side,
    and how many flag/no-flag decisions differ between them."""
    import numpy as np

    from platform_assets.core.features import feature_partitions, load_features
    from platform_assets.core.training.scoring import score

    registry = model_registry(platform)
    champion, challenger = _compared_versions(registry)
    with warehouse.get_connection() as conn:
        days = feature_partitions(conn)
        if not days:
            raise dg.Failure(description="features.transactions is empty: nothing to shadow-score")
        batch = load_features(conn, days[-1], days[-1])
    if challenger is None or champion is None:
        return dg.MaterializeResult(metadata={"note": "only one model version: nothing to compare",
                                              "batch_partition": days[-1].isoformat()})
    p_champion = score(registry.read_file(champion.version, "model.onnx"), batch)
    p_challenger = score(registry.read_file(challenger.version, "model.onnx"), batch)
    flag_champion = p_champion >= champion.threshold
    flag_challenger = p_challenger >= challenger.threshold
    differ = flag_champion != flag_challenger
    labels = batch["is_fraud"].to_numpy().astype(bool)
    table = ["| | champion | challenger |", "| --- | --- | --- |",
             f"| version | v{champion.version} | v{challenger.version} |",
             f"| flagged | {int(flag_champion.sum())} | {int(flag_challenger.sum())} |",
             f"| frauds caught | {int((flag_champion & labels).sum())} | {int((flag_challenger & labels).sum())} |",
             f"| mean P(fraud) | {p_champion.mean():.4f} | {p_challenger.mean():.4f} |"]
    return dg.MaterializeResult(metadata={
        "batch_partition": days[-1].isoformat(),
        "rows": len(batch),
        "decision_differences": int(differ.sum()),
        "decision_difference_rate": float(differ.mean()),
        "only_champion_flags": int((flag_champion & ~flag_challenger).sum()),
        "only_challenger_flags": int((flag_challenger & ~flag_champion).sum()),
        "max_abs_score_diff": float(np.abs(p_champion - p_challenger).max()),
        "summary": dg.MetadataValue.md("\n".join(table)),
    })


@dg.asset(key=MODEL_CARD, deps=[CHAMPION_CHALLENGER_GATE], group_name="evaluation", kinds={"python"},
          pool=WAREHOUSE_POOL)
def model_card(context: dg.AssetExecutionContext, platform: PlatformSettings, claude: ClaudeResource,
               warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The model card (JSON + Markdown, NIST AI RMF terms) of the newest version, with its
    change against the version it was compared with and a diff against that version's card."""
    from platform_assets.core.model_card.prose import draft_card_prose
    from platform_assets.core.model_card import build_model_card, render_markdown
    from platform_assets.core.registry import RegistryError

    registry = model_registry(platform)
    version = registry.get(int(latest_metadata(context.instance, CHAMPION_CHALLENGER_GATE)["version"]))
    champion_after = registry.aliases()["champion"]
    status = "champion" if champion_after == version.version else "challenger"
    previous, _ = _compared_versions(registry)
    if previous is not None and previous.version == version.version:
        previous = None
    previous_card = None
    if previous is not None:
        try:
            previous_card = json.loads(registry.read_file(previous.version, "model_card.json"))
        except RegistryError:
            previous_card = None
    gate_path = version.record.get("lineage", {}).get("candidate_dir")
    gate_decision = None
    if gate_path:
        from pathlib import Path

        gate_file = Path(gate_path) / "gate.json"
        gate_decision = json.loads(gate_file.read_text()) if gate_file.is_file() else None
    drift = latest_metadata(context.instance, dg.AssetKey(["monitoring", "feature_drift"]))
    card = build_model_card(version.record, status=status,
                            previous_record=None if previous is None else previous.record,
                            previous_card=previous_card, gate_decision=gate_decision,
                            drift={"drift_share": drift.get("drift_share")} if drift else None)
    # Facts come from the artifacts; Claude (when a key is set) only drafts prose, marked as drafted.
    with warehouse.get_connection() as conn:
        card = draft_card_prose(claude.get_client(), card, conn, run_id=context.run.run_id)
    markdown = render_markdown(card)
    registry.attach(version.version, "model_card.json", json.dumps(card, indent=2, default=str).encode())
    registry.attach(version.version, "model_card.md", markdown.encode())
    out = artifacts_dir(platform) / "model_cards"
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{version.model_name}_v{version.version:04d}"
    (out / f"{stem}.json").write_text(json.dumps(card, indent=2, default=str))
    (out / f"{stem}.md").write_text(markdown)
    return dg.MaterializeResult(metadata={
        "model_id": version.id, "status": status,
        "card_json": dg.MetadataValue.path(str(out / f"{stem}.json")),
        "card_markdown": dg.MetadataValue.path(str(out / f"{stem}.md")),
        "change_vs_previous": card["drift_vs_previous"]["summary"] or "first version",
        "fields_changed_vs_previous_card": len(card["diff_vs_previous_card"]),
        "card": dg.MetadataValue.md(markdown[:20_000]),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    })
