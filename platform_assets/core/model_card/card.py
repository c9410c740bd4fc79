"""The model card: every fact comes from the registry record, nothing is written by hand.

Sections follow the NIST AI Risk Management Framework's vocabulary: the context of use
(MAP: intended and out-of-scope uses), the measured performance and its parity across
slices (MEASURE), known limitations and risks, and accountability (GOVERN: approvals, empty
until a person signs). Prose that a language model drafts later must be stored under
``drafted`` with ``drafted_by`` so a reader can tell facts from drafts.
"""

from __future__ import annotations

import datetime as dt
import json

from platform_assets.core.evaluation.metrics import HEADLINE_METRICS

CARD_SCHEMA_VERSION = "1"

INTENDED_USE = (
    "Rank card transactions by probability of fraud so that analysts review the highest-risk "
    "transactions first, and flag transactions above the operating threshold for step-up checks."
)
OUT_OF_SCOPE = [
    "Declining a transaction or closing an account without human review.",
    "Credit, lending, insurance or employment decisions about a person.",
    "Transactions from merchant categories or countries absent from the training data.",
    "Scoring after the feature definitions change without retraining.",
]
BASE_LIMITATIONS = [
    "Labels (is_fraud) arrive with the data; in production, chargebacks arrive weeks late, so recent "
    "windows under-count fraud.",
    "Trained on the bundled synthetic card-transaction source; rates and patterns may not match a real portfolio.",
    "Slice metrics with fewer than 10 fraud cases are reported but not used to block promotion.",
    "The operating threshold flags a fixed share of training transactions; it is not cost-optimised.",
]
HEADLINE = HEADLINE_METRICS
POINT_METRICS = {"precision", "recall", "auroc", "pr_auc"}  # shown as percentage points


def metric_drift(current: dict, previous: dict | None) -> dict[str, dict]:
    """Per headline metric: current, previous and the change (pp for rates, raw otherwise)."""
    out = {}
    if not previous:
        return out
    for name in HEADLINE:
        new, old = current.get(name), previous.get(name)
        if new is None or old is None:
            continue
        delta = float(new) - float(old)
        text = f"{name} {delta * 100:+.1f}pp" if name in POINT_METRICS else f"{name} {delta:+.4f}"
        out[name] = {"current": new, "previous": old, "delta": delta, "text": text}
    return out


def _slice_parity(metrics: dict) -> dict:
    gaps = metrics.get("slice_gaps", {})
    return {column: dict(gap.items()) for column, gap in gaps.items()}


def _limitations(metrics: dict) -> list[str]:
    items = list(BASE_LIMITATIONS)
    for column, gap in metrics.get("slice_gaps", {}).items():
        if gap.get("gap") is not None and gap["gap"] > 0.1:
            items.append(
                f"AUROC varies by {gap['gap']:.2f} across {column} values (worst: {gap['worst']} "
                f"at {gap['worst_value']:.2f})."
            )
    if metrics.get("ece") is not None and metrics["ece"] > 0.02:
        items.append(f"Probabilities are imperfectly calibrated (ECE {metrics['ece']:.3f}).")
    return items


