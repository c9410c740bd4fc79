"""The triage sensor holds no warehouse lock while Claude drafts the ticket: another process
writes the warehouse file while the scripted Messages API server holds its answer."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from platform_assets.core import warehouse as wh
from platform_assets.defs.resources import ClaudeResource
from platform_assets_tests.support.scripted_server import Reply, ScriptedServer
from platform_assets_tests.support.triage import fail_and_triage, failing_job

WRITE = (
    "import duckdb, sys\n"
    "c = duckdb.connect(sys.argv[1])\n"
    "c.execute('CREATE TABLE IF NOT EXISTS other_writer AS SELECT 1 AS x')\n"
    "c.close()"
)
ANSWER = json.dumps(
    {
        "probable_cause": "The landing bucket did not answer in time.",
        "evidence": ["TimeoutError: the landing bucket timed out"],
        "recommended_action": "retry_run",
    }
)


def _timeout():
    raise TimeoutError("the landing bucket timed out")


def test_another_process_writes_the_warehouse_while_claude_drafts(env):
    _tmp_path, resources, instance = env
    database = resources["warehouse"].database
    with wh.session(database):
        pass  # the warehouse exists, with the platform's tables
    writes: list[subprocess.CompletedProcess] = []
    with ScriptedServer([Reply(text=ANSWER, delay=8.0)]) as server:

        def write_while_claude_thinks() -> None:
            deadline = time.monotonic() + 120
            while not server.requests and time.monotonic() < deadline:
                time.sleep(0.1)
            writes.append(
                subprocess.run(
                    [sys.executable, "-c", WRITE, database],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
            )

        writer = threading.Thread(target=write_while_claude_thinks, daemon=True)
        writer.start()
        claude = ClaudeResource(api_key="test-key", base_url=server.url, max_retries=0)
        ticket, _actions, _ = fail_and_triage(
            instance, {**resources, "claude": claude}, job=failing_job("slow_job", _timeout)
        )
        writer.join(timeout=120)
    assert writes, "the other writer never ran"
    assert writes[0].returncode == 0, writes[0].stderr
    assert ticket["drafted_by"].startswith("claude")
    assert ticket["probable_cause"] == "The landing bucket did not answer in time."
    with wh.session(database, read_only=True) as conn:
        assert conn.execute("SELECT x FROM other_writer").fetchone() == (1,)
        ((task, outcome),) = conn.execute("SELECT task, outcome FROM platform.llm_calls").fetchall()
    assert (task, outcome) == ("run_failure_triage", "ok")
