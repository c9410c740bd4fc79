"""Every library's telemetry off, for every entry point: the platform makes no network call
it was not configured to make.

:func:`turn_off` runs when ``platform_assets`` is imported (its ``__init__``), so the CLI,
the code location that ``dagster dev``/the daemon/an ECS run worker loads, the runner, the
scoring service and the tests all start with it, before any of these libraries is imported:

- **onnxruntime**: its native 1DS telemetry looks up ``mobile.events.data.microsoft.com``
  whenever a session is created. ``ORT_DISABLE_TELEMETRY=1`` here, and
  ``onnxruntime.disable_telemetry_events()`` where a session is made
  (:mod:`platform_assets.core.training.scoring`).
- **Dagster**: anonymous usage statistics. ``DAGSTER_DISABLE_TELEMETRY=1`` here, and
  ``telemetry: enabled: false`` in both instance yamls.
- **Evidently** (and ``iterative-telemetry``): usage events. ``DO_NOT_TRACK=1``.
- **dlt**: ``telemetry.scalevector.ai``. ``RUNTIME__DLTHUB_TELEMETRY=false`` here, and
  :mod:`platform_assets.core.ingestion.load` stops a telemetry dlt started on import.

These are set, not read: the values are not settings (:mod:`platform_assets.core.settings`
reads the platform's configuration), they are the platform's promise of zero egress, so a
shell's own value does not turn one back on.
"""

from __future__ import annotations

import os

TELEMETRY_OFF = {
    "ORT_DISABLE_TELEMETRY": "1",
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}


def turn_off() -> None:
    """Set :data:`TELEMETRY_OFF` in this process's environment (children inherit it)."""
    os.environ.update(TELEMETRY_OFF)


def turn_off_onnxruntime(ort) -> None:
    """onnxruntime's own switch, for a module that has imported it (the variable above is
    read when its native library loads; this covers an import that came first)."""
    disable = getattr(ort, "disable_telemetry_events", None)
    if disable is not None:
        disable()
