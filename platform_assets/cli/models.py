"""``platform-assets models``: versions, champion/challenger, promotion, rollback, cards."""

from __future__ import annotations

import json
import sys

import click

from platform_assets.cli.common import EXIT_FAILED, EXIT_OK, fail_usage


@click.group()
def models() -> None:
    """The model registry: versions, the champion/challenger aliases, promotion, rollback, cards."""


def _registry():
    from platform_assets.core.registry import registry_for
    from platform_assets.core.settings import Settings

    return registry_for(Settings.from_env().registry_url)


def _registry_errors():
    from platform_assets.core.registry import RegistryError

    return RegistryError


def _version_number(text: str) -> int:
    """A version as ``models list`` prints it (``fraud_model:v2``), or ``v2``, or ``2``."""
    number = text.rsplit(":", 1)[-1].removeprefix("v")
    if not number.isdigit():
        fail_usage(
            f"{text!r} is not a model version; write it as models list prints it (fraud_model:v2), "
            f"v2 or 2"
        )
    return int(number)


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
def models_list(as_json: bool) -> None:
    """Every version with its aliases, metrics, data window and file integrity.

    Exits 1 when the champion's files fail their checksum."""
    registry = _registry()
    aliases = registry.aliases()
    rows = []
    for number in registry.versions():
        version = registry.get(number)
        rows.append(
            {
                "id": version.id,
                "version": number,
                "aliases": sorted(name for name, v in aliases.items() if v == number),
                "created_at": version.record.get("created_at"),
                "data_window": version.record.get("data_window"),
                "metrics": {k: v for k, v in version.metrics.items() if isinstance(v, int | float)},
                "integrity": registry.integrity_problem(number) or "ok",
                "signed": _signature_line(registry, number),
            }
        )
    corrupt_champion = any(r["integrity"] != "ok" and "champion" in r["aliases"] for r in rows)
    if as_json:
        click.echo(json.dumps({"aliases": aliases, "versions": rows}, indent=2, default=str))
        sys.exit(EXIT_FAILED if corrupt_champion else EXIT_OK)
    if not rows:
        click.echo("no model versions yet: materialize model/fraud_model (platform-assets run)")
        return
    for row in rows:
        headline = [k for k in ("pr_auc", "auroc", "precision", "recall") if k in row["metrics"]]
        metrics = ", ".join(f"{k} {row['metrics'][k]:.4f}" for k in headline)
        tags = f" [{', '.join(row['aliases'])}]" if row["aliases"] else ""
        click.echo(f"{row['id']}{tags}  {metrics}  window {row['data_window']}")
        click.echo(f"  card: {row['signed']}")
        if row["integrity"] != "ok":
            click.echo(f"  CORRUPT: {row['integrity']}")
    if corrupt_champion:
        click.echo(
            "the champion's files fail their checksum: roll back (platform-assets models rollback) or "
            "promote another version",
            err=True,
        )
    sys.exit(EXIT_FAILED if corrupt_champion else EXIT_OK)


def _signature_line(registry, number: int) -> str:
    from platform_assets.core.model_card.signing import signed_card

    try:
        signature = signed_card(registry, number)
    except _registry_errors() as exc:
        return f"signature unreadable: {exc}"
    if signature is None:
        return "not signed"
    return f"signed by {signature['by']} at {signature['at']}" + (
        f" ({signature['note']})" if signature.get("note") else ""
    )


