"""A Claude call cannot outlast its total deadline, and holds no warehouse lock while it waits.

- A gateway that answers a byte now and then never trips the SDK's per-read timeout: the
  total deadline (``PLATFORM_CLAUDE_DEADLINE_SECONDS``) ends ``contracts check`` anyway, and
  the check is reported degraded, never passed.
- While the scripted Claude server holds its answer, another process writes the warehouse.
- Whatever a task puts in a request, no secret of the environment reaches Claude.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel

from platform_assets.core.ingestion.bundled import generate_transactions
from platform_assets.core.llm.client import ClaudeClient, ClaudeConfig
from platform_assets.core.llm.prompts import Prompt
from platform_assets.core.settings import SettingsError
from platform_assets.core.warehouse import session
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import CONTRACT_PATH
from platform_assets_tests.support.scripted_server import Reply, ScriptedServer

DEADLINE = 3.0
CHECK = [sys.executable, "-m", "platform_assets.cli", "contracts", "check"]


@contextmanager
def trickling_server(every: float = 0.5) -> Iterator[str]:
    """A loopback HTTP server that answers every POST with headers, then one byte of the
    body every ``every`` seconds, forever (until the client goes away)."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "1000000")
            self.end_headers()
            try:
                while not stop.is_set():
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(every)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def _batch_file(tmp_path: Path) -> Path:
    path = tmp_path / "batch.parquet"
    pq.write_table(generate_transactions("2026-11-01", 200), path)
    return path


def test_a_trickling_gateway_ends_at_the_deadline_and_reads_degraded(tmp_path):
    data = _batch_file(tmp_path)
    with trickling_server() as url:
        env = subprocess_env(
            ANTHROPIC_API_KEY="test-key",
            ANTHROPIC_BASE_URL=url,
            PLATFORM_ASSETS_HOME=str(tmp_path / "home"),
            PLATFORM_CLAUDE_DEADLINE_SECONDS=str(DEADLINE),
        )
        started = time.monotonic()
        try:
            done = subprocess.run(
                [*CHECK, str(CONTRACT_PATH), str(data), "--json"],
                env=env,
                capture_output=True,
                text=True,
                timeout=90,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError("contracts check was still waiting on Claude after 90 s") from exc
        seconds = time.monotonic() - started
    # Start-up (imports, the rules) plus the deadline; the SDK's own per-read timeout is 60 s.
    assert seconds < DEADLINE + 40, f"{seconds:.0f} s"
    assert done.returncode == 1, done.stdout + done.stderr
    assert '"passes": false' in done.stdout
    assert "total deadline of 3 s" in done.stdout, done.stdout
    assert "PLATFORM_CLAUDE_DEADLINE_SECONDS" in done.stdout


def test_no_warehouse_lock_is_held_while_claude_thinks(tmp_path):
    data = _batch_file(tmp_path)
    warehouse = tmp_path / "home" / "warehouse.duckdb"
    with session(warehouse):  # an existing warehouse, with the platform's tables
        pass
    with ScriptedServer([Reply(delay=12.0)]) as server:
        env = subprocess_env(
            ANTHROPIC_API_KEY="test-key",
            ANTHROPIC_BASE_URL=server.url,
            PLATFORM_ASSETS_HOME=str(tmp_path / "home"),
            PLATFORM_ASSETS_WAREHOUSE=str(warehouse),
        )
        check = subprocess.Popen(
            [*CHECK, str(CONTRACT_PATH), str(data)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not server.requests and time.monotonic() < deadline:
                time.sleep(0.2)
            assert server.requests, "contracts check never asked Claude"
            # Claude is thinking (12 s): another process writes the warehouse file, at once
            # (plain duckdb.connect does not wait for a lock).
            writer = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import duckdb, sys\n"
                    "c = duckdb.connect(sys.argv[1])\n"
                    "c.execute('CREATE TABLE IF NOT EXISTS other_writer AS SELECT 1 AS x')\n"
                    "c.close()",
                    str(warehouse),
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert server.requests and check.poll() is None, "the answer came before the write"
            assert writer.returncode == 0, writer.stderr
            out, err = check.communicate(timeout=120)
        finally:
            if check.poll() is None:
                check.kill()
                check.wait()
    assert check.returncode == 0, out + err
    # ... and the call was still logged in the warehouse's governance table.
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM platform.llm_calls").fetchone() == (1,)
        assert conn.execute("SELECT x FROM other_writer").fetchone() == (1,)


def test_no_secret_goes_to_claude_whatever_a_task_sends(monkeypatch):
    class Answer(BaseModel):
        passes: bool

    key = "sk-ant-api03-NeverInAPrompt-0001"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "NeverInAPromptAwsSecret000000000000001")
    data = (
        "step failed: Unable to connect to Postgres at postgresql://u:PromptPgPw-55@db/x; "
        f"key {key}; aws NeverInAPromptAwsSecret000000000000001"
    )
    with ScriptedServer() as server:
        client = ClaudeClient(ClaudeConfig(api_key=key, base_url=server.url, max_retries=0))
        client.structured(
            task="leak_check",
            prompt=Prompt("leak_check", "Answer.", "0" * 64),
            context="context",
            data=data,
            output_model=Answer,
        )
        (request,) = server.requests
    for secret in (key, "PromptPgPw-55", "NeverInAPromptAwsSecret000000000000001"):
        assert secret not in request.raw
    assert "postgresql://u:***@db/x" in request.raw


def test_the_deadline_is_a_setting_that_names_its_variable_when_wrong():
    assert ClaudeConfig.from_env({}).deadline_seconds == 25.0
    assert (
        ClaudeConfig.from_env({"PLATFORM_CLAUDE_DEADLINE_SECONDS": "7.5"}).deadline_seconds == 7.5
    )
    for wrong in ("soon", "0", "-3"):
        with pytest.raises(SettingsError, match="PLATFORM_CLAUDE_DEADLINE_SECONDS"):
            ClaudeConfig.from_env({"PLATFORM_CLAUDE_DEADLINE_SECONDS": wrong})
