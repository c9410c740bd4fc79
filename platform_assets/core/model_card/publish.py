"""The card of a registered version: gathered from the registry, written next to the model.

:func:`card_for_version` collects what the card is built from (the version's record, the
version it was compared with and that version's card, the gate decision recorded in the
candidate folder); :func:`publish_card` attaches the card to the version in the registry
and writes a copy under the artifacts folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from platform_assets.core.model_card.card import build_model_card, render_markdown
from platform_assets.core.registry import ModelRegistry, ModelVersion, RegistryError

CARD_JSON = "model_card.json"
CARD_MARKDOWN = "model_card.md"


def _previous_card(registry: ModelRegistry, previous: ModelVersion | None) -> dict | None:
    if previous is None:
        return None
    try:
        return json.loads(registry.read_file(previous.version, CARD_JSON))
    except RegistryError:
        return None


def _gate_decision(version: ModelVersion) -> dict | None:
    candidate_dir = version.record.get("lineage", {}).get("candidate_dir")
    if not candidate_dir:
        return None
    gate_file = Path(candidate_dir) / "gate.json"
    return json.loads(gate_file.read_text()) if gate_file.is_file() else None


def card_for_version(
    registry: ModelRegistry, version: ModelVersion, *, drift: dict | None = None
) -> dict:
    """The card of ``version`` (status from the current aliases), diffed against the card of
    the version it was compared with. ``drift`` is the latest feature-drift summary, if any."""
    status = "champion" if registry.aliases()["champion"] == version.version else "challenger"
    previous, _ = registry.compared_versions()
    if previous is not None and previous.version == version.version:
        previous = None
    previous_record = None if previous is None else previous.record
    same_rows = (
        None
        if previous is None
        else registry.champion_on_holdout(version.version, previous.version)
    )
    if previous_record is not None and same_rows:
        # The change against the version it was compared with, on the same holdout rows (the
        # numbers the gate judged), not against that version's own holdout.
        previous_record = {**previous_record, "metrics": same_rows}
    return build_model_card(
        version.record,
        status=status,
        previous_record=previous_record,
        previous_card=_previous_card(registry, previous),
        gate_decision=_gate_decision(version),
        drift=drift,
    )


@dataclass(frozen=True)
class PublishedCard:
    json_path: Path
    markdown_path: Path
    markdown: str


def publish_card(
    registry: ModelRegistry, version: ModelVersion, card: dict, out_dir: Path
) -> PublishedCard:
    """Attach ``card`` (JSON and Markdown) to ``version`` and write both to ``out_dir``."""
    markdown = render_markdown(card)
    card_json = json.dumps(card, indent=2, default=str)
    registry.attach(version.version, CARD_JSON, card_json.encode())
    registry.attach(version.version, CARD_MARKDOWN, markdown.encode())
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{version.model_name}_v{version.version:04d}"
    json_path, markdown_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(card_json)
    markdown_path.write_text(markdown)
    return PublishedCard(json_path, markdown_path, markdown)
