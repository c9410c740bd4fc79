"""Pages: every alert opens a page, or joins the open one when it repeats.

A page is what a person on call answers. It lives in the warehouse (``platform.pages``, one row
per page, and ``platform.page_events``, everything that happened to it, oldest first) with its
state::

    open -> investigating -> mitigated | escalated -> resolved

- An alert about the same run as an unresolved page (a failed check, then the run's triage
  ticket), or of the same ``kind`` about the same ``subject`` (the asset, else the run's job,
  else the title), within :data:`JOIN_WINDOW` of the page's last alert, *joins* it
  (``alert_count`` goes up, an ``alert_joined`` event); otherwise it opens a new page.
- The responder (``core/operations/responder.py``) moves a page to ``investigating``, then to
  ``mitigated`` (an approved runbook ran) or ``escalated`` (a person is needed), with its
  findings: the three-field ticket and what was done.
- A person acknowledges (``ack``: who and when, no state change) and resolves (``resolved``).

Each transition is checked (:data:`TRANSITIONS`); a wrong one raises :class:`PageStateError`
naming the page, its state and the transition asked for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import duckdb

JOIN_WINDOW = dt.timedelta(hours=1)

OPEN, INVESTIGATING, MITIGATED, ESCALATED, RESOLVED = (
    "open",
    "investigating",
    "mitigated",
    "escalated",
    "resolved",
)
STATES = (OPEN, INVESTIGATING, MITIGATED, ESCALATED, RESOLVED)
# The states each state may move to.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    OPEN: (INVESTIGATING, ESCALATED, RESOLVED),
    INVESTIGATING: (MITIGATED, ESCALATED, RESOLVED),
    MITIGATED: (RESOLVED, ESCALATED),
    ESCALATED: (RESOLVED, MITIGATED),
    RESOLVED: (),
}

PAGES_DDL = """
CREATE SCHEMA IF NOT EXISTS platform;
CREATE TABLE IF NOT EXISTS platform.pages (
    page_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    owner VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    summary VARCHAR NOT NULL,
    runbook VARCHAR NOT NULL,
    run_id VARCHAR,
    state VARCHAR NOT NULL,
    alert_count INTEGER NOT NULL,
    first_alert_id VARCHAR NOT NULL,
    last_alert_id VARCHAR NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL,
    last_alert_at TIMESTAMPTZ NOT NULL,
    investigating_at TIMESTAMPTZ,
    mitigated_at TIMESTAMPTZ,
    escalated_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ,
    acked_by VARCHAR,
    acked_at TIMESTAMPTZ,
    resolved_by VARCHAR,
    probable_cause VARCHAR,
    evidence JSON,
    recommended_action VARCHAR,
    actions JSON,
    responder VARCHAR,
    details JSON NOT NULL
);
CREATE TABLE IF NOT EXISTS platform.page_events (
    page_id VARCHAR NOT NULL,
    event_at TIMESTAMPTZ NOT NULL,
    event VARCHAR NOT NULL,
    actor VARCHAR,
    detail JSON NOT NULL
);
"""


class PageNotFound(KeyError):
    pass


class PageStateError(ValueError):
    """A transition the page's state does not allow."""


@dataclass(frozen=True)
class PageRef:
    page_id: str
    joined: bool  # True when the alert joined an open page


def ensure_page_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(PAGES_DDL)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def subject_of(alert) -> str:
    """What an alert is about, for joining repeats: its asset, else its run's job (from the
    details), else its title."""
    details = alert.details or {}
    return str(alert.asset or details.get("subject") or details.get("job_name") or alert.title)


def record_event(
    conn: duckdb.DuckDBPyConnection,
    page_id: str,
    event: str,
    actor: str | None,
    detail: dict,
    at: dt.datetime | None = None,
) -> None:
    """Append one event to the page's history (``platform.page_events``)."""
    conn.execute(
        "INSERT INTO platform.page_events (page_id, event_at, event, actor, detail) "
        "VALUES (?, ?, ?, ?, ?)",
        [page_id, at or _now(), event, actor, json.dumps(detail, default=str)],
    )


