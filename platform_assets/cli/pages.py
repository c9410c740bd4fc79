"""Pages from the shell: ``pages list``, ``pages show ID``, ``pages respond ID``,
``pages ack ID --by NAME``, ``pages resolve ID --by NAME`` (each with ``--json``).

Every alert opens a page (or joins the open one when it repeats); the ``respond_to_pages``
sensor answers new pages by itself, and ``respond`` does the same from here: the responder
investigates with its read-only tools, runs an approved runbook or escalates with the evidence.

Exit codes: 0 success; 1 the page was escalated by ``respond`` (a person is needed); 2 a usage
error (unknown page, empty name, a transition the page's state does not allow).
"""

from __future__ import annotations

import json
import sys

import click

from platform_assets.cli.common import EXIT_FAILED, EXIT_OK, fail_usage


def _safe(value: object) -> str:
    """Text from alerts and logs, without the control characters a terminal would obey."""
    from platform_assets.core.redaction import terminal_safe

    return terminal_safe(str(value))


def _json(value) -> str:
    return _safe(json.dumps(value, indent=2, default=str))


def _warehouse_path():
    from platform_assets.core.settings import Settings

    return Settings.from_env().warehouse


def _read(fn):
    from platform_assets.core import warehouse

    path = _warehouse_path()
    if not warehouse.exists(path):
        return fn(None)
    with warehouse.session(path, read_only=True) as conn:
        return fn(conn)


def _write(fn):
    from platform_assets.core import warehouse

    with warehouse.session(_warehouse_path()) as conn:
        return fn(conn)


def _page_or_usage(conn, page_id: str) -> dict:
    from platform_assets.core.operations.pages import PageNotFound, get_page

    try:
        if conn is None:
            raise PageNotFound(page_id)
        return get_page(conn, page_id)
    except PageNotFound:
        fail_usage(f"no page {page_id!r}: `platform-assets pages list` shows the pages")


@click.group()
def pages() -> None:
    """Pages: every alert, who answers it, what was found and done."""


@pages.command("list")
@click.option("--state", default=None, help="Only pages in this state (open, escalated, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the pages as JSON.")
def pages_list(state: str | None, as_json: bool) -> None:
    """Every page, newest first, with its state."""
    from platform_assets.core.operations.pages import STATES, list_pages

    if state is not None and state not in STATES:
        fail_usage(f"--state {state!r}: one of {', '.join(STATES)}")
    found = _read(lambda conn: [] if conn is None else list_pages(conn, state=state))
    if as_json:
        click.echo(_json(found))
        sys.exit(EXIT_OK)
    if not found:
        click.echo("no pages")
        sys.exit(EXIT_OK)
    for p in found:
        who = f" acked by {p['acked_by']}" if p.get("acked_by") else ""
        click.echo(
            _safe(
                f"{p['page_id']}  {str(p['opened_at'])[:19]}  [{p['state']}]  {p['kind']}  "
                f"x{p['alert_count']}  {p['title'][:100]}{who}"
            )
        )
    sys.exit(EXIT_OK)


def _print_page(p: dict) -> None:
    click.echo(_safe(f"{p['page_id']} [{p['state']}] {p['kind']} · {p['subject']}"))
    click.echo(_safe(f"title: {p['title']}"))
    click.echo(_safe(f"summary: {p['summary']}"))
    click.echo(f"owner: {p['owner']} · runbook: {p['runbook']} · alerts: {p['alert_count']}")
    if p.get("probable_cause"):
        click.echo(_safe(f"probable cause: {p['probable_cause']}"))
        click.echo(f"recommended action: {p['recommended_action']} (by {p['responder']})")
        click.echo("evidence:")
        for line in (p.get("evidence") or [])[:12]:
            click.echo(_safe(f"  - {str(line)[:400]}"))
        click.echo("actions:")
        for a in p.get("actions") or []:
            click.echo(_safe(f"  {a['runbook']}: {a['status']}  {a['detail']}"))
    click.echo("history:")
    for e in p["events"]:
        who = f" by {e['actor']}" if e.get("actor") else ""
        click.echo(_safe(f"  {str(e['at'])[:19]}  {e['event']}{who}"))


@pages.command("show")
@click.argument("page_id")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
def pages_show(page_id: str, as_json: bool) -> None:
    """One page: its alerts, findings, actions and history."""
    page = _read(lambda conn: _page_or_usage(conn, page_id))
    if as_json:
        click.echo(_json(page))
    else:
        _print_page(page)
    sys.exit(EXIT_OK)


@pages.command("respond")
@click.argument("page_id")
@click.option("--json", "as_json", is_flag=True, help="Print the response as JSON.")
def pages_respond(page_id: str, as_json: bool) -> None:
    """Answer a page now (what the sensor does): investigate, act within the policy, or
    escalate. Exit 1 when it was escalated."""
    from platform_assets.defs.operations import respond_to_pages
    from platform_assets.defs.resources import initialized_resources

    resources = initialized_resources()

    def respond(conn):
        _page_or_usage(conn, page_id)
        return respond_to_pages(
            conn,
            instance=None,
            registry=resources["registry"],  # type: ignore[arg-type]
            claude=resources["claude"],  # type: ignore[arg-type]
            notifier=resources["notifier"],  # type: ignore[arg-type]
            page_ids=[page_id],
        )[0]

    response = _write(respond)
    if as_json:
        click.echo(_json(response.to_dict()))
    else:
        click.echo(_safe(f"{response.page_id} [{response.state}] by {response.responder}"))
        click.echo(_safe(f"probable cause: {response.probable_cause}"))
        click.echo(f"recommended action: {response.recommended_action}")
        for a in response.actions:
            click.echo(_safe(f"  {a['runbook']}: {a['status']}  {a['detail']}"))
    sys.exit(EXIT_FAILED if response.state == "escalated" else EXIT_OK)


def _person_action(page_id: str, by: str, as_json: bool, action) -> None:
    from platform_assets.core.operations.pages import PageStateError

    def run(conn):
        _page_or_usage(conn, page_id)
        try:
            return action(conn, page_id, by)
        except (PageStateError, ValueError) as exc:
            fail_usage(str(exc))

    page = _write(run)
    if as_json:
        click.echo(_json(page))
    else:
        _print_page(page)
    sys.exit(EXIT_OK)


@pages.command("ack")
@click.argument("page_id")
@click.option("--by", "by", required=True, help="Who has the page.")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
def pages_ack(page_id: str, by: str, as_json: bool) -> None:
    """Acknowledge a page: NAME has it."""
    from platform_assets.core.operations.pages import acknowledge

    _person_action(page_id, by, as_json, acknowledge)


@pages.command("resolve")
@click.argument("page_id")
@click.option("--by", "by", required=True, help="Who resolved it.")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
def pages_resolve(page_id: str, by: str, as_json: bool) -> None:
    """Resolve a page."""
    from platform_assets.core.operations.pages import resolve

    _person_action(page_id, by, as_json, resolve)
