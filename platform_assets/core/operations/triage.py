"""Run-failure triage: from a failed run to a ticket {probable_cause, evidence, recommended_action}.

Input is a :class:`FailureReport` (failed steps with their errors and stack traces, the log
lines just before each failure, the run's tags), gathered by the Dagster layer. Triage

1. matches the errors and logs against a pattern library (contract failure, out of memory,
   timeout, DuckDB lock contention, missing upstream partition, bad config);
2. looks up earlier tickets with the same signature (pattern + job + failed steps);
3. recommends a runbook from ``runbooks/allowlist.yaml`` — a pattern whose runbook is not
   on the list falls back to ``escalate_to_on_call``, never to something unlisted;
4. writes the ticket to ``platform.triage_tickets``.

:func:`run_safe_actions` then runs the recommended runbook only when it *runs by itself*:
the allow-list marks it ``safe_to_automate`` **and** two different reviewers have approved
that (``reviews``, with names and dates), and an executor is registered for it. Every
decision (executed, skipped, refused, failed) is recorded in ``platform.triage_actions``;
a runbook that needs a person is recorded as ``needs_person``, and the person who runs it
records that with :func:`approve` (``platform-assets tickets approve ID --by NAME``).

An optional ``drafter`` (the Claude layer, when configured) may add prose; the ticket then
carries ``drafted_by`` so a reader knows which text was not produced by the rules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import yaml

from platform_assets.core.redaction import redact, terminal_safe

FALLBACK_RUNBOOK = "escalate_to_on_call"
NEEDS_PERSON = "needs_person"
APPROVED = "approved"

TRIAGE_DDL = """
CREATE SCHEMA IF NOT EXISTS platform;
CREATE TABLE IF NOT EXISTS platform.triage_tickets (
    ticket_id VARCHAR PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    job_name VARCHAR,
    pattern VARCHAR NOT NULL,
    probable_cause VARCHAR NOT NULL,
    evidence JSON NOT NULL,
    recommended_action VARCHAR NOT NULL,
    safe_to_automate BOOLEAN NOT NULL,
    signature VARCHAR NOT NULL,
    similar_runs JSON NOT NULL,
    failed_steps JSON NOT NULL,
    drafted_by VARCHAR,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS platform.triage_actions (
    ticket_id VARCHAR NOT NULL,
    runbook VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    detail VARCHAR,
    acted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- who acted: a person's name for an approval; empty for the sensor's own actions
ALTER TABLE platform.triage_actions ADD COLUMN IF NOT EXISTS actor VARCHAR;
"""

REVIEWERS_NEEDED = 2


@dataclass(frozen=True)
class Review:
    by: str
    on: str  # ISO date


@dataclass(frozen=True)
class Runbook:
    """An allow-listed runbook. ``doc`` is its Markdown file (what happened, how to confirm,
    what to do, how to roll back), relative to the repository root."""

    name: str
    description: str
    safe_to_automate: bool
    reviews: tuple[Review, ...] = ()
    doc: str | None = None

    @property
    def reviewers(self) -> set[str]:
        return {review.by for review in self.reviews}

    @property
    def runs_by_itself(self) -> bool:
        """Marked safe to automate and approved by at least two different reviewers."""
        return self.safe_to_automate and len(self.reviewers) >= REVIEWERS_NEEDED

    def why_a_person(self) -> str:
        """Why this runbook waits for a person (empty when it runs by itself)."""
        if not self.safe_to_automate:
            return "safe_to_automate: false"
        if not self.runs_by_itself:
            return (
                f"marked safe_to_automate, but reviewed by {len(self.reviewers)} of the "
                f"{REVIEWERS_NEEDED} different reviewers the allow-list needs before it runs by "
                "itself"
            )
        return ""


def default_allowlist_path() -> Path:
    """``runbooks/allowlist.yaml`` of the source checkout (or the wheel's bundled copy)."""
    package = Path(__file__).resolve().parents[2]
    checkout = package.parent / "runbooks" / "allowlist.yaml"
    return checkout if checkout.exists() else package / "_bundled" / "runbooks" / "allowlist.yaml"


def load_allowlist(path: str | Path | None = None) -> dict[str, Runbook]:
    """The allow-listed runbooks by name. Raises ValueError naming the file and entry when
    malformed.
    """
    path = Path(path) if path else default_allowlist_path()
    data = yaml.safe_load(path.read_text()) or {}
    runbooks = {}
    for i, entry in enumerate(data.get("runbooks", [])):
        missing = {"name", "description", "safe_to_automate"} - set(entry)
        if missing:
            raise ValueError(f"{path}: runbooks[{i}] lacks {sorted(missing)}")
        if not isinstance(entry["safe_to_automate"], bool):
            raise ValueError(
                f"{path}: runbooks[{i}] ({entry['name']}): safe_to_automate must be true or false"
            )
        runbooks[entry["name"]] = Runbook(
            entry["name"],
            entry["description"],
            entry["safe_to_automate"],
            _reviews(path, i, entry),
            entry.get("doc"),
        )
    if FALLBACK_RUNBOOK not in runbooks:
        raise ValueError(
            f"{path}: the allow-list must contain {FALLBACK_RUNBOOK!r}, the fallback for unknown "
            "failures"
        )
    return runbooks


def _reviews(path: Path, index: int, entry: dict) -> tuple[Review, ...]:
    reviews = []
    for j, review in enumerate(entry.get("reviews") or []):
        where = f"{path}: runbooks[{index}] ({entry['name']}) reviews[{j}]"
        if (
            not isinstance(review, dict)
            or not str(review.get("by") or "").strip()
            or not review.get("on")
        ):
            raise ValueError(f"{where}: a review is {{by: NAME, on: YYYY-MM-DD}}")
        try:
            day = dt.date.fromisoformat(str(review["on"]))
        except ValueError:
            raise ValueError(f"{where}: on: {review['on']!r} is not a date (YYYY-MM-DD)") from None
        reviews.append(Review(str(review["by"]).strip(), day.isoformat()))
    return tuple(reviews)


@dataclass(frozen=True)
class Pattern:
    name: str
    probable_cause: str
    runbook: str
    regexes: tuple[str, ...]

    def matches(self, text: str) -> list[str]:
        found = []
        for regex in self.regexes:
            match = re.search(regex, text, flags=re.IGNORECASE | re.MULTILINE)
            if match:
                found.append(match.group(0))
        return found


# Order matters: the first pattern with a match wins (specific before generic).
PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "duckdb_lock_contention",
        "Another process held the DuckDB warehouse's write lock.",
        "retry_run",
        (
            r"Could not set lock on file",
            r"Conflicting lock is held",
            r"database is locked",
            r"IO Error:.*lock",
        ),
    ),
    Pattern(
        "out_of_memory",
        "The step ran out of memory.",
        "increase_memory_or_sample",
        (
            r"\bMemoryError\b",
            r"Unable to allocate",
            r"Out of Memory",
            r"\bOOM\b",
            r"Cannot allocate memory",
            r"killed by signal 9",
            r"std::bad_alloc",
        ),
    ),
    Pattern(
        "timeout",
        "A step or a call it made took longer than its time limit.",
        "retry_run",
        (
            r"\bTimeoutError\b",
            r"timed out",
            r"deadline exceeded",
            r"ReadTimeout",
            r"exceeded.*timeout",
        ),
    ),
    Pattern(
        "missing_upstream_partition",
        "An upstream table or partition the step reads has not been materialized.",
        "backfill_upstream_partition",
        (
            r"has not been materialized",
            r"does not exist: materialize",
            r"Table with name \S+ does not exist",
            r"is empty: materialize",
            r"no feature rows",
            r"missing upstream partition",
            r"partition \S+ (is )?missing",
        ),
    ),
    Pattern(
        "bad_config",
        "The run config or a setting is invalid.",
        "fix_run_config",
        (
            r"DagsterInvalidConfigError",
            r"Error \d+: .*config",
            r"pydantic.*ValidationError",
            r"\bValidationError\b",
            r"must be (one of|between|'|\w+ or)",
            r"invalid (config|value|setting)",
            r"Invalid config",
        ),
    ),
)
UNKNOWN = Pattern("unknown", "No known failure pattern matched.", FALLBACK_RUNBOOK, ())

# Causes decided from the failure's event data: the blocking check that failed (its name and
# metadata), or the class of the exception (the whole chain, innermost included).
CONTRACT_FAILURE = Pattern(
    "contract_failure",
    "The batch broke its data contract, so the blocking check stopped the run.",
    "inspect_quarantine",
    (),
)
GATE_BLOCKED = Pattern(
    "gate_blocked",
    "The promotion gate blocked the challenger; the champion is unchanged.",
    "review_blocked_promotion",
    (),
)
ONNX_PARITY = Pattern(
    "onnx_parity",
    "The ONNX export disagrees with the scikit-learn model, so the export does not ship.",
    "fix_onnx_export",
    (),
)
BLOCKING_CHECK = Pattern(
    "blocking_check_failed",
    "A blocking asset check failed and stopped the run.",
    FALLBACK_RUNBOOK,
    (),
)
OUT_OF_MEMORY = next(p for p in PATTERNS if p.name == "out_of_memory")
TIMEOUT = next(p for p in PATTERNS if p.name == "timeout")
INFRA_DATABASE = Pattern(
    "infrastructure_database",
    "A database the run needs (PostgreSQL, the DuckLake catalog) refused or dropped the "
    "connection.",
    "recover_infrastructure",
    (),
)
INFRA_OBJECT_STORE = Pattern(
    "infrastructure_object_store",
    "The object store (S3) could not be reached or refused the request.",
    "recover_infrastructure",
    (),
)
INFRA_NETWORK = Pattern(
    "infrastructure_network",
    "A network call failed: connection refused or reset, or a name did not resolve.",
    "recover_infrastructure",
    (),
)
CODE_ERROR = Pattern(
    "code_error",
    "The step's code raised a programming error (not the data, not the infrastructure).",
    "fix_code_error",
    (),
)

# A failed blocking check's name decides its cause; names starting with ``contract_`` are the
# data contracts. The Dagster layer passes its own names (``defs/keys.py``).
DEFAULT_CHECK_CAUSES = {"promotion_gate": GATE_BLOCKED, "onnx_parity": ONNX_PARITY}
CONTRACT_CHECK_PREFIX = "contract_"

# Exception class names (as Dagster records them: the bare class name) by cause. Order
# matters: the first cause with a class in the failure's chain wins.
ERROR_CLASS_CAUSES: tuple[tuple[Pattern, frozenset[str]], ...] = (
    (
        OUT_OF_MEMORY,
        frozenset({"MemoryError", "_ArrayMemoryError", "OutOfMemoryException", "OutOfMemoryError"}),
    ),
    (
        TIMEOUT,
        frozenset(
            {
                "TimeoutError",
                "TimeoutExpired",
                "timeout",
                "ReadTimeout",
                "ConnectTimeout",
                "ReadTimeoutError",
                "ConnectTimeoutError",
                "QueryCanceled",
                "DeadlineExceeded",
            }
        ),
    ),
    (
        INFRA_DATABASE,
        frozenset(
            {
                "OperationalError",
                "InterfaceError",
                "AdminShutdown",
                "ConnectionException",
                "IOException",
                "DatabaseError",
                "ConnectionFailure",
            }
        ),
    ),
    (
        INFRA_OBJECT_STORE,
        frozenset(
            {
                "EndpointConnectionError",
                "ConnectionClosedError",
                "NoCredentialsError",
                "S3UploadFailedError",
                "ClientError",
                "NoSuchBucket",
                "HTTPException",
            }
        ),
    ),
    (
        INFRA_NETWORK,
        frozenset(
            {
                "ConnectionError",
                "ConnectionRefusedError",
                "ConnectionResetError",
                "ConnectionAbortedError",
                "BrokenPipeError",
                "URLError",
                "gaierror",
                "RemoteDisconnected",
                "NewConnectionError",
                "MaxRetryError",
            }
        ),
    ),
    (
        CODE_ERROR,
        frozenset(
            {
                "TypeError",
                "AttributeError",
                "NameError",
                "KeyError",
                "IndexError",
                "ZeroDivisionError",
                "ImportError",
                "ModuleNotFoundError",
                "AssertionError",
                "NotImplementedError",
                "SyntaxError",
                "UnboundLocalError",
                "RecursionError",
            }
        ),
    ),
)


@dataclass
class FailedCheck:
    """A blocking asset check that did not pass, from its ``ASSET_CHECK_EVALUATION`` event."""

    check_name: str
    asset: str
    description: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass
class FailedStep:
    step_key: str
    error_class: str
    message: str
    stack: str = ""
    logs_before: list[str] = field(default_factory=list)
    # every class in the error's cause chain, outermost first (the Dagster wrapper included)
    error_classes: list[str] = field(default_factory=list)
    failed_checks: list[FailedCheck] = field(default_factory=list)

    def __post_init__(self) -> None:
        # A failure's text comes from outside (a driver's error may quote its URL): no secret
        # reaches the ticket, its evidence, the diagnostics bundle or the Claude drafter.
        self.message, self.stack = redact(self.message), redact(self.stack)
        self.logs_before = [redact(line) for line in self.logs_before]


@dataclass
class FailureReport:
    run_id: str
    job_name: str
    failed_steps: list[FailedStep]
    run_error: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_error = redact(self.run_error)
        self.tags = {k: redact(v) for k, v in self.tags.items()}

    def text(self) -> str:
        parts = [self.run_error]
        for step in self.failed_steps:
            parts += [step.step_key, step.error_class, step.message, step.stack, *step.logs_before]
        return "\n".join(p for p in parts if p)

    def error_text(self) -> str:
        """What the errors said, without step names or log lines (a step named ``contract_x``
        or a log line quoting an error is no evidence of what failed)."""
        parts = [self.run_error]
        for step in self.failed_steps:
            parts += [step.error_class, step.message, step.stack]
        return "\n".join(p for p in parts if p)


@dataclass
class Ticket:
    ticket_id: str
    run_id: str
    job_name: str
    pattern: str
    probable_cause: str
    evidence: list[str]
    recommended_action: str
    safe_to_automate: bool
    signature: str
    similar_runs: list[str]
    failed_steps: list[str]
    drafted_by: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def classify(
    report: FailureReport, check_causes: dict[str, Pattern] | None = None
) -> tuple[Pattern, list[str]]:
    """The failure's cause, with the event data that decided it.

    In order: a failed blocking check (by its name: ``check_causes``, else a ``contract_``
    prefix, else a generic blocking-check cause); DuckDB lock contention (its message); the
    class of an exception in the error chain (memory, timeout, database, object store,
    network, code); then the message patterns (missing upstream, bad config). Step names and
    log lines never decide.
    """
    causes = {**DEFAULT_CHECK_CAUSES, **(check_causes or {})}
    checks = [check for step in report.failed_steps for check in step.failed_checks]
    if checks:
        found = []
        for check in checks:
            if check.check_name in causes:
                found.append(causes[check.check_name])
            elif check.check_name.startswith(CONTRACT_CHECK_PREFIX):
                found.append(CONTRACT_FAILURE)
            else:
                found.append(BLOCKING_CHECK)
        named = [f"failed blocking check {c.check_name} on {c.asset}" for c in checks]
        return found[0], named
    text = report.error_text()
    lock = PATTERNS[0]
    matched = lock.matches(text)
    if matched:
        return lock, matched
    classes = [
        name for step in report.failed_steps for name in (step.error_classes or [step.error_class])
    ]
    for pattern, names in ERROR_CLASS_CAUSES:
        hit = [name for name in classes if name in names]
        if hit:
            return pattern, [f"error class {hit[0]}"]
    for pattern in PATTERNS:
        found = pattern.matches(text)
        if found:
            return pattern, found
    return UNKNOWN, []


def _evidence(report: FailureReport, matched: list[str]) -> list[str]:
    evidence = [f"matched: {m!r}" for m in matched[:5]]
    for step in report.failed_steps:
        for check in step.failed_checks:
            evidence.append(
                f"check {check.check_name} on {check.asset} did not pass: "
                f"{check.description.strip()[:300]}"
                + (
                    f" (metadata: {json.dumps(check.metadata, default=str)[:300]})"
                    if check.metadata
                    else ""
                )
            )
        evidence.append(
            f"step {step.step_key} failed with {step.error_class}: {step.message.strip()[:500]}"
        )
        if step.stack:
            last = [line for line in step.stack.strip().splitlines() if line.strip()][-3:]
            evidence.append("stack (last lines): " + " | ".join(s.strip() for s in last)[:500])
        evidence += [f"log before failure: {line[:300]}" for line in step.logs_before[-3:]]
    if not report.failed_steps and report.run_error:
        evidence.append(f"run error: {report.run_error.strip()[:500]}")
    return evidence


def ensure_triage_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(TRIAGE_DDL)


def similar_failures(
    conn: duckdb.DuckDBPyConnection,
    signature: str,
    pattern: str,
    job_name: str,
    exclude_run: str,
    limit: int = 5,
) -> list[str]:
    """Earlier runs with the same signature, then with the same pattern in the same job."""
    ensure_triage_tables(conn)
    rows = conn.execute(
        "SELECT run_id FROM platform.triage_tickets WHERE run_id <> ? AND "
        "(signature = ? OR (pattern = ? AND job_name = ?)) "
        "ORDER BY (signature = ?) DESC, created_at DESC LIMIT ?",
        [exclude_run, signature, pattern, job_name, signature, limit],
    ).fetchall()
    return [r[0] for r in rows]


def triage(
    report: FailureReport,
    conn: duckdb.DuckDBPyConnection,
    allowlist: dict[str, Runbook] | None = None,
    drafter: Callable[[FailureReport, Ticket], dict] | None = None,
    check_causes: dict[str, Pattern] | None = None,
) -> Ticket:
    """Classify ``report``, find similar past failures, write and return the ticket.

    A second triage of the same run replaces its ticket (one ticket per failed run).
    """
    allowlist = allowlist if allowlist is not None else load_allowlist()
    pattern, matched = classify(report, check_causes)
    runbook = pattern.runbook if pattern.runbook in allowlist else FALLBACK_RUNBOOK
    steps = sorted(s.step_key for s in report.failed_steps)
    errors = sorted({s.error_class for s in report.failed_steps})
    signature = hashlib.sha1(
        json.dumps([pattern.name, report.job_name, steps, errors]).encode()
    ).hexdigest()[:16]
    ensure_triage_tables(conn)
    ticket = Ticket(
        ticket_id=f"triage-{report.run_id}",
        run_id=report.run_id,
        job_name=report.job_name,
        pattern=pattern.name,
        probable_cause=pattern.probable_cause,
        evidence=_evidence(report, matched),
        recommended_action=runbook,
        safe_to_automate=allowlist[runbook].runs_by_itself,
        signature=signature,
        similar_runs=similar_failures(
            conn, signature, pattern.name, report.job_name, report.run_id
        ),
        failed_steps=steps,
    )
    if ticket.similar_runs:
        ticket.evidence.append(f"similar earlier failures: {', '.join(ticket.similar_runs)}")
    if drafter is not None:
        _apply_draft(ticket, drafter(report, ticket) or {}, allowlist)
    write_ticket(conn, ticket)
    return ticket


def write_ticket(conn: duckdb.DuckDBPyConnection, ticket: Ticket) -> None:
    """Store ``ticket``, replacing an earlier ticket with the same id (one ticket per run)."""
    ensure_triage_tables(conn)
    conn.execute("DELETE FROM platform.triage_tickets WHERE ticket_id = ?", [ticket.ticket_id])
    conn.execute(
        "INSERT INTO platform.triage_tickets (ticket_id, run_id, job_name, pattern, "
        "probable_cause, evidence, recommended_action, safe_to_automate, signature, similar_runs, "
        "failed_steps, drafted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ticket.ticket_id,
            ticket.run_id,
            ticket.job_name,
            ticket.pattern,
            redact(ticket.probable_cause),
            json.dumps([redact(line) for line in ticket.evidence]),
            ticket.recommended_action,
            ticket.safe_to_automate,
            ticket.signature,
            json.dumps(ticket.similar_runs),
            json.dumps(ticket.failed_steps),
            ticket.drafted_by,
        ],
    )