def open_or_join(
    conn: duckdb.DuckDBPyConnection, alert, window: dt.timedelta = JOIN_WINDOW
) -> PageRef:
    """Open a page for ``alert`` (an :class:`~platform_assets.core.operations.alerts.Alert`),
    or join the unresolved page of the same kind and subject whose last alert is within
    ``window``."""
    ensure_page_tables(conn)
    subject = subject_of(alert)
    at = alert.created_at
    # One incident, one page: alerts about the same run (its failed check, then its triage
    # ticket) join the run's page whatever their kind; others join by kind and subject.
    found = conn.execute(
        "SELECT page_id FROM platform.pages WHERE state <> ? AND last_alert_at >= ? AND "
        "((? IS NOT NULL AND run_id = ?) OR (kind = ? AND subject = ?)) "
        "ORDER BY (run_id IS NOT DISTINCT FROM ?) DESC, last_alert_at DESC LIMIT 1",
        [RESOLVED, at - window, alert.run_id, alert.run_id, alert.kind, subject, alert.run_id],
    ).fetchall()
    if found:
        page_id = found[0][0]
        conn.execute(
            "UPDATE platform.pages SET alert_count = alert_count + 1, last_alert_id = ?, "
            "last_alert_at = greatest(last_alert_at, ?), summary = ? WHERE page_id = ?",
            [alert.alert_id, at, alert.summary, page_id],
        )
        record_event(conn, page_id, "alert_joined", None, {"alert_id": alert.alert_id}, at)
        return PageRef(page_id, True)
    page_id = "page-" + hashlib.sha1(f"{alert.alert_id}".encode()).hexdigest()[:10]
    conn.execute(
        "INSERT INTO platform.pages (page_id, kind, subject, severity, owner, title, summary, "
        "runbook, run_id, state, alert_count, first_alert_id, last_alert_id, opened_at, "
        "last_alert_at, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
        [
            page_id,
            alert.kind,
            subject,
            alert.severity,
            alert.owner,
            alert.title,
            alert.summary,
            alert.runbook,
            alert.run_id,
            OPEN,
            alert.alert_id,
            alert.alert_id,
            at,
            at,
            json.dumps(alert.details, default=str),
        ],
    )
    record_event(conn, page_id, "opened", None, {"alert_id": alert.alert_id}, at)
    return PageRef(page_id, False)


def _has_pages(conn: duckdb.DuckDBPyConnection) -> bool:
    # Readers work on read-only connections too: look, never create.
    return bool(
        conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = 'platform' "
            "AND table_name = 'pages'"
        ).fetchall()
    )


def _decode(row: dict) -> dict:
    for key in ("evidence", "actions", "details"):
        if row.get(key) is not None:
            row[key] = json.loads(row[key])
    return row


def list_pages(
    conn: duckdb.DuckDBPyConnection, state: str | None = None, limit: int = 100
) -> list[dict]:
    """Pages, newest first (optionally only those in ``state``)."""
    if not _has_pages(conn):
        return []
    where, params = ("WHERE state = ?", [state]) if state else ("", [])
    cursor = conn.execute(
        f"SELECT * FROM platform.pages {where} ORDER BY opened_at DESC, page_id LIMIT ?",
        [*params, limit],
    )
    columns = [d[0] for d in cursor.description]
    return [_decode(dict(zip(columns, row, strict=True))) for row in cursor.fetchall()]


