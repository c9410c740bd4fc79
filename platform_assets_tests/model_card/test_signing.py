"""A person signs a model card: ``platform-assets models sign`` records who, when, the note
and the card's SHA-256, shows it in the card and in ``models list``, and, when a signed card
is required, nothing becomes champion before it is signed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from platform_assets.core.model_card.publish import CARD_JSON, card_for_version, publish_card
from platform_assets.core.model_card.signing import signed_card
from platform_assets.core.registry import ModelRegistry, registry_for
from platform_assets.core.registry.candidates import promote_if_better
from platform_assets_tests.cli.test_cli import run_cli
from platform_assets_tests.support.models import identity_onnx

METRICS = {"auroc": 0.85, "pr_auc": 0.2, "slices": []}


def _version_with_card(home: Path, tag: str = "") -> tuple[ModelRegistry, int]:
    registry = registry_for(str(home / "artifacts" / "registry"))
    version = registry.register(
        {"model.onnx": identity_onnx(tag)},
        config={},
        threshold=0.5,
        data_window={"train": ["2026-03-01", "2026-03-05"]},
        metrics=METRICS,
        lineage={},
    )
    card = card_for_version(registry, version)
    publish_card(registry, version, card, home / "artifacts" / "model_cards")
    return registry, version.version


def test_a_signed_card_shows_who_when_and_its_hash(tmp_path):
    home = tmp_path / "home"
    env = {"PLATFORM_ASSETS_HOME": str(home), "DAGSTER_HOME": str(tmp_path / "dagster")}
    registry, number = _version_with_card(home)
    reviewed = hashlib.sha256(registry.read_file(number, CARD_JSON)).hexdigest()
    listed = run_cli("models", "list", env=env)
    assert "card: not signed" in listed.stdout, listed.stdout + listed.stderr

    signed = run_cli("models", "sign", "v1", "--by", "Ada Lovelace", "--note", "read it", env=env)
    assert signed.returncode == 0, signed.stderr
    assert "fraud_model:v1: card signed by Ada Lovelace at " in signed.stdout
    assert reviewed in signed.stdout
    signature = signed_card(registry, number)
    assert signature is not None and signature["card_sha256"] == reviewed
    card = json.loads(registry.read_file(number, CARD_JSON))
    [approval] = card["approvals"]
    assert (approval["name"], approval["note"], approval["card_sha256"]) == (
        "Ada Lovelace",
        "read it",
        reviewed,
    )
    markdown = registry.read_file(number, "model_card.md").decode()
    assert f"- Ada Lovelace (signed), {approval['at']}, card sha256 {reviewed[:16]}" in markdown
    listed = run_cli("models", "list", env=env)
    assert "card: signed by Ada Lovelace at " in listed.stdout and "(read it)" in listed.stdout

    # The UI: the signature is an observation of model/model_card (its metadata).
    ui = run_cli("models", "sign", "1", "--by", "  ", env=env)  # an empty name is a usage error
    assert ui.returncode == 2 and "the signer's name is empty" in ui.stderr
    # A card published again is a new card: unsigned until someone signs it.
    publish_card(
        registry, registry.get(number), card_for_version(registry, registry.get(number)), home / "c"
    )
    assert signed_card(registry, number) is None


def test_a_version_without_a_card_cannot_be_signed(tmp_path):
    home = tmp_path / "home"
    registry = registry_for(str(home / "artifacts" / "registry"))
    registry.register(
        {"model.onnx": identity_onnx()},
        config={},
        threshold=0.5,
        data_window={},
        metrics=METRICS,
        lineage={},
    )
    env = {"PLATFORM_ASSETS_HOME": str(home), "DAGSTER_HOME": str(tmp_path / "dagster")}
    result = run_cli("models", "sign", "1", "--by", "Ada", env=env)
    assert result.returncode == 1 and "v1 has no model card yet" in result.stderr
    assert run_cli("models", "sign", "7", "--by", "Ada", env=env).returncode == 2


def test_a_required_signature_holds_the_promotion_until_the_card_is_signed(tmp_path):
    home = tmp_path / "home"
    env = {
        "PLATFORM_ASSETS_HOME": str(home),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "PLATFORM_ASSETS_REQUIRE_SIGNED_CARD": "1",
    }
    registry, number = _version_with_card(home)
    held = promote_if_better(registry, number, {"champion": None}, actor="gate", hold="sign first")
    assert held.passed and held.reasons[-1] == "passed the gate, not promoted yet: sign first"
    assert registry.champion() is None
    refused = run_cli("models", "promote", "1", env=env)
    assert refused.returncode == 1 and "v1's model card is not signed" in refused.stderr
    assert registry.champion() is None
    assert run_cli("models", "sign", "1", "--by", "Ada", env=env).returncode == 0
    promoted = run_cli("models", "promote", "1", env=env)
    assert promoted.returncode == 0, promoted.stderr
    champion = registry.champion()
    assert champion is not None and champion.version == 1
    bad = run_cli(
        "models", "promote", "1", env={**env, "PLATFORM_ASSETS_REQUIRE_SIGNED_CARD": "maybe"}
    )
    assert bad.returncode != 0 and "PLATFORM_ASSETS_REQUIRE_SIGNED_CARD='maybe'" in bad.stderr