def _apply_draft(ticket: Ticket, drafted: dict, allowlist: dict[str, Runbook]) -> None:
    """Let a drafter (Claude) write the ticket from the same evidence; the allow-list rules.

    The drafted cause and evidence replace the pattern library's (which stay as evidence);
    a drafted runbook is taken only when it is on the allow-list, and whether it may run by
    itself is the allow-list's ``safe_to_automate``, never the drafter's say.
    """
    if drafted.get("degraded"):
        ticket.evidence.append(
            f"Claude could not write this ticket ({drafted['degraded']}); "
            f"the pattern library's ticket stands"
        )
        return
    if not drafted.get("probable_cause"):
        return
    ticket.evidence = [
        *(f"quoted by the drafter: {line}" for line in drafted.get("evidence", [])),
        f"pattern library: {ticket.pattern}: {ticket.probable_cause}",
        *ticket.evidence,
    ]
    ticket.probable_cause = str(drafted["probable_cause"])
    ticket.drafted_by = str(drafted.get("drafted_by", "llm"))
    proposed = drafted.get("recommended_action")
    if proposed in allowlist:
        ticket.recommended_action = proposed
        ticket.safe_to_automate = allowlist[proposed].runs_by_itself
    elif proposed:
        ticket.evidence.append(
            f"the drafter proposed {proposed!r}, which is not on the runbook allow-list: "
            f"ignored, {ticket.recommended_action!r} stands"
        )