@models.command("sign")
@click.argument("version")
@click.option("--by", "by", required=True, help="Who signs: the person who reviewed the card.")
@click.option("--note", default=None, help="What the signer wants on record (one line).")
def models_sign(version: str, by: str, note: str | None) -> None:
    """Sign VERSION's model card (fraud_model:v2, v2 or 2): records who, when, the note and the
    SHA-256 of the card as read, in the card and in the registry.

    Exits 0 when signed, 1 when the version has no card (or it fails its checksum), 2 for a
    version that does not exist or an empty name."""
    from platform_assets.core.model_card.signing import SigningError, sign_card

    registry = _registry()
    number = _version_number(version)
    if number not in registry.versions():
        fail_usage(f"no version {version}; the registry has {registry.versions() or 'none'}")
    try:
        signature = sign_card(registry, number, by, note)
    except SigningError as exc:
        if "no model card yet" not in str(exc):
            fail_usage(f"not signed: {exc}")
        click.echo(f"not signed: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except _registry_errors() as exc:
        click.echo(f"not signed: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    _record_in_ui(signature)
    click.echo(
        f"{registry.get(number).id}: card signed by {signature['by']} at {signature['at']} "
        f"(card sha256 {signature['card_sha256']})"
    )


def _record_in_ui(signature: dict) -> None:
    """The signature as an observation of model/model_card: the UI shows it in the asset's
    metadata. Best effort: the registry holds the signature whatever the instance does."""
    import dagster as dg

    from platform_assets.defs.keys import MODEL_CARD
    from platform_assets.runner import get_instance

    try:
        get_instance().report_runless_asset_event(
            dg.AssetObservation(
                asset_key=MODEL_CARD,
                metadata={
                    "signed": f"v{signature['version']} signed by {signature['by']} at "
                    f"{signature['at']}",
                    "signed_card_sha256": signature["card_sha256"],
                    "signature_note": signature.get("note") or "",
                },
            )
        )
    except Exception as exc:  # the UI record is a copy; say so, do not fail the signature
        click.echo(f"note: the signature is not shown in the UI: {exc}", err=True)


@models.command("promote")
@click.argument("version")
def models_promote(version: str) -> None:
    """Make VERSION (fraud_model:v2, v2 or 2) the champion, only if it passes the
    champion/challenger gate (and, with PLATFORM_ASSETS_REQUIRE_SIGNED_CARD, only once its
    card is signed).

    Exits 0 when promoted, 1 when the gate blocks it, 2 when the version does not exist.
    """
    from platform_assets.core.model_card.signing import unsigned_reason
    from platform_assets.core.settings import Settings

    registry = _registry()
    number = _version_number(version)
    if number not in registry.versions():
        fail_usage(f"no version {version}; the registry has {registry.versions() or 'none'}")
    if Settings.from_env().require_signed_card:
        reason = unsigned_reason(registry, number)
        if reason is not None:
            click.echo(f"not promoted: {reason}", err=True)
            sys.exit(EXIT_FAILED)
    try:
        decision = registry.promote_if_passes(number, actor="cli")
    except _registry_errors() as exc:
        click.echo(f"not promoted: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(decision.markdown())
    sys.exit(EXIT_OK if decision.passed else EXIT_FAILED)


@models.command("rollback")
@click.option("--reason", default="manual rollback", show_default=True)
def models_rollback(reason: str) -> None:
    """Put the previous champion back, in one call. Exits 1 when there is none."""
    try:
        restored = _registry().rollback(reason=reason, actor="cli")
    except _registry_errors() as exc:
        click.echo(f"not rolled back: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"champion is now {restored.id}")


@models.command("card")
@click.option(
    "--alias", type=click.Choice(["champion", "challenger"]), default="champion", show_default=True
)
@click.option("--version", help="A version (fraud_model:v2, v2 or 2) instead of an alias.")
@click.option("--json", "as_json", is_flag=True, help="The card as JSON instead of Markdown.")
def models_card(alias: str, version: str | None, as_json: bool) -> None:
    """Print the model card of the champion (or --alias / --version).

    The card is stored as it was written; a line says when the version's aliases have
    changed since, and the command exits 1 when the version's files fail their checksum."""
    registry = _registry()
    if version is None:
        found = registry.alias(alias)
        if found is None:
            click.echo(
                f"no {alias} yet: materialize the model assets (platform-assets run)", err=True
            )
            sys.exit(EXIT_FAILED)
        number = found.version
    else:
        number = _version_number(version)
        if number not in registry.versions():
            fail_usage(f"no version {version}; the registry has {registry.versions() or 'none'}")
    name = "model_card.json" if as_json else "model_card.md"
    try:
        card = registry.read_file(number, name).decode()
    except _registry_errors() as exc:
        click.echo(f"no card for v{number} ({exc}): materialize model/model_card", err=True)
        sys.exit(EXIT_FAILED)
    current = sorted(a for a, v in registry.aliases().items() if v == number)
    try:
        stored = json.loads(card if as_json else registry.read_file(number, "model_card.json"))
    except _registry_errors():
        stored = {}
    written_as = stored.get("model", {}).get("status")
    if as_json:
        card = json.dumps({**stored, "current_aliases": current}, indent=2, default=str)
    click.echo(card)
    if written_as and written_as not in current:
        click.echo(
            f"note: this card was written when v{number} was {written_as}; its aliases now: "
            f"{', '.join(current) or 'none'}",
            err=True,
        )
    problem = registry.integrity_problem(number)
    if problem:
        click.echo(f"CORRUPT: {problem}", err=True)
        sys.exit(EXIT_FAILED)


@models.command("notes")
@click.argument("version", required=False)
@click.option("--json", "as_json", is_flag=True, help="The notes as JSON instead of Markdown.")
def models_notes(version: str | None, as_json: bool) -> None:
    """Print the release notes of VERSION's promotion (default: the champion): config, data
    window and metric changes, eval cases newly passing or failing, the card's diff, who
    approved. Notes stored with the version are printed as written; otherwise they are built
    now from the registry (facts only) and not stored. Exits 1 when there is no such version."""
    from platform_assets.core.model_card.release_notes import (
        NOTES_JSON,
        build_release_notes,
        render_markdown,
    )

    registry = _registry()
    if version is None:
        found = registry.champion()
        if found is None:
            click.echo(
                "no champion yet: materialize the model assets (platform-assets run)", err=True
            )
            sys.exit(EXIT_FAILED)
    else:
        number = _version_number(version)
        if number not in registry.versions():
            fail_usage(f"no version {version}; the registry has {registry.versions() or 'none'}")
        found = registry.get(number)
    try:
        notes = json.loads(registry.read_file(found.version, NOTES_JSON))
        stored = True
    except _registry_errors():
        notes, stored = build_release_notes(registry, found), False
    click.echo(json.dumps(notes, indent=2, default=str) if as_json else render_markdown(notes))
    if not stored:
        click.echo(
            f"note: v{found.version} has no stored release notes; these were built now from the registry",
            err=True,
        )
