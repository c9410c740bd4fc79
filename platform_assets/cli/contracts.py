"""``platform-assets contracts``: check data files against ODCS contracts, lint contracts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from platform_assets.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail_usage


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


# Not .json: JSON is YAML, and a contract may be written in it.
DATA_SUFFIXES = (".csv", ".parquet", ".jsonl", ".ndjson", ".gz", ".zip")
CONTRACT_SUFFIXES = (".yaml", ".yml")


def _not_a_contract(path: Path) -> str | None:
    """Why ``path`` cannot be a contract, before the YAML parser sees it: a data file (by its
    name, or Parquet's magic bytes), or bytes that are not UTF-8 text. ``None`` when it may be."""
    import codecs

    if path.suffix.lower() in DATA_SUFFIXES:
        return (
            f"{path}: a {path.suffix} file is data, not a contract; a contract is ODCS YAML (.yaml)"
        )
    try:
        with path.open("rb") as handle:
            head = handle.read(64 * 1024)
    except OSError:
        return None  # the loader says what is wrong with the path
    if head.startswith(b"PAR1"):
        return f"{path}: a Parquet file is data, not a contract; a contract is ODCS YAML (.yaml)"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        return (
            f"{path}: not a contract: byte {exc.start} is not UTF-8 text (a binary or data file?); "
            f"a contract is ODCS YAML (.yaml) in UTF-8"
        )
    return None


def _refuse_non_contract(contract: Path, data: Path) -> None:
    problem = _not_a_contract(contract)
    if problem is None:
        return
    if data.suffix.lower() in CONTRACT_SUFFIXES:
        problem += (
            f"; the arguments are CONTRACT then DATA, did you swap them? "
            f"(platform-assets contracts check {data} {contract})"
        )
    fail_usage(problem)


@contracts.command("check")
@click.argument("contract", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--reference",
    type=click.Path(path_type=Path),
    help="CSV or Parquet of the last accepted batch, to check semantic drift against.",
)
@click.option(
    "--table", help="Which table of a contract that describes several (physicalName or name)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option(
    "--no-llm", is_flag=True, help="Do not ask Claude, even when ANTHROPIC_API_KEY is set."
)
def contracts_check(
    contract: Path,
    data: Path,
    reference: Path | None,
    table: str | None,
    as_json: bool,
    no_llm: bool,
) -> None:
    """Check DATA (CSV, JSON Lines or Parquet) against CONTRACT (ODCS v3 YAML).

    Text files are read as the contract says: declared strings stay as written, declared
    numbers, booleans, dates and times are parsed (a value that does not parse is a
    violation with its row count and an example). A Parquet file is checked in place.

    Exits 0 when the batch passes, 1 when it violates the contract, 2 on a usage error or
    an invalid contract.
    """
    from platform_assets.core import warehouse
    from platform_assets.core.settings import Settings
    from platform_assets.core.validation import semantic_llm
    from platform_assets.core.validation.batch import BatchError, batch_from_file
    from platform_assets.core.validation.contract import ContractError, load_contract
    from platform_assets.core.validation.engine import NO_REFERENCE_NOTE, check_batch

    _refuse_non_contract(contract, data)
    try:
        parsed = load_contract(contract, table)
    except ContractError as exc:
        fail_usage(str(exc))
    if table is None and len(parsed.tables) > 1:
        fail_usage(
            f"{contract}: the contract describes {len(parsed.tables)} tables "
            f"({', '.join(parsed.tables)}): choose the one {data} holds with --table NAME"
        )
    if parsed.table is None:
        fail_usage(
            f"{contract}: the contract describes no table (no 'schema'): there is nothing to check "
            f"{data} against. Add the table under 'schema', or check it with the contract that has "
            "it."
        )
    conn = warehouse.connect(":memory:")
    # Timestamps written without an offset are read as UTC, wherever the command runs; the
    # output is the verdict, not DuckDB's progress bar.
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET enable_progress_bar = false")
    try:
        reference_profile, reference_note = None, None
        if reference is not None:
            ref_batch = batch_from_file(conn, reference, parsed.parsed_types())
            shared = set(ref_batch.columns) & {c.name for c in parsed.columns}
            if ref_batch.row_count == 0:
                fail_usage(
                    f"{reference}: the reference has no rows; pass the last accepted batch, or "
                    "leave out --reference"
                )
            if shared:
                reference_profile = check_batch(conn, ref_batch, parsed).profile
            else:
                reference_note = (
                    f"drift was not checked: the reference {reference} has none of the contract's "
                    f"columns ({', '.join(c.name for c in parsed.columns)})"
                )
        batch = batch_from_file(conn, data, parsed.parsed_types())
        verdict = check_batch(
            conn,
            batch,
            parsed,
            reference_profile,
            f"file {reference}" if reference_profile is not None else None,
        )
        if reference_note:  # more precise than the engine's "no reference" note
            verdict.notes = [n for n in verdict.notes if n != NO_REFERENCE_NOTE] + [reference_note]
        verdict.notes += [f"not run by this platform: {part}" for part in parsed.not_run]
        client = _claude_client(no_llm)
        llm = None
        if client is not None:
            from platform_assets.core.llm.governance import record_calls

            # No warehouse connection is open while Claude thinks (a DuckDB file's write lock
            # would stop every other writer for the whole call): the call is logged in the
            # in-memory connection first, then its records are written in a short session.
            result = semantic_llm.semantic_check(
                conn, batch, parsed, verdict, client, asset="cli:contracts check"
            )
            # Every call is logged in the warehouse's governance table, CLI calls included.
            with warehouse.session(Settings.from_env().warehouse) as log_conn:
                record_calls(log_conn, result.calls)
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
        out = {
            "passes": verdict.passes,
            "violations": [
                {k: v.to_dict()[k] for k in ("field", "rule", "detail", "severity", "source")}
                for v in verdict.violations
            ],
            "rows": verdict.row_count,
            "decided_by": verdict.decided_by,
            "notes": verdict.notes,
        }
        if llm is not None:
            out["llm"] = llm
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        click.echo(f"{data}: {verdict.row_count} rows, contract {parsed.id} {parsed.version}")
        for v in verdict.violations:
            click.echo(
                f"  [{v.severity}] {v.field or '(table)'} · {v.rule} ({v.source}): {v.detail}"
            )
        for note in verdict.notes:
            click.echo(f"  note: {note}")
        click.echo("PASS" if verdict.passes else f"FAIL: {len(verdict.errors)} error(s)")
    sys.exit(EXIT_OK if verdict.passes else EXIT_FAILED)


@contracts.command("lint")
@click.argument(
    "contracts_", metavar="CONTRACT...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one result per contract as a JSON list."
)
def contracts_lint(contracts_: tuple[Path, ...], as_json: bool) -> None:
    """Validate each CONTRACT against the ODCS standard and say what this platform runs.

    Invalid ODCS, and valid ODCS this platform cannot check as written (a pattern RE2
    cannot run, a bound that is not a number or a date, a SQL rule that is not one
    read-only SELECT over the batch), exit 2 naming each field and line; so does a file in
    the contracts folder (PLATFORM_ASSETS_CONTRACTS_DIR) that governs a table another file
    there governs too.
    Valid ODCS exits 0; parts the platform does not run (custom quality rules, relationships,
    nested contents, SLAs, …) are listed as warnings, each with its field and line.
    """
    from platform_assets.core.settings import Settings
    from platform_assets.core.validation.contract import AMBIGUOUS, duplicate_tables

    results = [_lint_one(path) for path in contracts_]
    # A file in the platform's contracts folder must be the only one there for its tables:
    # the pipeline looks contracts up by table in that folder.
    folder = Path(Settings.from_env().contracts_dir).resolve()
    linted = {path.resolve(): path for path in contracts_ if path.resolve().parent == folder}
    siblings = sorted(folder.glob("*.odcs.yaml")) + sorted(folder.glob("*.odcs.yml"))
    shown = [linted.get(p.resolve(), p) for p in siblings] if linted else []
    for problem, files in duplicate_tables(shown):
        for result in results:
            if Path(result["file"]) in files:
                head = result.get("message") or (
                    f"{result['file']}: more than one contract governs a table:"
                )
                result["problems"].append(problem)
                result.update(checkable=False, verdict=AMBIGUOUS, message=f"{head}\n  - {problem}")
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        for result in results:
            _echo_lint(result)
    sys.exit(EXIT_USAGE if any(r["problems"] for r in results) else EXIT_OK)


def _lint_one(path: Path) -> dict:
    """What lint says about one contract, as plain values."""
    from platform_assets.core.validation.contract import (
        INVALID_ODCS,
        ContractError,
        load_contract_tables,
    )

    problem = _not_a_contract(path)
    if problem is not None:
        return {
            "file": str(path),
            "valid_odcs": False,
            "checkable": False,
            "verdict": "not a contract",
            "problems": [problem],
            "message": problem,
            "not_run": [],
            "tables": [],
        }
    try:
        tables = load_contract_tables(path)
    except ContractError as exc:
        return {
            "file": str(path),
            "valid_odcs": exc.kind != INVALID_ODCS,
            "checkable": False,
            "verdict": exc.kind,
            "problems": exc.problems,
            "message": str(exc),
            "not_run": [],
            "tables": [],
        }
    first = tables[0]
    summaries = [
        {
            "table": t.table,
            "columns": len(t.columns),
            "quality_rules": sum(len(c.quality) for c in t.columns) + len(t.quality),
            "sensitive": list(t.sensitive_columns),
            "withheld_from_claude": t.withheld_columns(),
        }
        for t in tables
        if t.table is not None
    ]
    return {
        "file": str(path),
        "valid_odcs": True,
        "checkable": True,
        "verdict": "valid ODCS" if summaries else "valid ODCS, nothing to check",
        "problems": [],
        "id": first.id,
        "version": first.version,
        "apiVersion": first.api_version,
        "tables": summaries,
        "not_run": list(dict.fromkeys(part for t in tables for part in t.not_run)),
    }


def _echo_lint(result: dict) -> None:
    if result["problems"]:
        click.echo(f"error: {result['message']}", err=True)
        return
    head = (
        f"{result['file']}: ok: valid ODCS {result['apiVersion']}, {result['id']} "
        f"{result['version']}"
    )
    if not result["tables"]:
        click.echo(f"{head}: nothing to check (the contract describes no table)")
    for t in result["tables"]:
        click.echo(
            f"{head}, table {t['table']}, {t['columns']} columns, {t['quality_rules']} quality "
            f"rules, sensitive: {', '.join(t['sensitive']) or 'none'}"
        )
        withheld = t["withheld_from_claude"]
        click.echo(
            "  withheld from Claude (no value is sent, no violation quotes one): "
            + (", ".join(f"{name} ({why})" for name, why in withheld.items()) or "none")
        )
    if result["not_run"]:
        click.echo(f"  not run by this platform ({len(result['not_run'])}):")
        for part in result["not_run"]:
            click.echo(f"    - warning: {part}")


@contracts.command("diff")
@click.argument(
    "files", metavar="[OLD] NEW", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option(
    "--against",
    "ref",
    metavar="GIT_REF",
    help="Compare NEW with its own file at this git revision "
    "(e.g. origin/main) instead of an OLD file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def contracts_diff(files: tuple[Path, ...], ref: str | None, as_json: bool) -> None:
    """Classify every change between two versions of a contract as breaking or not.

    Breaking for the data's consumers: a table or column removed or renamed, a type changed,
    required/unique added, an enum or validValues shrunk, a pattern changed, bounds or
    quality thresholds tightened, a classification relaxed (pii -> public). Not breaking: an
    optional column added, descriptions changed, bounds widened, an enum extended.

    Exits 1 when a change is breaking and the contract's major version was not bumped (so
    CI can gate pull requests), 0 otherwise, 2 on a usage error or an unreadable contract.
    """
    import tempfile

    from platform_assets.core.validation.contract import ContractError
    from platform_assets.core.validation.diff import diff_contracts, read_at_revision

    if ref is None and len(files) != 2:
        fail_usage("contracts diff takes OLD and NEW, or NEW with --against GIT_REF")
    if ref is not None and len(files) != 1:
        fail_usage(
            "with --against GIT_REF, give only NEW (the old version is NEW's file at GIT_REF)"
        )
    new = files[-1]
    if not new.is_file():
        fail_usage(f"{new}: file not found")
    with tempfile.TemporaryDirectory() as scratch:
        old, label = (files[0], str(files[0])) if ref is None else (None, "")
        if ref is not None:
            try:
                text, label = read_at_revision(new, ref)
            except ValueError as exc:
                fail_usage(str(exc))
            if text is None:
                message = f"{new}: not in {ref}: a new contract, nothing to compare; nothing breaks"
                click.echo(
                    json.dumps(
                        {
                            "new": {"file": str(new)},
                            "changes": [],
                            "breaking": 0,
                            "passes": True,
                            "note": message,
                        },
                        indent=2,
                    )
                    if as_json
                    else message
                )
                sys.exit(EXIT_OK)
            old = Path(scratch) / new.name
            old.write_text(text, encoding="utf-8")
        try:
            result = diff_contracts(old, new, old_label=label)
        except ContractError as exc:
            fail_usage(str(exc).replace(str(old), label) if ref is not None else str(exc))
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, default=str))
    else:
        click.echo(
            f"{result.old_path} ({result.old_version}) -> {result.new_path} "
            f"({result.new_version}): {len(result.changes)} change(s), {len(result.breaking)} "
            "breaking"
        )
        for change in result.changes:
            where = ".".join(p for p in (change.table, change.column) if p) or "(contract)"
            click.echo(
                f"  {'BREAKING' if change.breaking else 'ok      '}  {where}: {change.change}: "
                f"{change.detail}" + (f" [{change.location}]" if change.location else "")
            )
        if result.breaking and result.major_bumped:
            click.echo(
                f"PASS: breaking changes with a major version bump ({result.old_version} -> "
                f"{result.new_version})"
            )
        elif result.breaking:
            click.echo(
                f"FAIL: {len(result.breaking)} breaking change(s) and the major version did not go "
                f"up ({result.old_version} -> {result.new_version}): bump the major version or "
                "undo them"
            )
        else:
            click.echo("PASS: nothing breaks")
    sys.exit(EXIT_OK if result.passes else EXIT_FAILED)