def build_model_card(
    record: dict,
    *,
    status: str,
    previous_record: dict | None = None,
    previous_card: dict | None = None,
    gate_decision: dict | None = None,
    drift: dict | None = None,
) -> dict:
    """The card for one registry version record (``ModelVersion.record``).

    Args:
        status: ``champion``, ``challenger`` or ``blocked``.
        previous_record: the version this one is compared with (usually the champion before it).
        previous_card: that version's card, to diff against.
        gate_decision: ``GateDecision.to_dict()`` of this version.
        drift: a drift summary (share of drifted columns) when one exists.
    """
    metrics = record.get("metrics", {})
    window = record.get("data_window", {})
    card = {
        "schema_version": CARD_SCHEMA_VERSION,
        "model": {
            "id": f"{record['model_name']}:v{record['version']}",
            "name": record["model_name"],
            "version": record["version"],
            "status": status,
            "created_at": record.get("created_at"),
            "model_type": record.get("config", {}).get("model_type"),
            "threshold": record.get("threshold"),
        },
        "intended_use": INTENDED_USE,
        "out_of_scope_uses": OUT_OF_SCOPE,
        "training_data": {
            "train_window": window.get("train"),
            "holdout_window": window.get("holdout"),
            "train_rows": window.get("train_rows"),
            "holdout_rows": window.get("holdout_rows"),
            "positive_rate": window.get("train_positive_rate"),
            "features": record.get("config", {}).get("features"),
            "lineage": record.get("lineage", {}),
        },
        "evaluation": {
            "primary_metric": metrics.get("primary_metric", "pr_auc"),
            "headline": {k: metrics.get(k) for k in HEADLINE if metrics.get(k) is not None},
            "rows": metrics.get("rows"),
            "positives": metrics.get("positives"),
            "slice_parity": _slice_parity(metrics),
            "onnx_parity": record.get("parity"),
        },
        "drift_vs_previous": {
            "previous_version": None if previous_record is None else previous_record["version"],
            "metrics": metric_drift(
                metrics, None if previous_record is None else previous_record.get("metrics")
            ),
        },
        "data_drift": drift,
        "gate": gate_decision,
        "known_limitations": _limitations(metrics),
        "approvals": [],
        "drafted": {},
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    changes = card["drift_vs_previous"]["metrics"]
    card["drift_vs_previous"]["summary"] = ", ".join(
        changes[k]["text"] for k in ("recall", "precision", "pr_auc", "auroc") if k in changes
    )
    card["diff_vs_previous_card"] = diff_cards(previous_card, card) if previous_card else []
    return card


def add_drafted_text(card: dict, section: str, text: str, drafted_by: str) -> dict:
    """Attach prose a model drafted (e.g. a plain-language summary), kept apart from the facts
    and rendered under "Drafted prose (not verified)" until a person approves the card."""
    card.setdefault("drafted", {})[section] = {
        "text": text,
        "drafted_by": drafted_by,
        "drafted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return card


def approve(card: dict, name: str, role: str) -> dict:
    """Record a person's sign-off (the only way ``approvals`` gets an entry)."""
    card.setdefault("approvals", []).append(
        {"name": name, "role": role, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    )
    return card


def _training_days_table(days: list[dict]) -> list[str]:
    """Each training day's source URI and row counts, as a Markdown table (empty: none)."""
    if not days:
        return []
    rows = [
        f"| {d['day']} | {d.get('source_uri') or '(not landed)'} | {d.get('raw_rows')} | "
        f"{d.get('training_rows')} |"
        for d in days
    ]
    return ["", "| day | source | raw rows | training rows |", "| --- | --- | --- | --- |", *rows]


def _approval_line(approval: dict) -> str:
    line = f"- {approval.get('name')} ({approval.get('role')}), {approval.get('at')}"
    if approval.get("card_sha256"):
        line += f", card sha256 {approval['card_sha256'][:16]}…"
    if approval.get("note"):
        line += f": {approval['note']}"
    return line


_VOLATILE = {"generated_at", "diff_vs_previous_card"}


def _flatten(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if not prefix and key in _VOLATILE:
                continue
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else key))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return {prefix: json.dumps(value, sort_keys=True, default=str)}
    return {prefix: value}


def diff_cards(old: dict | None, new: dict) -> list[dict]:
    """Fields that changed between two cards, as ``{"field", "old", "new"}``, sorted by field."""
    if not old:
        return []
    before, after = _flatten(old), _flatten(new)
    changes = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            changes.append({"field": key, "old": before.get(key), "new": after.get(key)})
    return changes


def format_value(value) -> str:
    """A value in a Markdown table: ``–`` for none, floats to 4 places."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def render_markdown(card: dict) -> str:
    """The card as Markdown for people."""
    m, data, ev = card["model"], card["training_data"], card["evaluation"]
    lines = [
        f"# Model card: {m['id']}",
        "",
        f"Status: **{m['status']}** · type: {m['model_type']} · threshold: {format_value(m['threshold'])} · "
        f"created {m['created_at']}",
        "",
        "## Intended use",
        "",
        card["intended_use"],
        "",
        "## Out-of-scope uses",
        "",
    ]
    lines += [f"- {u}" for u in card["out_of_scope_uses"]]
    lines += [
        "",
        "## Training data",
        "",
        f"- Training window: {data['train_window']} ({data['train_rows']} rows, fraud rate "
        f"{format_value(data['positive_rate'])})",
        f"- Holdout window: {data['holdout_window']} ({data['holdout_rows']} rows)",
        f"- Features: {', '.join(data['features'] or [])}",
        "- Lineage: "
        + json.dumps(
            {k: v for k, v in data["lineage"].items() if k != "training_days"}, default=str
        ),
        *_training_days_table(data["lineage"].get("training_days") or []),
        "",
        "## Evaluation",
        "",
        f"Primary metric: {ev['primary_metric']} · holdout rows {ev['rows']}, "
        f"fraud cases {ev['positives']}",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    lines += [f"| {k} | {format_value(v)} |" for k, v in ev["headline"].items()]
    lines += [
        "",
        "### Slice parity",
        "",
        "| slice column | AUROC gap | worst | best | slices measured |",
        "| --- | --- | --- | --- | --- |",
    ]
    for column, gap in ev["slice_parity"].items():
        lines.append(
            f"| {column} | {format_value(gap.get('gap'))} | {gap.get('worst', '–')} ({format_value(gap.get('worst_value'))}) | "
            f"{gap.get('best', '–')} ({format_value(gap.get('best_value'))}) | {gap.get('measured_slices')} |"
        )
    if ev.get("onnx_parity"):
        lines += [
            "",
            f"ONNX parity: max |Δp| {format_value(ev['onnx_parity'].get('max_abs_diff'))} over "
            f"{ev['onnx_parity'].get('rows')} rows",
        ]
    drift = card["drift_vs_previous"]
    lines += ["", "## Change vs previous version", ""]
    if drift["previous_version"] is None:
        lines.append("First version: nothing to compare.")
    else:
        lines.append(
            f"Compared with v{drift['previous_version']}: {drift['summary'] or 'no metric change'}"
        )
        lines += ["", "| metric | previous | current | change |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {k} | {format_value(v['previous'])} | {format_value(v['current'])} | {v['text'].split(' ', 1)[1]} |"
            for k, v in drift["metrics"].items()
        ]
    if card.get("data_drift"):
        lines += [
            "",
            f"Data drift vs training reference: {json.dumps(card['data_drift'], default=str)}",
        ]
    if card.get("gate"):
        lines += ["", "## Promotion gate", "", f"Passed: {card['gate']['passed']}", ""]
        lines += [f"- {r}" for r in card["gate"]["reasons"]]
    lines += ["", "## Known limitations", ""] + [f"- {x}" for x in card["known_limitations"]]
    lines += ["", "## Approvals", ""]
    lines += [_approval_line(a) for a in card["approvals"]] or [
        "None yet: this card has not been signed."
    ]
    if card.get("drafted"):
        lines += ["", "## Drafted prose (not verified)", ""]
        lines += [
            f"- {k} (drafted by {v.get('drafted_by')}): {v.get('text')}"
            for k, v in card["drafted"].items()
        ]
    lines += ["", "## Changes since the previous card", ""]
    diff = card.get("diff_vs_previous_card") or []
    if not diff:
        lines.append("No previous card.")
    else:
        lines += ["| field | previous | current |", "| --- | --- | --- |"]
        lines += [
            f"| {d['field']} | {format_value(d['old'])[:80]} | {format_value(d['new'])[:80]} |"
            for d in diff[:60]
        ]
    return "\n".join(lines) + "\n"
