"""Dagster resources that never leave the machine, and lookups in a run's events."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from platform_assets.core.registry import ModelRegistry, registry_for
from platform_assets.core.settings import Settings
from platform_assets.defs.resources import build_resources


def offline_settings(home: Path) -> Settings:
    """Settings of a throwaway ``home`` read from an explicit environment, not the developer's:
    the warehouse at ``home/w.duckdb``, artifacts and the registry under ``home``, an eval
    suite of its own at ``home/evals`` (empty unless the test writes one), and no Claude key
    (the ``claude`` resource is disabled: no network)."""
    return Settings.from_env(
        {
            "PLATFORM_ASSETS_HOME": str(home),
            "PLATFORM_ASSETS_WAREHOUSE": str(home / "w.duckdb"),
            "PLATFORM_ASSETS_CONTRACTS_DIR": str(home / "contracts"),
            "PLATFORM_ASSETS_LANDING_URL": str(home / "landing"),
            "PLATFORM_ASSETS_EVALS_DIR": str(home / "evals"),
        }
    )


def offline_resources(home: Path) -> dict[str, object]:
    """Every resource of the code location on ``offline_settings(home)``."""
    return build_resources(offline_settings(home))


def offline_registry(home: Path) -> ModelRegistry:
    """The model registry the ``offline_resources(home)`` runs write to."""
    return registry_for(offline_settings(home).registry_url)


def check_evaluation(result: dg.ExecuteInProcessResult, check_name: str) -> dg.AssetCheckEvaluation:
    """The evaluation of the asset check ``check_name`` in ``result``'s run."""
    evaluations = [e for e in result.get_asset_check_evaluations() if e.check_name == check_name]
    assert evaluations, f"the run has no evaluation of the check {check_name!r}"
    return evaluations[0]