def record_action(
    conn: duckdb.DuckDBPyConnection,
    ticket_id: str,
    runbook: str,
    status: str,
    detail: str,
    actor: str | None = None,
) -> None:
    ensure_triage_tables(conn)
    conn.execute(
        "INSERT INTO platform.triage_actions (ticket_id, runbook, status, detail, actor) "
        "VALUES (?, ?, ?, ?, ?)",
        [ticket_id, runbook, status, detail, actor],
    )


def run_safe_actions(
    ticket: Ticket,
    conn: duckdb.DuckDBPyConnection,
    allowlist: dict[str, Runbook],
    executors: dict[str, Callable[[Ticket], str]],
    runbooks: list[str] | None = None,
) -> list[dict]:
    """Run each runbook (default: the ticket's recommendation) only when it runs by itself
    (allow-listed as safe to automate, approved by two different reviewers) and has an
    executor; a runbook that needs a person is recorded as ``needs_person``.

    ``executors`` maps runbook names to callables returning a one-line description of what
    they did. Every decision is recorded in ``platform.triage_actions`` and returned.
    """
    return [
        _run_one(name, ticket, conn, allowlist, executors)
        for name in (runbooks or [ticket.recommended_action])
    ]


def _run_one(
    name: str,
    ticket: Ticket,
    conn: duckdb.DuckDBPyConnection,
    allowlist: dict[str, Runbook],
    executors: dict[str, Callable[[Ticket], str]],
) -> dict:
    runbook = allowlist.get(name)
    if runbook is None:
        status, detail = "refused", f"{name!r} is not on the runbook allow-list; nothing was run"
    elif not runbook.runs_by_itself:
        status, detail = (
            NEEDS_PERSON,
            (
                f"{name} needs a person ({runbook.why_a_person()}): {runbook.description} "
                f"Record who ran it: platform-assets tickets approve {ticket.ticket_id} "
                f"--by NAME"
            ),
        )
    elif name not in executors:
        status, detail = (
            "skipped",
            f"{name} is safe to automate but this deployment has no executor for it",
        )
    else:
        try:
            status, detail = "executed", executors[name](ticket)
        except Exception as exc:  # an automatic action must never break the sensor
            status, detail = "failed", f"{type(exc).__name__}: {exc}"
    record_action(conn, ticket.ticket_id, name, status, detail)
    return {"ticket_id": ticket.ticket_id, "runbook": name, "status": status, "detail": detail}


