"""Tokens the semantic contract check sends to Claude, measured against the scripted server.

Two questions:

1. Does what we send grow with the batch? Tokens per check for a 10k-row and a 10M-row
   batch of the same day (aim: ratio <= 1.05). Only the profile's numbers and a fixed
   sample of rows are sent, so it should not.
2. How much of the input is read from the prompt cache when the same contract is checked
   ten times in a row (aim: >= 80%)? Measured for the same batch ten times (re-runs,
   retries) and for ten different daily batches (the daily schedule), with the default
   single cache breakpoint (prompt + contract) and with ``cache_data=True`` (a second
   breakpoint after the batch data).

The real ``anthropic`` SDK talks to the scripted loopback server
(``platform_assets_tests/support/scripted_server.py``), which counts tokens as characters / 4
and caches a ``cache_control`` prefix of at least 1024 tokens the way the API does. The
absolute numbers are estimates; the ratios are what this measures.

Run: ``.venv/bin/python benchmarks/bench_llm_tokens.py`` (about a minute, ~3 GB of RAM for
the 10M-row batch).
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from platform_assets.core.ingestion.bundled import generate_transactions  # noqa: E402
from platform_assets.core.llm.client import ClaudeClient, ClaudeConfig  # noqa: E402
from platform_assets.core.llm.governance import CallRecord  # noqa: E402
from platform_assets.core.validation.batch import batch_from_sql, drop_batch  # noqa: E402
from platform_assets.core.validation.contract import load_contract  # noqa: E402
from platform_assets.core.validation.engine import check_batch  # noqa: E402
from platform_assets.core.validation.semantic_llm import semantic_check  # noqa: E402
from platform_assets_tests.support.scripted_server import ScriptedServer  # noqa: E402

CONTRACT = ROOT / "contracts" / "fct_transactions.odcs.yaml"
DAY = date(2026, 11, 1)


def check(conn: duckdb.DuckDBPyConnection, client: ClaudeClient, contract, table) -> CallRecord:
    """One full contract check (rules, then Claude) of an Arrow table; the Claude call's record."""
    conn.register("src", table)
    batch = batch_from_sql(conn, "SELECT * FROM src", "bench")
    try:
        verdict = check_batch(conn, batch, contract)
        result = semantic_check(conn, batch, contract, verdict, client)
    finally:
        drop_batch(conn, batch)
        conn.unregister("src")
    assert result.outcome == "ok", result.reason
    return result.calls[0]


def sent(record: CallRecord) -> int:
    return record.input_tokens + record.cache_write_tokens + record.cache_read_tokens


def cache_share(records: list[CallRecord]) -> float:
    return sum(r.cache_read_tokens for r in records) / sum(sent(r) for r in records)


def main() -> int:
    contract = load_contract(CONTRACT)
    rows: list[tuple[str, str, str, str]] = []
    started = time.perf_counter()
    with ScriptedServer() as server, duckdb.connect() as conn:
        client = ClaudeClient(
            ClaudeConfig(api_key="sk-ant-bench", base_url=server.url, max_retries=0)
        )

        small = check(conn, client, contract, generate_transactions(DAY, 10_000))
        big_table = generate_transactions(DAY, 10_000_000)
        big = check(conn, client, contract, big_table)
        del big_table
        ratio = sent(big) / sent(small)
        rows.append(("tokens per check, 10k rows", f"{sent(small):,}", "", ""))
        rows.append(("tokens per check, 10M rows", f"{sent(big):,}", "", ""))
        rows.append(
            ("ratio 10M / 10k", f"{ratio:.3f}", "<= 1.05", "ok" if ratio <= 1.05 else "MISSED")
        )

        # A fresh server cache for the repeat runs: the first call of each series writes it.
        with ScriptedServer() as fresh:
            client = ClaudeClient(
                ClaudeConfig(api_key="sk-ant-bench", base_url=fresh.url, max_retries=0)
            )
            same_table = generate_transactions(DAY, 10_000)
            same = [check(conn, client, contract, same_table) for _ in range(10)]
            daily = [
                check(
                    conn, client, contract, generate_transactions(DAY + timedelta(days=d), 10_000)
                )
                for d in range(1, 11)
            ]
            # The same, with the batch data cached too (ClaudeConfig.cache_data).
            client = ClaudeClient(
                ClaudeConfig(
                    api_key="sk-ant-bench", base_url=fresh.url, max_retries=0, cache_data=True
                )
            )
            same_cached = [check(conn, client, contract, same_table) for _ in range(10)]
            daily_cached = [
                check(
                    conn, client, contract, generate_transactions(DAY + timedelta(days=d), 10_000)
                )
                for d in range(11, 21)
            ]
        share_same, share_daily = cache_share(same), cache_share(daily)
        prefix = same[0].cache_write_tokens
        rows.append(("cached prefix (prompt + contract)", f"{prefix:,}", "", ""))
        rows.append(
            ("per-batch part (profile + 20-row sample)", f"{same[0].input_tokens:,}", "", "")
        )
        rows.append(
            (
                "cache-read share, same contract x10, same batch",
                f"{share_same:.1%}",
                ">= 80%",
                "ok" if share_same >= 0.8 else "MISSED",
            )
        )
        rows.append(
            (
                "cache-read share, same contract x10, 10 daily batches",
                f"{share_daily:.1%}",
                ">= 80%",
                "ok" if share_daily >= 0.8 else "MISSED",
            )
        )
        for label, records in (("same batch", same_cached), ("10 daily batches", daily_cached)):
            share = cache_share(records)
            rows.append(
                (
                    f"  with cache_data=True, {label}",
                    f"{share:.1%}",
                    ">= 80%",
                    "ok" if share >= 0.8 else "MISSED",
                )
            )
        for label, records in (("default", daily), ("cache_data=True", daily_cached)):
            cost = sum(r.cost_usd or 0 for r in records) / len(records)
            rows.append(
                (f"cost per daily check, sonnet-4-6 prices, {label}", f"${cost:.4f}", "", "")
            )

    widths = [max(len(r[i]) for r in [*rows, ("measure", "value", "aim", "")]) for i in range(4)]
    header = ("measure", "value", "aim", "")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(
        f"\n({time.perf_counter() - started:.0f} s; tokens ≈ characters / 4, counted by the "
        "scripted server)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
