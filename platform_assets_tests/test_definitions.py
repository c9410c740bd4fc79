"""The whole code location loads, fast and light, and its asset specs match the snapshot.

An accidental change to a key, group, kind, partitioning, check, owner, automation condition
or a sensor's default status shows up as a diff of
``snapshots/definitions.json``. After an intended change, regenerate it with
``PLATFORM_ASSETS_UPDATE_SNAPSHOTS=1 make test``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from platform_assets_tests.support.environment import subprocess_env

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
HEAVY = ("sklearn", "skl2onnx", "onnx", "onnxruntime", "evidently", "anthropic")


def describe_definitions() -> dict:
    from platform_assets.runner import load_definitions

    defs = load_definitions()
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "partitioned": node.partitions_def is not None,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
            "owners": list(node.owners),
            "automation": node.automation_condition.get_label()
            if node.automation_condition
            else None,
        }
    repo = defs.get_repository_def()
    return {
        "assets": assets,
        "blocking_checks": sorted(
            f"{spec.asset_key.to_user_string()}:{spec.name}"
            for spec in (graph.get_check_spec(k) for k in graph.asset_check_keys)
            if spec.blocking
        ),
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "sensors": {
            s.name: s.default_status.value for s in sorted(repo.sensor_defs, key=lambda s: s.name)
        },
        "resources": sorted(repo.get_top_level_resources()),
    }


def test_definitions_match_snapshot():
    current = describe_definitions()
    if os.environ.get("PLATFORM_ASSETS_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
        # Comparing with what was just written proves nothing: review the diff instead.
        pytest.skip(f"rewrote {SNAPSHOT}: review its diff")
    if not SNAPSHOT.exists():
        pytest.fail(
            f"no snapshot yet: run with PLATFORM_ASSETS_UPDATE_SNAPSHOTS=1 to write {SNAPSHOT}"
        )
    assert current == json.loads(SNAPSHOT.read_text())


def test_loading_the_code_location_imports_no_heavy_library(tmp_path: Path):
    code = (
        "import sys, platform_assets.definitions as d; d.defs(); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(PLATFORM_ASSETS_HOME=str(tmp_path / "home")),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"imported at load time: {result.stdout.strip()}"
