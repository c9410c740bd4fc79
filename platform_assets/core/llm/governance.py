"""The governance log of LLM calls (``platform.llm_calls``) and what we learn from it.

Every call to Claude, successful or not, is one row: when, for which run and asset or
check, which task, which prompt (name and sha256), which model, tokens by kind, cost,
latency, retries, outcome, tool calls and turns. :func:`observability` turns the log into
per-task, per-model indicators; :func:`render_markdown` prints them.

Outcomes: ``ok``, ``refused`` (``stop_reason: refusal``), ``invalid_output`` (the answer did
not validate against the schema), ``error`` (the call failed after retries, including
timeouts), ``truncated`` (``stop_reason: max_tokens``). Anything but ``ok`` means the task
that made the call was degraded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

LLM_CALLS_DDL = """
CREATE SCHEMA IF NOT EXISTS platform;
CREATE TABLE IF NOT EXISTS platform.llm_calls (
    call_id VARCHAR PRIMARY KEY,
    called_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR,
    asset VARCHAR,                -- the asset or asset check the call was made for
    task VARCHAR NOT NULL,        -- e.g. semantic_contract_check
    prompt_name VARCHAR NOT NULL,
    prompt_sha256 VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    input_tokens BIGINT NOT NULL,         -- uncached input only
    cache_write_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_usd DOUBLE,                      -- null when the model has no configured price
    latency_ms DOUBLE NOT NULL,
    retries INTEGER NOT NULL,
    outcome VARCHAR NOT NULL,
    detail VARCHAR,
    stop_reason VARCHAR,
    tool_calls INTEGER NOT NULL,
    tool_call_errors INTEGER NOT NULL,
    turns INTEGER NOT NULL,
    request_id VARCHAR
);
-- the calls of one tool-use conversation share it (NULL: a one-shot call)
ALTER TABLE platform.llm_calls ADD COLUMN IF NOT EXISTS conversation_id VARCHAR;
"""


@dataclass
class CallRecord:
    """One row of ``platform.llm_calls``."""

    call_id: str
    called_at: datetime
    run_id: str | None
    asset: str | None
    task: str
    prompt_name: str
    prompt_sha256: str
    model: str
    input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    latency_ms: float = 0.0
    retries: int = 0
    outcome: str = "ok"
    detail: str | None = None
    stop_reason: str | None = None
    tool_calls: int = 0
    tool_call_errors: int = 0
    turns: int = 1
    request_id: str | None = None
    # the calls of one tool-use conversation share it; ``turns`` is then the turn's number
    conversation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["called_at"] = self.called_at.isoformat()
        return out


_COLUMNS = list(CallRecord.__dataclass_fields__)


def ensure_llm_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(LLM_CALLS_DDL)
    conn.execute(LLM_TOOL_CALLS_DDL)


# Every tool call a model asked for, with its result's fate: which tool, ok or error, how long
# it took, in which turn, under which model call (``platform.llm_calls.call_id``).
LLM_TOOL_CALLS_DDL = """
CREATE SCHEMA IF NOT EXISTS platform;
CREATE TABLE IF NOT EXISTS platform.llm_tool_calls (
    call_id VARCHAR NOT NULL,
    called_at TIMESTAMPTZ NOT NULL,
    task VARCHAR NOT NULL,
    subject VARCHAR,
    tool VARCHAR NOT NULL,
    ok BOOLEAN NOT NULL,
    error VARCHAR,
    latency_ms DOUBLE NOT NULL,
    turn INTEGER NOT NULL
);
"""


@dataclass
class ToolCallRecord:
    """One row of ``platform.llm_tool_calls``."""

    call_id: str
    called_at: datetime
    task: str
    subject: str | None
    tool: str
    ok: bool
    error: str | None
    latency_ms: float
    turn: int


def record_tool_calls(conn: duckdb.DuckDBPyConnection, records: list[ToolCallRecord]) -> None:
    """Append tool calls to the governance log (creating the table when needed)."""
    if not records:
        return
    ensure_llm_tables(conn)
    columns = list(ToolCallRecord.__dataclass_fields__)
    conn.executemany(
        f"INSERT INTO platform.llm_tool_calls ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})",
        [[getattr(r, c) for c in columns] for r in records],
    )


def tool_success(
    conn: duckdb.DuckDBPyConnection, start: datetime | None = None, end: datetime | None = None
) -> dict[str, dict[str, float]]:
    """Tool-call success by tool for calls with ``start <= called_at < end``:
    ``{tool: {"calls", "ok", "success_rate", "latency_ms_p50"}}`` ({} with no log)."""
    exists = conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = 'platform' "
        "AND table_name = 'llm_tool_calls'"
    ).fetchall()
    if not exists:
        return {}
    rows = conn.execute(
        "SELECT tool, count(*), count(*) FILTER (WHERE ok), quantile_cont(latency_ms, 0.5) "
        "FROM platform.llm_tool_calls WHERE called_at >= coalesce(?, '-infinity'::TIMESTAMPTZ) "
        "AND called_at < coalesce(?, 'infinity'::TIMESTAMPTZ) GROUP BY tool ORDER BY tool",
        [start, end],
    ).fetchall()
    return {
        tool: {
            "calls": calls,
            "ok": ok,
            "success_rate": ok / calls if calls else 0.0,
            "latency_ms_p50": p50,
        }
        for tool, calls, ok, p50 in rows
    }


def render_tool_success(by_tool: dict[str, dict[str, float]]) -> str:
    """Tool-call success by tool as a Markdown table."""
    if not by_tool:
        return "No tool calls in this window."
    lines = ["| tool | calls | ok | success | latency p50 |", "|---|---|---|---|---|"]
    for tool, row in by_tool.items():
        lines.append(
            f"| {tool} | {row['calls']} | {row['ok']} | {_pct(row['success_rate'])} | "
            f"{_fmt(row['latency_ms_p50'])} ms |"
        )
    return "\n".join(lines)


def record_calls(conn: duckdb.DuckDBPyConnection, records: list[CallRecord]) -> None:
    """Append calls to the log (creating the table when needed)."""
    if not records:
        return
    ensure_llm_tables(conn)
    placeholders = ", ".join("?" for _ in _COLUMNS)
    conn.executemany(
        f"INSERT INTO platform.llm_calls ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
        [[getattr(r, c) for c in _COLUMNS] for r in records],
    )


def _has_log(conn: duckdb.DuckDBPyConnection) -> bool:
    # Readers must work on a read-only connection, so they look instead of creating.
    return bool(
        conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = 'platform' "
            "AND table_name = 'llm_calls'"
        ).fetchall()
    )


def read_calls(conn: duckdb.DuckDBPyConnection, run_id: str | None = None) -> list[CallRecord]:
    """Logged calls, oldest first, optionally for one run."""
    if not _has_log(conn):
        return []
    where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
    rows = conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM platform.llm_calls {where} ORDER BY called_at, call_id",
        params,
    ).fetchall()
    return [CallRecord(**dict(zip(_COLUMNS, row, strict=True))) for row in rows]


@dataclass
class TaskModelStats:
    """Indicators for one (task, model) over a window of the log.

    - ``cache_hit_rate``: share of input tokens read from the prompt cache.
    - ``tool_call_success_rate``: share of tool calls that did not error (None: no tool calls).
    - ``turns_p50`` / ``turns_p99``: turns per call.
    - ``refusal_rate`` / ``degraded_rate``: share of calls refused / not ``ok``.
    - ``cost_per_successful_task_usd``: all the cost spent (failed calls included) divided
      by the number of successful calls: what one usable answer really costs.
    """

    task: str
    model: str
    calls: int
    successful: int
    cache_hit_rate: float | None
    tool_call_success_rate: float | None
    turns_p50: float | None
    turns_p99: float | None
    refusal_rate: float
    degraded_rate: float
    cost_usd: float
    cost_per_successful_task_usd: float | None
    outcomes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def observability(
    conn: duckdb.DuckDBPyConnection, start: datetime | None = None, end: datetime | None = None
) -> list[TaskModelStats]:
    """Per (task, model) indicators for calls with ``start <= called_at < end``."""
    if not _has_log(conn):
        return []
    clauses, params = [], []
    if start is not None:
        clauses.append("called_at >= ?")
        params.append(start)
    if end is not None:
        clauses.append("called_at < ?")
        params.append(end)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(
        f"""
        SELECT task, model, count(*) AS calls,
               count(*) FILTER (WHERE outcome = 'ok') AS successful,
               sum(cache_read_tokens)::DOUBLE
                   / nullif(sum(input_tokens + cache_write_tokens + cache_read_tokens), 0),
               sum(tool_calls - tool_call_errors)::DOUBLE / nullif(sum(tool_calls), 0),
               NULL, NULL,
               avg(CASE WHEN outcome = 'refused' THEN 1.0 ELSE 0.0 END),
               avg(CASE WHEN outcome <> 'ok' THEN 1.0 ELSE 0.0 END),
               coalesce(sum(cost_usd), 0.0)
        FROM platform.llm_calls {where}
        GROUP BY task, model ORDER BY task, model
    """,
        params,
    ).fetchall()
    # Turns per task: a tool-use conversation is many calls sharing a ``conversation_id``
    # (``turns`` is the turn's number: its last is the task's count); a one-shot call counts
    # its own ``turns``.
    turns = {
        (task, model): (p50, p99)
        for task, model, p50, p99 in conn.execute(
            f"""
            SELECT task, model, quantile_cont(turns, 0.5), quantile_cont(turns, 0.99) FROM (
                SELECT task, model, max(turns) AS turns FROM platform.llm_calls {where}
                GROUP BY task, model, coalesce(conversation_id, call_id)
            ) GROUP BY task, model
            """,
            params,
        ).fetchall()
    }
    rows = [(*row[:6], *turns.get((row[0], row[1]), (None, None)), *row[8:]) for row in rows]
    out: list[TaskModelStats] = []
    for task, model, calls, ok, cache, tools, p50, p99, refused, degraded, cost in rows:
        outcomes = dict(
            conn.execute(
                "SELECT outcome, count(*) FROM platform.llm_calls "
                f"{where + (' AND' if where else 'WHERE')} task = ? AND model = ? GROUP BY outcome "
                "ORDER BY outcome",
                [*params, task, model],
            ).fetchall()
        )
        out.append(
            TaskModelStats(
                task=task,
                model=model,
                calls=int(calls),
                successful=int(ok),
                cache_hit_rate=_num(cache),
                tool_call_success_rate=_num(tools),
                turns_p50=_num(p50),
                turns_p99=_num(p99),
                refusal_rate=float(refused),
                degraded_rate=float(degraded),
                cost_usd=float(cost),
                cost_per_successful_task_usd=(float(cost) / ok) if ok else None,
                outcomes={k: int(v) for k, v in outcomes.items()},
            )
        )
    return out


def _num(value: Any) -> float | None:
    return (
        None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _usd(value: float | None) -> str:
    return "–" if value is None else f"${value:.4f}"


def render_markdown(stats: list[TaskModelStats], title: str = "LLM calls") -> str:
    """The indicators as a Markdown table, one row per (task, model)."""
    if not stats:
        return f"### {title}\n\nNo LLM calls in this window.\n"
    lines = [
        f"### {title}",
        "",
        "| task | model | calls | ok | cache-hit rate | tool-call success | turns p50 | turns p99 "
        "| refusal rate | degraded rate | cost | cost per successful task |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in stats:
        lines.append(
            f"| {s.task} | {s.model} | {s.calls} | {s.successful} | {_pct(s.cache_hit_rate)} "
            f"| {_pct(s.tool_call_success_rate)} | {_fmt(s.turns_p50)} | {_fmt(s.turns_p99)} "
            f"| {_pct(s.refusal_rate)} | {_pct(s.degraded_rate)} | {_usd(s.cost_usd)} "
            f"| {_usd(s.cost_per_successful_task_usd)} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


@dataclass
class Regression:
    """A (task, model) whose indicator got worse than in the previous window."""

    task: str
    model: str
    indicator: str
    previous: float
    current: float

    def describe(self) -> str:
        if self.indicator in INDICATOR_TEXT:
            what, how = INDICATOR_TEXT[self.indicator]
            show = _pct if self.indicator.endswith("rate") else _fmt
            return (
                f"{self.task} on {self.model}: {what} went from {show(self.previous)} to "
                f"{show(self.current)}; {how}"
            )
        if self.indicator == "cache_hit_rate":
            return (
                f"{self.task} on {self.model}: cache-hit rate fell from {_pct(self.previous)} "
                f"to {_pct(self.current)}; check whether the cached prefix (prompt, contract) "
                f"changes between calls"
            )
        return (
            f"{self.task} on {self.model}: cost per successful task rose from "
            f"{_usd(self.previous)} to {_usd(self.current)}; look at the degraded rate and token "
            "counts"
        )


INDICATOR_TEXT = {
    "refusal_rate": (
        "the refusal rate",
        "read the refused calls' inputs (a prompt or data change)",
    ),
    "tool_call_success_rate": (
        "the tool-call success rate",
        "platform.llm_tool_calls names the tools that fail",
    ),
    "turns_p99": ("turns per task (p99)", "the responder wanders: look at its tool calls"),
}


def compare_windows(
    current: list[TaskModelStats],
    previous: list[TaskModelStats],
    *,
    cache_hit_drop: float = 0.10,
    cost_jump: float = 1.5,
    refusal_rise: float = 0.10,
    tool_success_drop: float = 0.10,
    turns_jump: float = 1.5,
) -> list[Regression]:
    """Regressions from ``previous`` to ``current``: a cache-hit rate lower by more than
    ``cache_hit_drop`` (absolute), a cost per successful task more than ``cost_jump``
    times the previous one, a refusal rate higher by more than ``refusal_rise``, a tool-call
    success rate lower by more than ``tool_success_drop``, or turns per task (p99) more than
    ``turns_jump`` times the previous. A (task, model) absent from either window is not
    compared."""
    before = {(s.task, s.model): s for s in previous}
    found: list[Regression] = []
    for s in current:
        p = before.get((s.task, s.model))
        if p is None:
            continue
        if s.refusal_rate - p.refusal_rate > refusal_rise:
            found.append(
                Regression(s.task, s.model, "refusal_rate", p.refusal_rate, s.refusal_rate)
            )
        if (
            p.tool_call_success_rate is not None
            and s.tool_call_success_rate is not None
            and p.tool_call_success_rate - s.tool_call_success_rate > tool_success_drop
        ):
            found.append(
                Regression(
                    s.task,
                    s.model,
                    "tool_call_success_rate",
                    p.tool_call_success_rate,
                    s.tool_call_success_rate,
                )
            )
        if p.turns_p99 and s.turns_p99 is not None and s.turns_p99 > turns_jump * p.turns_p99:
            found.append(Regression(s.task, s.model, "turns_p99", p.turns_p99, s.turns_p99))
        if (
            p.cache_hit_rate is not None
            and s.cache_hit_rate is not None
            and p.cache_hit_rate - s.cache_hit_rate > cache_hit_drop
        ):
            found.append(
                Regression(s.task, s.model, "cache_hit_rate", p.cache_hit_rate, s.cache_hit_rate)
            )
        if (
            p.cost_per_successful_task_usd
            and s.cost_per_successful_task_usd is not None
            and s.cost_per_successful_task_usd > cost_jump * p.cost_per_successful_task_usd
        ):
            found.append(
                Regression(
                    s.task,
                    s.model,
                    "cost_per_successful_task",
                    p.cost_per_successful_task_usd,
                    s.cost_per_successful_task_usd,
                )
            )
        elif p.cost_per_successful_task_usd and s.calls and not s.successful:
            # No success at all while there were successes before: the cost per success is infinite.
            found.append(
                Regression(
                    s.task,
                    s.model,
                    "cost_per_successful_task",
                    p.cost_per_successful_task_usd,
                    float("inf"),
                )
            )
    return found


def windows(
    now: datetime | None = None, length: timedelta = timedelta(days=1)
) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """(current, previous) windows of ``length`` ending at ``now``."""
    now = now or datetime.now(UTC)
    return (now - length, now), (now - 2 * length, now - length)
