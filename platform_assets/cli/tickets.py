"""Triage tickets from the shell: ``tickets list``, ``tickets show ID``, ``tickets approve ID --by
NAME``.

A ticket is written for every failed run (and every training run with anomalous metrics).
Its recommended runbook runs by itself only when the allow-list says so (``safe_to_automate``
and two different reviewers); otherwise a person runs it and records that here with
``approve``, so the ticket says who did it, not just that the sensor skipped it.

Exit codes: 0 success; 1 the ticket's runbook is no longer on the allow-list (nothing to
approve); 2 a usage error (unknown ticket, empty name).
"""

from __future__ import annotations

import json
import sys

import click

from platform_assets.cli.common import EXIT_FAILED, EXIT_OK, fail_usage


def _warehouse_path():
    from platform_assets.core.settings import Settings

    return Settings.from_env().warehouse


def _with_status(conn, ticket: dict) -> dict:
    from platform_assets.core.operations.triage import actions, ticket_status

    history = actions(conn, ticket["ticket_id"])
    return {**ticket, "status": ticket_status(ticket, history), "actions": history}


def _all_tickets() -> list[dict]:
    from platform_assets.core import warehouse
    from platform_assets.core.operations.triage import tickets as read_tickets

    path = _warehouse_path()
    if not warehouse.exists(path):
        return []
    with warehouse.session(path, read_only=True) as conn:
        return [_with_status(conn, t) for t in read_tickets(conn)]


def _find(ticket_id: str) -> dict:
    for ticket in _all_tickets():
        if ticket["ticket_id"] == ticket_id:
            return ticket
    fail_usage(f"no ticket {ticket_id!r}: `platform-assets tickets list` shows the tickets")
    return {}


def _json(value) -> str:
    return json.dumps(value, indent=2, default=str)


@click.group()
def tickets() -> None:
    """Triage tickets: failed runs and anomalous training runs, and who acted on them."""


@tickets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the tickets as JSON.")
def tickets_list(as_json: bool) -> None:
    """Every ticket, newest first, with its status (needs_person, approved, automated, open)."""
    found = _all_tickets()
    if as_json:
        click.echo(_json(found))
        sys.exit(EXIT_OK)
    if not found:
        click.echo("no tickets")
        sys.exit(EXIT_OK)
    for t in found:
        click.echo(
            f"{t['ticket_id']}  {str(t['created_at'])[:19]}  {t['job_name']}  {t['pattern']} → "
            f"{t['recommended_action']}  [{t['status']}]"
        )
    waiting = sum(t["status"] == "needs_person" for t in found)
    if waiting:
        click.echo(f"\n{waiting} ticket(s) wait for a person: platform-assets tickets show ID")
    sys.exit(EXIT_OK)


@tickets.command("show")
@click.argument("ticket_id")
@click.option("--json", "as_json", is_flag=True, help="Print the ticket as JSON.")
def tickets_show(ticket_id: str, as_json: bool) -> None:
    """One ticket: cause, evidence, runbook, and every action taken on it."""
    from platform_assets.core.operations.triage import default_allowlist_path

    t = _find(ticket_id)
    if as_json:
        click.echo(_json(t))
        sys.exit(EXIT_OK)
    click.echo(f"{t['ticket_id']} [{t['status']}]: run {t['run_id']} of {t['job_name']}")
    click.echo(
        "pattern: "
        f"{t['pattern']}{' (drafted by ' + t['drafted_by'] + ')' if t.get('drafted_by') else ''}"
    )
    click.echo(f"probable cause: {t['probable_cause']}")
    click.echo(
        f"runbook: {t['recommended_action']} "
        f"({default_allowlist_path().parent / (t['recommended_action'] + '.md')})"
    )
    click.echo("evidence:")
    for line in t["evidence"][:12]:
        click.echo(f"  - {line}")
    if t["similar_runs"]:
        click.echo(f"similar earlier failures: {', '.join(t['similar_runs'])}")
    click.echo("actions:")
    for a in t["actions"] or [
        {"runbook": "-", "status": "none yet", "detail": "", "actor": None, "acted_at": ""}
    ]:
        who = f" by {a['actor']}" if a.get("actor") else ""
        click.echo(
            f"  {str(a['acted_at'])[:19]}  {a['runbook']}: {a['status']}{who}  {a['detail'] or ''}"
        )
    if t["status"] == "needs_person":
        click.echo(
            f'\nonce you have run it: platform-assets tickets approve {t["ticket_id"]} --by "<your '
            'name>"'
        )
    sys.exit(EXIT_OK)


@tickets.command("approve")
@click.argument("ticket_id")
@click.option("--by", "by", required=True, help="Who approved and ran the runbook.")
@click.option("--json", "as_json", is_flag=True, help="Print the recorded approval as JSON.")
def tickets_approve(ticket_id: str, by: str, as_json: bool) -> None:
    """Record that NAME approved and ran the ticket's recommended runbook."""
    from platform_assets.core import warehouse
    from platform_assets.core.operations.triage import TicketNotFound, approve

    if not by.strip():
        fail_usage("--by needs the name of the person who approved the runbook")
    path = _warehouse_path()
    if not warehouse.exists(path):
        fail_usage(f"no ticket {ticket_id!r}: the warehouse {path} does not exist yet")
    try:
        with warehouse.session(path) as conn:
            recorded = approve(conn, ticket_id, by)
    except TicketNotFound:
        fail_usage(f"no ticket {ticket_id!r}: `platform-assets tickets list` shows the tickets")
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(_json(recorded) if as_json else f"{ticket_id}: {recorded['detail']}")
    sys.exit(EXIT_OK)