def _has_triage_tables(conn: duckdb.DuckDBPyConnection) -> bool:
    # Readers must work on a read-only connection, so they look instead of creating.
    return (
        len(
            conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = 'platform' "
                "AND table_name IN ('triage_tickets', 'triage_actions')"
            ).fetchall()
        )
        == 2
    )


def tickets(conn: duckdb.DuckDBPyConnection) -> list[dict]:
    """All tickets, newest first, JSON columns decoded."""
    if not _has_triage_tables(conn):
        return []
    cursor = conn.execute(
        "SELECT * FROM platform.triage_tickets ORDER BY created_at DESC, ticket_id"
    )
    columns = [d[0] for d in cursor.description]
    out = []
    for values in cursor.fetchall():
        row = dict(zip(columns, values, strict=True))
        for key in ("evidence", "similar_runs", "failed_steps"):
            row[key] = json.loads(row[key])
        out.append(row)
    return out


def actions(conn: duckdb.DuckDBPyConnection, ticket_id: str) -> list[dict]:
    """What was done about a ticket, oldest first: the sensor's actions and people's approvals."""
    if not _has_triage_tables(conn):
        return []
    cursor = conn.execute(
        "SELECT * FROM platform.triage_actions WHERE ticket_id = ? ORDER BY acted_at", [ticket_id]
    )
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]


