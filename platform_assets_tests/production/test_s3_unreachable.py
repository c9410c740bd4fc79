"""S3 out of reach in production (the endpoint stopped answering) is an outage said in one
line naming the setting, exit 2: never a traceback, never "nothing there"."""

from __future__ import annotations

import subprocess
import sys

from platform_assets.core import warehouse
from platform_assets.core.features.sample_data import day_range, load_validated_days
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.servers import free_port


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=subprocess_env({**env, "RUNTIME__LOG_LEVEL": "ERROR"}),
        timeout=300,
    )


def test_s3_out_of_reach_is_one_line_and_exit_2(production):
    with warehouse.session(production.settings().warehouse) as conn:
        load_validated_days(conn, day_range("2026-01-01", 1), 200)
    # What a stopped S3 server looks like: nothing listens at the endpoint any more.
    stopped = {**production.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    for args in (("models", "list"), ("quarantine", "list"), ("models", "list", "--json")):
        result = _cli(stopped, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr[-3000:])
        assert "Traceback" not in result.stderr, (args, result.stderr[-3000:])
        # One error line; the lake's retry warnings before it are progress, not the answer.
        (line,) = [x for x in result.stderr.strip().splitlines() if x.startswith("error:")]
        assert line.startswith("error: S3 is unreachable") and "AWS_ENDPOINT_URL" in line, line
        assert production.pg_url.split("@")[0] not in line  # no password in it
