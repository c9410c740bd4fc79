"""``platform-assets contracts``: check data files against ODCS contracts, lint contracts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from platform_assets.cli.common import EXIT_FAILED, EXIT_OK, fail_usage


@click.group()
def contracts() -> None:
    """Check data files against ODCS data contracts, and lint contracts."""


def _claude_client(no_llm: bool):
    """Claude for the CLI when a key is set (or Bedrock is configured) and --no-llm is not given."""
    from platform_assets.core.llm.client import ClaudeClient, ClaudeConfig

    if no_llm:
        return None
    config = ClaudeConfig.from_env()
    client = ClaudeClient(config)
    return client if client.enabled else None


@contracts.command("check")
@click.argument("contract", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--reference", type=click.Path(path_type=Path), help="CSV or Parquet of the last accepted batch, "
              "to check semantic drift against.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--no-llm", is_flag=True, help="Do not ask Claude, even when ANTHROPIC_API_KEY is set.")
def contracts_check(contract: Path, data: Path, reference: Path | None, as_json: bool, no_llm: bool) -> None:
    """Check DATA (CSV or Parquet) against CONTRACT (ODCS v3 YAML).

    Exits 0 when the batch passes, 1 when it violates the contract, 2 on a usage error or
    an invalid contract.
    """
    from platform_assets.core import warehouse
    from platform_assets.core.settings import Settings
    from platform_assets.core.validation import semantic_llm
    from platform_assets.core.validation.batch import BatchError, batch_from_file
    from platform_assets.core.validation.contract import ContractError, load_contract
    from platform_assets.core.validation.engine import NO_REFERENCE_NOTE, check_batch

    try:
        parsed = load_contract(contract)
    except ContractError as exc:
        fail_usage(str(exc))
    conn = warehouse.connect(":memory:")
    try:
        reference_profile, reference_note = None, None
        if reference is not None:
            ref_batch = batch_from_file(conn, reference, parsed.parsed_types())
            shared = set(ref_batch.columns) & {c.name for c in parsed.columns}
            if ref_batch.row_count == 0:
                fail_usage(f"{reference}: the reference has no rows; pass the last accepted batch, or leave out "
                            f"--reference")
            if shared:
                reference_profile = check_batch(conn, ref_batch, parsed).profile
            else:
                reference_note = (f"drift was not checked: the reference {reference} has none of the contract's "
                                  f"columns ({', '.join(c.name for c in parsed.columns)})")
        batch = batch_from_file(conn, data, parsed.parsed_types())
        verdict = check_batch(conn, batch, parsed, reference_profile,
                              f"file {reference}" if reference_profile is not None else None)
        if reference_note:  # more precise than the engine's "no reference" note
            verdict.notes = [n for n in verdict.notes if n != NO_REFERENCE_NOTE] + [reference_note]
        client = _claude_client(no_llm)
        llm = None
        if client is not None:
            # Every call is logged in the warehouse's governance table, CLI calls included.
            with warehouse.session(Settings.from_env().warehouse_path) as log_conn:
                result = semantic_llm.semantic_check(conn, batch, parsed, verdict, client,
                                                     asset="cli:contracts check", log_conn=log_conn)
            verdict, llm = result.verdict, semantic_llm.llm_summary(result)
        elif no_llm:
            verdict.notes.append(semantic_llm.TURNED_OFF_NOTE)
        else:
            verdict.notes.append(semantic_llm.NO_KEY_NOTE)
    except BatchError as exc:
        fail_usage(str(exc))
    finally:
        conn.close()
    if as_json:
        out = {"passes": verdict.passes,
               "violations": [{k: v.to_dict()[k] for k in ("field", "rule", "detail", "severity", "source")}
                              for v in verdict.violations],
               "rows": verdict.row_count, "decided_by": verdict.decided_by, "notes": verdict.notes}
        if llm is not None:
            out["llm"] = llm
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        click.echo(f"{data}: {verdict.row_count} rows, contract {parsed.id} {parsed.version}")
        for v in verdict.violations:
            click.echo(f"  [{v.severity}] {v.field or '(table)'} · {v.rule} ({v.source}): {v.detail}")
        for note in verdict.notes:
            click.echo(f"  note: {note}")
        click.echo("PASS" if verdict.passes else f"FAIL: {len(verdict.errors)} error(s)")
    sys.exit(EXIT_OK if verdict.passes else EXIT_FAILED)


@contracts.command("lint")
@click.argument("contract", type=click.Path(path_type=Path))
def contracts_lint(contract: Path) -> None:
    """Parse CONTRACT and explain each problem with its field and line. Exits 0 or 2."""
    from platform_assets.core.validation.contract import ContractError, load_contract

    try:
        parsed = load_contract(contract)
    except ContractError as exc:
        fail_usage(str(exc))
    rules = sum(len(c.quality) for c in parsed.columns) + len(parsed.quality)
    click.echo(f"{contract}: ok: {parsed.id} {parsed.version}, table {parsed.table}, {len(parsed.columns)} columns, "
               f"{rules} quality rules, sensitive: {', '.join(parsed.sensitive_columns) or 'none'}")
