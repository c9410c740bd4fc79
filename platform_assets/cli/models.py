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
            }
        )
    corrupt_champion = any(r["integrity"] != "ok" and "champion" in r["aliases"] for r in rows)
    arm = _current_arm(registry)
    if as_json:
        click.echo(
            json.dumps(
                {"aliases": aliases, "arm": arm.to_dict() if arm else None, "versions": rows},
                indent=2,
                default=str,
            )
        )
        sys.exit(EXIT_FAILED if corrupt_champion else EXIT_OK)
    if not rows:
        click.echo("no model versions yet: materialize model/fraud_model (platform-assets run)")
        return
    if arm is not None:
        share = f"{arm.percent:g}% of traffic" if arm.mode == "canary" else "every request"
        click.echo(
            f"arm: {arm.mode} {registry.model_name}:v{arm.version} on {share}, started by "
            f"{arm.actor} at {arm.at}"
        )
    for row in rows:
        headline = [k for k in ("pr_auc", "auroc", "precision", "recall") if k in row["metrics"]]
        metrics = ", ".join(f"{k} {row['metrics'][k]:.4f}" for k in headline)
        tags = f" [{', '.join(row['aliases'])}]" if row["aliases"] else ""
        click.echo(f"{row['id']}{tags}  {metrics}  window {row['data_window']}")
        if row["integrity"] != "ok":
            click.echo(f"  CORRUPT: {row['integrity']}")
    if corrupt_champion:
        click.echo(
            "the champion's files fail their checksum: roll back (platform-assets models rollback) or "
            "promote another version",
            err=True,
        )
    sys.exit(EXIT_FAILED if corrupt_champion else EXIT_OK)


@models.command("promote")
@click.argument("version")
def models_promote(version: str) -> None:
    """Make VERSION (fraud_model:v2, v2 or 2) the champion, only if it passes the
    champion/challenger gate.

    Exits 0 when promoted, 1 when the gate blocks it, 2 when the version does not exist.
    """
    registry = _registry()
    number = _version_number(version)
    if number not in registry.versions():
        fail_usage(f"no version {version}; the registry has {registry.versions() or 'none'}")
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


def _current_arm(registry):
    from platform_assets.core.registry.arms import current_arm

    return current_arm(registry)


@models.command("canary")
@click.argument("version", required=False)
@click.option("--percent", type=float, help="Share of transactions (0-100] the canary answers.")
@click.option("--shadow", is_flag=True, help="Score every request off the response path instead.")
@click.option("--stop", is_flag=True, help="Stop the running canary or shadow.")
@click.option("--by", "actor", default=None, help="Who starts or stops it (default: $USER).")
@click.option("--reason", default="", help="Why, for the registry's history.")
def models_canary(
    version: str | None,
    percent: float | None,
    shadow: bool,
    stop: bool,
    actor: str | None,
    reason: str,
) -> None:
    """Run VERSION beside the champion: a canary on --percent P % of transactions (chosen by a
    hash of transaction_id), or a --shadow that scores every request without answering; or
    --stop it. A running ``serve`` picks the change up within seconds.

    Exits 0 when done, 1 when the registry refuses (no passing ONNX parity check, corrupted
    files, the champion itself), 2 for a usage error.
    """
    import getpass

    from platform_assets.core.registry.arms import CANARY, SHADOW, start_arm, stop_arm

    registry = _registry()
    who = actor or getpass.getuser()
    if stop:
        if version or percent is not None or shadow:
            fail_usage("--stop takes no VERSION, --percent or --shadow")
        stopped = stop_arm(registry, actor=who, reason=reason or "stopped from the CLI")
        click.echo(
            "no canary or shadow was running"
            if stopped is None
            else f"stopped the {stopped.mode} of {registry.model_name}:v{stopped.version}"
        )
        return
    if version is None:
        fail_usage("give the VERSION to run (fraud_model:v2, v2 or 2), or --stop")
    if shadow == (percent is not None):
        fail_usage("give either --percent P (a canary) or --shadow")
    number = _version_number(str(version))
    if number not in registry.versions():
        fail_usage(f"no version {version}; the registry has {registry.versions() or 'none'}")
    try:
        arm = start_arm(
            registry,
            number,
            SHADOW if shadow else CANARY,
            percent=percent or 0.0,
            actor=who,
            reason=reason,
        )
    except _registry_errors() as exc:
        click.echo(f"not started: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    share = f"{arm.percent:g}% of transactions" if arm.mode == CANARY else "every request (shadow)"
    click.echo(f"{registry.model_name}:v{arm.version} now takes {share}; recorded by {who}")
