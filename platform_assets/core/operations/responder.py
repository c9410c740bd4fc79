"""The responder: one loop for triage and on-call, over one set of tools.

A page (``core/operations/pages.py``) is answered by a *decider* using a :class:`Toolbox`:

- **read-only tools**: the page, the triage ticket of its run, the failed step's event log,
  recent runs of the job, quarantine summaries, the registry's history (promotions, rollbacks),
  similar tickets and pages of the last 30 days, and serving metrics when the deployment has
  them;
- **action tools**, one per allow-listed runbook that has an executor here (``retry_run``,
  ``rollback_champion``, ...). An action runs only when the policy allows it
  (:meth:`Toolbox.act`): the runbook is on ``runbooks/allowlist.yaml``, marked
  ``safe_to_automate`` and approved by two different reviewers, it *applies* to the page (the
  page's own runbook, its ticket's recommendation, or a runbook listed for the page's kind in
  :data:`RUNBOOKS_FOR_KIND`), and no other action ran on the page without a person. Otherwise
  it is only recommended. Every action is idempotent (a second call reports the first) and is
  recorded with the page.

Two deciders use the same tools, so with and without a key they differ in judgement, not in
reach: :func:`playbook` (deterministic, offline) decides from the structured fields only (the
page's kind and runbook, the ticket's pattern), never from free text; the Claude tool-use loop
(``core/operations/responder_claude.py``) reads everything but acts through the same policy.
Text that comes from data, logs or alerts is untrusted: no decider can turn it into an action
outside the policy.

The outcome is the three-field ticket (probable_cause, evidence, recommended_action) plus what
was done; the page becomes ``mitigated`` (an approved runbook ran) or ``escalated`` (then the
``escalate`` callback delivers it: the notifier's sinks, PagerDuty when configured).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from platform_assets.core.operations import pages as pg
from platform_assets.core.operations.triage import (
    FALLBACK_RUNBOOK,
    Runbook,
    tickets,
)
from platform_assets.core.operations.triage import (
    actions as ticket_actions,
)

SIMILAR_DAYS = 30
# Runbooks that apply to every page of a kind, besides the page's own runbook.
RUNBOOKS_FOR_KIND: dict[str, tuple[str, ...]] = {
    "serving_latency": ("rollback_champion", "stop_canary"),
    "canary_errors": ("stop_canary", "rollback_champion"),
    "prediction_anomaly": ("rollback_champion", "stop_canary"),
    "triage_ticket": ("collect_diagnostics",),
}
EXECUTED, ALREADY_DONE, RECOMMENDED, REFUSED, FAILED = (
    "executed",
    "already_done",
    "recommended",
    "refused",
    "failed",
)
MITIGATING = (EXECUTED, ALREADY_DONE)
# Runbooks that only gather evidence: they neither mitigate a page nor use up its one action.
DIAGNOSTIC_RUNBOOKS = frozenset({"collect_diagnostics"})


def mitigates(action: dict) -> bool:
    return action["status"] in MITIGATING and action["runbook"] not in DIAGNOSTIC_RUNBOOKS


@dataclass
class Sources:
    """What the deployment can tell the responder beyond the warehouse (each optional: a
    tool whose source is missing answers that it has none)."""

    recent_runs: Callable[[str], list[dict]] | None = None  # job name -> runs, newest first
    step_log: Callable[[str], list[dict]] | None = None  # run id -> event log of failed steps
    registry_history: Callable[[], list[dict]] | None = None
    serving_metrics: Callable[[], dict] | None = None  # the last 15 minutes, when serving runs


@dataclass
class ToolCall:
    tool: str
    ok: bool
    latency_ms: float
    turn: int
    error: str = ""


@dataclass
class Response:
    page_id: str
    state: str
    probable_cause: str
    evidence: list[str]
    recommended_action: str
    actions: list[dict]
    responder: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: dict
    kind: str  # "read" or "action"


def _schema(**properties: str) -> dict:
    return {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in properties.items()},
        "required": [],
    }


READ_TOOLS = (
    Tool(
        "get_page",
        "The page: kind, subject, title, summary, runbook, alerts so far.",
        _schema(),
        "read",
    ),
    Tool(
        "get_triage_ticket",
        "The triage ticket of the page's failed run: pattern, cause, evidence, recommendation.",
        _schema(),
        "read",
    ),
    Tool(
        "get_step_log",
        "The failed steps' event log of the page's run, with stdout and stderr lines.",
        _schema(),
        "read",
    ),
    Tool("recent_runs", "Recent runs of the page's job, newest first.", _schema(), "read"),
    Tool(
        "quarantine_summary",
        "Rows quarantined by partition and reason (the newest partitions).",
        _schema(),
        "read",
    ),
    Tool(
        "registry_history",
        "The model registry's recent promotions, rollbacks and canary changes.",
        _schema(),
        "read",
    ),
    Tool(
        "similar_incidents",
        "Tickets and pages of the last 30 days with the same kind or pattern.",
        _schema(),
        "read",
    ),
    Tool(
        "serving_metrics",
        "The scoring service's metrics of the last 15 minutes (latency, errors, canary).",
        _schema(),
        "read",
    ),
)


class Toolbox:
    """The tools over one page. ``executors`` map runbook names to callables that carry the
    runbook out for a page and return a one-line description of what they did."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        page_id: str,
        allowlist: dict[str, Runbook],
        executors: dict[str, Callable[[dict], str]] | None = None,
        sources: Sources | None = None,
        actor: str = "responder",
    ):
        self.conn = conn
        self.page_id = page_id
        self.allowlist = allowlist
        self.executors = executors or {}
        self.sources = sources or Sources()
        self.actor = actor
        self.calls: list[ToolCall] = []
        self.actions: list[dict] = []

    # -- what there is --------------------------------------------------------------------
    def page(self) -> dict:
        return pg.get_page(self.conn, self.page_id)

    def ticket(self) -> dict | None:
        page = self.page()
        ticket_id = (page.get("details") or {}).get("ticket_id")
        for ticket in tickets(self.conn):
            if ticket["ticket_id"] == ticket_id or (
                page.get("run_id") and ticket["run_id"] == page["run_id"]
            ):
                return ticket
        return None

    def applicable_runbooks(self) -> list[str]:
        """The runbooks that apply to this page: its own, its ticket's, its kind's."""
        page = self.page()
        names = [page["runbook"]]
        ticket = self.ticket()
        if ticket:
            names.append(ticket["recommended_action"])
        names += RUNBOOKS_FOR_KIND.get(page["kind"], ())
        return [n for n in dict.fromkeys(names) if n in self.allowlist]

    def tools(self) -> list[Tool]:
        """The read-only tools and one action tool per allow-listed runbook with an executor."""
        actions = [
            Tool(
                name,
                f"Runbook {name}: {self.allowlist[name].description} Runs only when the "
                "allow-list approves it for this page; otherwise it is recorded as recommended.",
                {
                    "type": "object",
                    "properties": {"reason": {"type": "string"}},
                    "required": ["reason"],
                },
                "action",
            )
            for name in sorted(self.executors)
            if name in self.allowlist
        ]
        return [*READ_TOOLS, *actions]

    # -- calling ----------------------------------------------------------------------------
    def call(self, name: str, arguments: dict | None = None, turn: int = 0) -> dict:
        """Call tool ``name``; the result is a JSON-able dict (``{"error": ...}`` when it
        failed). Every call is timed and kept in :attr:`calls`."""
        started = time.perf_counter()
        arguments = arguments or {}
        try:
            if name in self.executors or name in self.allowlist:
                result = self.act(name, str(arguments.get("reason") or ""))
            else:
                reader = getattr(self, f"_read_{name}", None)
                if reader is None or name not in {t.name for t in READ_TOOLS}:
                    raise KeyError(f"no tool {name!r}")
                result = reader()
            ok, error = "error" not in result, str(result.get("error", ""))
        except Exception as exc:  # a tool that breaks is an answer for the decider, not a crash
            result, ok, error = {"error": f"{type(exc).__name__}: {exc}"}, False, str(exc)
        self.calls.append(
            ToolCall(name, ok, round((time.perf_counter() - started) * 1000, 2), turn, error[:200])
        )
        return result

    def _read_get_page(self) -> dict:
        page = self.page()
        return {
            k: page[k]
            for k in ("page_id", "kind", "subject", "severity", "title", "summary", "runbook")
        } | {"alert_count": page["alert_count"], "run_id": page["run_id"]}

    def _read_get_triage_ticket(self) -> dict:
        ticket = self.ticket()
        if ticket is None:
            return {"ticket": None, "note": "this page has no triage ticket"}
        keep = ("ticket_id", "pattern", "probable_cause", "evidence", "recommended_action")
        return {k: ticket[k] for k in keep} | {
            "actions": [
                {"runbook": a["runbook"], "status": a["status"], "detail": a["detail"]}
                for a in ticket_actions(self.conn, ticket["ticket_id"])
            ]
        }

    def _read_get_step_log(self) -> dict:
        run_id = self.page().get("run_id")
        if not run_id:
            return {"events": [], "note": "this page has no run"}
        if self.sources.step_log is None:
            ticket = self.ticket()
            return {"events": [], "evidence": ticket["evidence"] if ticket else []}
        return {"events": self.sources.step_log(run_id)[-50:]}

    def _read_recent_runs(self) -> dict:
        job = (self.page().get("details") or {}).get("job_name") or ""
        ticket = self.ticket()
        job = job or (ticket["job_name"] if ticket else "")
        if self.sources.recent_runs is None or not job:
            return {"runs": [], "note": "no run history available here"}
        return {"job": job, "runs": self.sources.recent_runs(job)[:10]}

    def _read_quarantine_summary(self) -> dict:
        exists = self.conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = 'quarantine' "
            "AND table_name = 'rows'"
        ).fetchall()
        if not exists:
            return {"partitions": []}
        rows = self.conn.execute(
            "SELECT table_name, partition_key, count(*) FROM quarantine.rows "
            "GROUP BY ALL ORDER BY partition_key DESC LIMIT 10"
        ).fetchall()
        return {"partitions": [{"table": t, "partition": p, "rows": n} for t, p, n in rows]}

    def _read_registry_history(self) -> dict:
        if self.sources.registry_history is None:
            return {"history": [], "note": "no registry here"}
        return {"history": self.sources.registry_history()[-10:]}

    def _read_similar_incidents(self) -> dict:
        page = self.page()
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=SIMILAR_DAYS)
        ticket = self.ticket()
        similar_pages = [
            {k: p[k] for k in ("page_id", "state", "title", "recommended_action")}
            for p in pg.list_pages(self.conn, limit=200)
            if p["page_id"] != self.page_id
            and p["kind"] == page["kind"]
            and p["subject"] == page["subject"]
            and p["opened_at"] >= since
        ][:5]
        similar_tickets = [
            {k: t[k] for k in ("ticket_id", "pattern", "recommended_action")}
            for t in tickets(self.conn)
            if ticket
            and t["ticket_id"] != ticket["ticket_id"]
            and t["pattern"] == ticket["pattern"]
            and t["created_at"] >= since
        ][:5]
        return {"pages": similar_pages, "tickets": similar_tickets}

    def _read_serving_metrics(self) -> dict:
        if self.sources.serving_metrics is None:
            return {"metrics": None, "note": "no scoring service metrics in this deployment"}
        return {"metrics": self.sources.serving_metrics()}

    # -- acting -----------------------------------------------------------------------------
    def _page_actions(self) -> list[dict]:
        return [e["detail"] for e in self.page()["events"] if e["event"] == "action"]

    def act(self, runbook: str, reason: str) -> dict:
        """Carry out ``runbook`` for the page if the policy allows, else record it as
        recommended (or refused when it is not on the allow-list). Idempotent: a runbook that
        already ran for the page (or for its ticket) is reported, not run again."""
        done = [
            a for a in self._page_actions() if a["runbook"] == runbook and a["status"] in MITIGATING
        ]
        if done:
            return self._record(runbook, ALREADY_DONE, done[-1]["detail"], reason, record=False)
        ticket = self.ticket()
        if ticket:
            for action in ticket_actions(self.conn, ticket["ticket_id"]):
                if action["runbook"] == runbook and action["status"] in ("executed", "approved"):
                    return self._record(
                        runbook, ALREADY_DONE, f"triage already ran it: {action['detail']}", reason
                    )
        entry = self.allowlist.get(runbook)
        if entry is None:
            return self._record(runbook, REFUSED, f"{runbook!r} is not on the allow-list", reason)
        if runbook not in self.applicable_runbooks():
            return self._record(
                runbook,
                REFUSED,
                f"{runbook} does not apply to a {self.page()['kind']} page "
                f"(applicable: {', '.join(self.applicable_runbooks())})",
                reason,
            )
        if not entry.runs_by_itself:
            return self._record(
                runbook, RECOMMENDED, f"needs a person ({entry.why_a_person()})", reason
            )
        if runbook not in self.executors:
            return self._record(
                runbook, RECOMMENDED, "no executor for it in this deployment", reason
            )
        executed = [
            a
            for a in self._page_actions()
            if a["status"] == EXECUTED and a["runbook"] not in DIAGNOSTIC_RUNBOOKS
        ]
        if executed and runbook not in DIAGNOSTIC_RUNBOOKS:
            return self._record(
                runbook,
                RECOMMENDED,
                f"{executed[0]['runbook']} already ran on this page; a second action needs a "
                "person",
                reason,
            )
        try:
            return self._record(runbook, EXECUTED, self.executors[runbook](self.page()), reason)
        except Exception as exc:  # a failed action is a finding, never a crash of the responder
            return self._record(runbook, FAILED, f"{type(exc).__name__}: {exc}", reason)

    def _record(
        self, runbook: str, status: str, detail: str, reason: str, record: bool = True
    ) -> dict:
        action = {"runbook": runbook, "status": status, "detail": detail, "reason": reason[:300]}
        if record:
            pg.record_event(self.conn, self.page_id, "action", self.actor, action)
        self.actions.append(action)
        return action


