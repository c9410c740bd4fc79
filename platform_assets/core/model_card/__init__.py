"""Model cards (JSON + Markdown) in NIST AI RMF terms, built from registry facts."""

from platform_assets.core.model_card.card import (
    add_drafted_text,
    approve,
    build_model_card,
    diff_cards,
    metric_drift,
    render_markdown,
)

__all__ = [
    "add_drafted_text",
    "approve",
    "build_model_card",
    "diff_cards",
    "metric_drift",
    "render_markdown",
]
