"""Inputs and environments a command cannot use end in one line on stderr naming the file or
setting and what to do, with exit 2 (130 for a signal): never a traceback. Each case is a
real file, a real signal or a real full disk (a tmpfs mounted for the test)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import CONTRACT_PATH, REPO


def _env(home: Path, **more: str) -> dict[str, str]:
    # Only this home: none of the developer's platform settings or Dagster instance.
    env = {
        k: v
        for k, v in subprocess_env().items()
        if not k.startswith("PLATFORM_ASSETS_") and k != "DAGSTER_HOME"
    }
    return env | {"PLATFORM_ASSETS_HOME": str(home), "RUNTIME__LOG_LEVEL": "ERROR", **more}


def _cli(home: Path, *args, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=_env(home, **env),
        timeout=600,
    )


def _one_line(result: subprocess.CompletedProcess, code: int = 2) -> str:
    assert result.returncode == code, result.stdout + result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    path = tmp_path / "batch.parquet"
    pq.write_table(pa.table({"transaction_id": ["t1"], "amount_cents": [120]}), path)
    return path


def test_swapped_contracts_check_arguments_say_so(tmp_path: Path, parquet: Path):
    line = _one_line(_cli(tmp_path, "contracts", "check", parquet, CONTRACT_PATH))
    assert str(parquet) in line and "did you swap them?" in line, line
    csv = tmp_path / "batch.csv"
    csv.write_text("transaction_id\nt1\n")
    line = _one_line(_cli(tmp_path, "contracts", "check", csv, CONTRACT_PATH))
    assert "is data, not a contract" in line and "did you swap them?" in line, line


def test_lint_of_a_parquet_file_is_not_a_contract(tmp_path: Path, parquet: Path):
    line = _one_line(_cli(tmp_path, "contracts", "lint", parquet))
    assert str(parquet) in line and "not a contract" in line, line
    renamed = tmp_path / "contract.yaml"  # the bytes, not the name, give it away
    shutil.copyfile(parquet, renamed)
    line = _one_line(_cli(tmp_path, "contracts", "lint", renamed))
    assert str(renamed) in line and "Parquet file is data" in line, line


def test_a_csv_header_over_128_kib_is_named(tmp_path: Path):
    data = tmp_path / "wide.csv"
    data.write_text("a" * 140_000 + ",b\n1,2\n")
    line = _one_line(_cli(tmp_path, "contracts", "check", CONTRACT_PATH, data))
    assert str(data) in line and "header line" in line and "128 KiB" in line, line


def test_a_huge_csv_field_error_is_short_and_echoes_no_value(tmp_path: Path):
    data = tmp_path / "huge.csv"
    with data.open("w") as handle:
        handle.write("transaction_id,user_id,amount_cents\nt1,alice@example.com,100\n")
        handle.write('t2,bob.secret@example.com,"' + "x" * 3_000_000 + '",extra\n')
    line = _one_line(_cli(tmp_path, "contracts", "check", CONTRACT_PATH, data))
    assert str(data) in line and "Line: 3" in line, line
    assert len(line) < 600 and "bob.secret" not in line and "xxxxxxxx" not in line, line


def _damage(path: Path, how: str) -> None:
    import duckdb

    if how == "not duckdb":
        path.write_bytes(os.urandom(20_000))
        return
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA platform")
        conn.execute(
            "CREATE TABLE platform.batch_manifest AS "
            "SELECT range AS i, repeat('x', 100) AS s FROM range(200000)"
        )
    size = path.stat().st_size
    with path.open("r+b") as handle:
        if how == "truncated":
            handle.truncate(size // 2)
        else:  # blocks overwritten: DuckDB's checksums catch it
            handle.seek(4096)
            handle.write(os.urandom(8192))


@pytest.mark.parametrize("how", ["not duckdb", "truncated", "overwritten"])
def test_a_corrupted_warehouse_file_is_named(tmp_path: Path, how: str):
    _damage(tmp_path / "warehouse.duckdb", how)
    line = _one_line(_cli(tmp_path, "quarantine", "list"))
    assert line.startswith(f"error: {tmp_path / 'warehouse.duckdb'}: the warehouse cannot be read")
    assert "restore it from a backup" in line and "PLATFORM_ASSETS_WAREHOUSE" in line, line


def test_hand_broken_registry_json_is_named(tmp_path: Path):
    model = tmp_path / "artifacts" / "registry" / "fraud_model"
    (model / "versions" / "v0001").mkdir(parents=True)
    (model / "aliases.json").write_text('{"champion": 1,')
    line = _one_line(_cli(tmp_path, "models", "list"))
    assert str(model / "aliases.json") in line and "not valid JSON" in line, line
    (model / "aliases.json").write_text('{"champion": 1, "challenger": null, "history": []}')
    (model / "versions" / "v0001" / "version.json").write_text("[1, 2")
    line = _one_line(_cli(tmp_path, "models", "list"))
    assert str(model / "versions" / "v0001" / "version.json") in line, line


@pytest.mark.parametrize(
    "args", [("models", "list"), ("tickets", "list"), ("quarantine", "list"), ("costs",)]
)
def test_platform_assets_home_pointing_at_a_file(tmp_path: Path, args):
    home = tmp_path / "home.txt"
    home.write_text("not a directory")
    line = _one_line(_cli(home, *args))
    assert f"PLATFORM_ASSETS_HOME='{home}' is a file, not a directory" in line, line


def test_sigterm_on_contracts_lint_is_a_clean_exit(tmp_path: Path):
    fifo = tmp_path / "contract.yaml"
    os.mkfifo(fifo)  # lint blocks reading it: the signal arrives mid-command
    process = subprocess.Popen(
        [sys.executable, "-m", "platform_assets.cli", "contracts", "lint", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=_env(tmp_path),
    )
    # A writer can open the FIFO without blocking only once the command has it open to read:
    # then the command is past its imports, waiting in read(), when the signal comes.
    deadline = time.monotonic() + 120
    while True:
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, process.poll()
            time.sleep(0.1)
    try:
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        os.close(writer)
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    assert _one_line(result, code=130) == "interrupted"


@pytest.fixture
def full_disk(tmp_path: Path):
    """A 4 MiB tmpfs for ``PLATFORM_ASSETS_HOME`` (so the Dagster instance's SQLite), with
    the instance created and then every free byte taken."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / f"full-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        warehouse = tmp_path / "warehouse.duckdb"  # not on the full disk: the instance is
        env = _env(mount, PLATFORM_ASSETS_WAREHOUSE=str(warehouse))
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from platform_assets.runner import get_instance; get_instance().get_runs()",
            ],
            check=True,
            cwd=REPO,
            env=env,
            capture_output=True,
        )
        assert (mount / "dagster_home").is_dir()
        with open(mount / "filler", "wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        yield mount, warehouse
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_under_the_instance_is_named(full_disk):
    mount, warehouse = full_disk
    result = _cli(
        mount,
        "checks",
        "run",
        "--select",
        "raw/transactions",
        "--partition",
        "2026-11-04",
        "--materialize",
        PLATFORM_ASSETS_WAREHOUSE=str(warehouse),
        PLATFORM_ASSETS_ROWS_PER_PARTITION="100",
    )
    line = _one_line(result)
    assert f"DAGSTER_HOME={mount / 'dagster_home'}" in line and "free space" in line, line