@dataclass
class Decision:
    """A decider's answer: the three-field ticket. Actions happen through the toolbox."""

    probable_cause: str
    evidence: list[str]
    recommended_action: str


Decider = Callable[[Toolbox], Decision]


def playbook(tools: Toolbox) -> Decision:
    """The deterministic decider: what each page kind checks, and when a runbook applies.

    It reads the same tools as Claude, but decides only from structured fields (the page's
    kind and runbook, the ticket's pattern and recommendation): free text from logs, data and
    alerts is quoted as evidence, never obeyed.
    """
    page = tools.call("get_page", turn=1)
    evidence = [f"alert: {page.get('title')}: {page.get('summary')}"]
    runbook = page.get("runbook") or FALLBACK_RUNBOOK
    cause = page.get("summary") or page.get("title") or "an alert fired"
    ticket = tools.call("get_triage_ticket", turn=1)
    if ticket.get("pattern"):
        cause = f"{ticket['pattern']}: {ticket['probable_cause']}"
        runbook = ticket["recommended_action"]
        evidence += [str(e) for e in ticket.get("evidence", [])[:8]]
    kind = page.get("kind")
    if kind in ("serving_latency", "canary_errors", "prediction_anomaly"):
        history = tools.call("registry_history", turn=1).get("history", [])
        metrics = tools.call("serving_metrics", turn=1).get("metrics")
        evidence.append(f"registry history (newest last): {json.dumps(history[-3:], default=str)}")
        evidence.append(f"serving metrics: {json.dumps(metrics, default=str)[:400]}")
        recent_change = [h for h in history[-3:] if h.get("event") in ("promote", "canary")]
        if recent_change:
            runbook = "stop_canary" if kind == "canary_errors" else "rollback_champion"
            cause = f"{kind} right after {recent_change[-1].get('event')} of the model"
    elif ticket.get("pattern") == "contract_failure":
        summary = tools.call("quarantine_summary", turn=1)
        evidence.append(f"quarantine: {json.dumps(summary.get('partitions', [])[:3])}")
    similar = tools.call("similar_incidents", turn=1)
    if similar.get("pages") or similar.get("tickets"):
        evidence.append(
            "similar in the last 30 days: "
            + ", ".join(
                [p["page_id"] for p in similar.get("pages", [])]
                + [t["ticket_id"] for t in similar.get("tickets", [])]
            )
        )
    if runbook in tools.executors:
        tools.call(runbook, {"reason": f"playbook: {cause}"}, turn=2)
    return Decision(cause, evidence, runbook)