def ticket_status(ticket: dict, ticket_actions: list[dict]) -> str:
    """``approved`` (a person recorded running the runbook), ``automated`` (it ran by itself),
    ``needs_person`` (waiting for one), or ``open``."""
    runbook = ticket["recommended_action"]
    statuses = [a["status"] for a in ticket_actions if a["runbook"] == runbook]
    if APPROVED in statuses:
        return APPROVED
    if "executed" in statuses:
        return "automated"
    if NEEDS_PERSON in statuses:
        return NEEDS_PERSON
    return "open"


class TicketNotFound(KeyError):
    pass


def approve(
    conn: duckdb.DuckDBPyConnection,
    ticket_id: str,
    by: str,
    allowlist: dict[str, Runbook] | None = None,
) -> dict:
    """Record that ``by`` approved and ran the ticket's recommended runbook.

    Raises:
        TicketNotFound: no ticket ``ticket_id``.
        ValueError: ``by`` is empty, or the runbook is no longer on the allow-list.
    """
    by = terminal_safe(by).strip()  # a name, not a terminal escape sequence
    if not by:
        raise ValueError("an approval needs the name of the person (--by NAME)")
    found = [t for t in tickets(conn) if t["ticket_id"] == ticket_id]
    if not found:
        raise TicketNotFound(ticket_id)
    runbook = found[0]["recommended_action"]
    allowlist = allowlist if allowlist is not None else load_allowlist()
    if runbook not in allowlist:
        raise ValueError(
            f"ticket {ticket_id} recommends {runbook!r}, which is not on the runbook allow-list; "
            f"nothing to approve"
        )
    detail = f"{runbook} approved and run by {by}"
    record_action(conn, ticket_id, runbook, APPROVED, detail, actor=by)
    return {
        "ticket_id": ticket_id,
        "runbook": runbook,
        "status": APPROVED,
        "detail": detail,
        "actor": by,
    }