def get_page(conn: duckdb.DuckDBPyConnection, page_id: str) -> dict:
    """One page with its events (``events``, oldest first). Raises :class:`PageNotFound`."""
    if not _has_pages(conn):
        raise PageNotFound(page_id)
    cursor = conn.execute("SELECT * FROM platform.pages WHERE page_id = ?", [page_id])
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    if not rows:
        raise PageNotFound(page_id)
    page = _decode(dict(zip(columns, rows[0], strict=True)))
    cursor = conn.execute(
        "SELECT event_at, event, actor, detail FROM platform.page_events WHERE page_id = ? "
        "ORDER BY event_at, event",
        [page_id],
    )
    page["events"] = [
        {"at": at, "event": event, "actor": actor, "detail": json.loads(detail)}
        for at, event, actor, detail in cursor.fetchall()
    ]
    return page


def transition(
    conn: duckdb.DuckDBPyConnection,
    page_id: str,
    to: str,
    actor: str | None = None,
    detail: dict | None = None,
) -> dict:
    """Move page ``page_id`` to state ``to`` (stamping ``<to>_at``), recording who and why.

    Raises:
        PageNotFound: no such page.
        PageStateError: the page's state does not allow ``to``.
    """
    page = get_page(conn, page_id)
    if to not in TRANSITIONS.get(page["state"], ()):
        raise PageStateError(
            f"page {page_id} is {page['state']}: it cannot become {to} (allowed: "
            f"{', '.join(TRANSITIONS[page['state']]) or 'nothing, it is resolved'})"
        )
    now = _now()
    extra = ", resolved_by = ?" if to == RESOLVED else ""
    params: list = [to, now] + ([actor] if to == RESOLVED else []) + [page_id]
    conn.execute(
        f"UPDATE platform.pages SET state = ?, {to}_at = ?{extra} WHERE page_id = ?", params
    )
    record_event(conn, page_id, to, actor, detail or {}, now)
    return get_page(conn, page_id)


def record_findings(
    conn: duckdb.DuckDBPyConnection,
    page_id: str,
    *,
    probable_cause: str,
    evidence: list[str],
    recommended_action: str,
    actions: list[dict],
    responder: str,
) -> None:
    """The responder's three-field ticket and what it did, on the page."""
    conn.execute(
        "UPDATE platform.pages SET probable_cause = ?, evidence = ?, recommended_action = ?, "
        "actions = ?, responder = ? WHERE page_id = ?",
        [
            probable_cause,
            json.dumps(evidence, default=str),
            recommended_action,
            json.dumps(actions, default=str),
            responder,
            page_id,
        ],
    )
    record_event(
        conn,
        page_id,
        "findings",
        responder,
        {"probable_cause": probable_cause, "recommended_action": recommended_action},
    )


def acknowledge(conn: duckdb.DuckDBPyConnection, page_id: str, by: str) -> dict:
    """Record that ``by`` has the page (its state does not change). Raises ValueError when
    ``by`` is empty, :class:`PageNotFound`, :class:`PageStateError` when it is resolved."""
    by = by.strip()
    if not by:
        raise ValueError("an acknowledgement needs the name of the person (--by NAME)")
    page = get_page(conn, page_id)
    if page["state"] == RESOLVED:
        raise PageStateError(f"page {page_id} is resolved: nothing to acknowledge")
    now = _now()
    conn.execute(
        "UPDATE platform.pages SET acked_by = ?, acked_at = ? WHERE page_id = ?",
        [by, now, page_id],
    )
    record_event(conn, page_id, "acknowledged", by, {}, now)
    return get_page(conn, page_id)


def resolve(conn: duckdb.DuckDBPyConnection, page_id: str, by: str) -> dict:
    """``by`` resolved the page. Raises ValueError when ``by`` is empty, :class:`PageNotFound`,
    :class:`PageStateError` when it is already resolved."""
    by = by.strip()
    if not by:
        raise ValueError("resolving a page needs the name of the person (--by NAME)")
    return transition(conn, page_id, RESOLVED, actor=by)


def time_to(page: dict, state: str) -> float | None:
    """Seconds from the page's opening to ``<state>_at`` (``None`` when it never got there)."""
    at = page.get(f"{state}_at")
    return None if at is None else (at - page["opened_at"]).total_seconds()