def respond(
    conn: duckdb.DuckDBPyConnection,
    page_id: str,
    allowlist: dict[str, Runbook],
    *,
    decider: Decider = playbook,
    responder: str = "playbook",
    executors: dict[str, Callable[[dict], str]] | None = None,
    sources: Sources | None = None,
    escalate: Callable[[dict, Response], list[str]] | None = None,
) -> Response:
    """Answer page ``page_id``: investigate, act within the policy, and leave it mitigated or
    escalated with the findings. A page that is already mitigated, escalated or resolved is
    returned as it stands (responding twice does nothing twice)."""
    page = pg.get_page(conn, page_id)
    if page["state"] != pg.OPEN:
        return Response(
            page_id,
            page["state"],
            page.get("probable_cause") or "",
            page.get("evidence") or [],
            page.get("recommended_action") or page["runbook"],
            page.get("actions") or [],
            page.get("responder") or "",
        )
    pg.transition(conn, page_id, pg.INVESTIGATING, actor=responder)
    tools = Toolbox(conn, page_id, allowlist, executors, sources, actor=responder)
    try:
        decision = decider(tools)
    except Exception as exc:  # the responder failing is itself a reason to wake a person
        decision = Decision(
            f"the responder failed ({type(exc).__name__}: {exc}); a person must look",
            [f"page: {page['title']}: {page['summary']}"],
            page["runbook"],
        )
    recommended = decision.recommended_action
    applicable = tools.applicable_runbooks()
    if recommended not in applicable:
        fallback = next((n for n in applicable if n not in DIAGNOSTIC_RUNBOOKS), FALLBACK_RUNBOOK)
        decision.evidence.append(
            f"the responder recommended {recommended!r}, which is not an allow-listed runbook "
            f"for this page: {fallback!r} stands"
        )
        recommended = fallback
    mitigated = any(mitigates(a) for a in tools.actions)
    state = pg.MITIGATED if mitigated else pg.ESCALATED
    pg.record_findings(
        conn,
        page_id,
        probable_cause=decision.probable_cause,
        evidence=decision.evidence,
        recommended_action=recommended,
        actions=tools.actions,
        responder=responder,
    )
    response = Response(
        page_id,
        state,
        decision.probable_cause,
        decision.evidence,
        recommended,
        tools.actions,
        responder,
        tools.calls,
    )
    delivered: list[str] = []
    if state == pg.ESCALATED and escalate is not None:
        delivered = escalate(pg.get_page(conn, page_id), response)
    response.delivered_to = delivered
    pg.transition(
        conn,
        page_id,
        state,
        actor=responder,
        detail={
            "actions": [(a["runbook"], a["status"]) for a in tools.actions],
            "delivered_to": delivered,
        },
    )
    return response


def respond_to_open_pages(
    conn: duckdb.DuckDBPyConnection,
    allowlist: dict[str, Runbook],
    limit: int = 20,
    **kwargs: Any,
) -> list[Response]:
    """Respond to every open page, oldest first (the sensor and a CLI run call this)."""
    opened = sorted(pg.list_pages(conn, state=pg.OPEN, limit=limit), key=lambda p: p["opened_at"])
    return [respond(conn, p["page_id"], allowlist, **kwargs) for p in opened]
