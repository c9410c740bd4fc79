"""Dagster resources that never leave the machine, and lookups in a run's events."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from platform_assets.defs.llm import ClaudeResource
from platform_assets.defs.resources import PlatformSettings, WarehouseResource


def offline_resources(home: Path) -> dict[str, object]:
    """The lifecycle's resources on a throwaway ``home``: the warehouse at ``home/w.duckdb``,
    artifacts under ``home``, and Claude without a key (disabled: no network)."""
    return {"warehouse": WarehouseResource(database=str(home / "w.duckdb")),
            "platform": PlatformSettings(home=str(home), contracts_dir=str(home / "contracts"),
                                         landing_url=str(home / "landing")),
            "claude": ClaudeResource()}


def check_evaluation(result: dg.ExecuteInProcessResult, check_name: str) -> dg.AssetCheckEvaluation:
    """The evaluation of the asset check ``check_name`` in ``result``'s run."""
    evaluations = [e for e in result.get_asset_check_evaluations() if e.check_name == check_name]
    assert evaluations, f"the run has no evaluation of the check {check_name!r}"
    return evaluations[0]
