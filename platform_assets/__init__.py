"""platform_assets: an ML platform shipped as a Dagster code location.

The Python API for backfills is :func:`platform_assets.backfill` (imported lazily, so
``import platform_assets`` stays cheap for the code location)::

    import platform_assets
    result = platform_assets.backfill("raw/transactions", "2026-11-01", "2026-11-07")
    # or, on a running deployment (its Backfills tab shows it, its daemon runs it):
    submitted = platform_assets.backfill("raw/transactions", "2026-11-01", "2026-11-07",
                                         url="http://localhost:3000")
"""

from platform_assets.core.telemetry import turn_off as _turn_off_telemetry

# Before anything imports onnxruntime, Dagster, Evidently or dlt (platform_assets.core.telemetry).
_turn_off_telemetry()

__version__ = "0.1.0"
__all__ = ["BackfillResult", "SubmittedBackfill", "backfill", "run_checks", "run_main"]


def __getattr__(name: str):
    if name in __all__:
        from platform_assets import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'platform_assets' has no attribute {name!r}")
