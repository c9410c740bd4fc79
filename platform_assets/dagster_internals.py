"""The one module that imports Dagster's private ``dagster._…`` API.

Everything else uses ``import dagster as dg``. What is here has no public equivalent in
Dagster 1.13, so each name is a bet that the next release keeps it; the test
``platform_assets_tests/test_dagster_internals.py`` pins the behaviour relied on, so an
upgrade that breaks one fails that test, not a run.

Used by the platform:

- Run tags Dagster itself reads: ``PARTITION_NAME_TAG`` (``dagster/partition``) and
  ``ASSET_PARTITION_RANGE_START_TAG``/``_END_TAG`` (a single-run backfill of a range, which
  ``execute_in_process`` has no argument for), and ``GRPC_INFO_TAG`` (where a daemon-launched
  run's code server is).
- Run monitoring for a custom run launcher: ``RunLauncher.check_run_worker_health`` must return
  a ``CheckRunHealthResult`` with a ``WorkerStatus``; neither is exported.
- Failing a dead run as Dagster does: ``JobFailureData`` with
  ``RunFailureReason.UNEXPECTED_TERMINATION`` (``report_run_failed`` takes no reason).
- ``FINISHED_STATUSES``: the run statuses Dagster counts as finished.
- ``SqliteRunStorage``: telling a local SQLite instance from a shared one.
- ``check_captured_interrupt``: whether Dagster's interrupt capture saw a signal while it held
  SIGINT back (``dg.DagsterExecutionInterruptedError`` is public, this is not).
- ``is_valid_cron_string``: the cron check ``ScheduleDefinition`` and ``AutomationCondition``
  apply, so a bad ``PLATFORM_ASSETS_RETRAIN_CRON`` is refused with the same rule.

Used by the tests only (imported on first use, so the platform does not load them):
``EngineEventData``, ``LaunchRunContext``, ``InProcessCodeLocationOrigin``,
``LoadableTargetOrigin``, ``DagsterGrpcClient``, ``create_test_daemon_workspace_context``,
``EmptyWorkspaceTarget`` and ``MonitoringDaemon``: a run launcher, a code server and the
monitoring daemon driven directly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dagster._core.events import JobFailureData, RunFailureReason
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import FINISHED_STATUSES
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    GRPC_INFO_TAG,
    PARTITION_NAME_TAG,
)
from dagster._utils.interrupts import check_captured_interrupt
from dagster._utils.schedules import is_valid_cron_string

if TYPE_CHECKING:
    from dagster._core.events import EngineEventData
    from dagster._core.launcher import LaunchRunContext
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import EmptyWorkspaceTarget
    from dagster._daemon.daemon import MonitoringDaemon
    from dagster._grpc.client import DagsterGrpcClient

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "FINISHED_STATUSES",
    "GRPC_INFO_TAG",
    "PARTITION_NAME_TAG",
    "CheckRunHealthResult",
    "DagsterGrpcClient",
    "EmptyWorkspaceTarget",
    "EngineEventData",
    "InProcessCodeLocationOrigin",
    "JobFailureData",
    "LaunchRunContext",
    "LoadableTargetOrigin",
    "MonitoringDaemon",
    "RunFailureReason",
    "SqliteRunStorage",
    "WorkerStatus",
    "check_captured_interrupt",
    "create_test_daemon_workspace_context",
    "is_valid_cron_string",
]

# Test-only names and the private module each lives in.
_TEST_ONLY = {
    "EngineEventData": "dagster._core.events",
    "LaunchRunContext": "dagster._core.launcher",
    "InProcessCodeLocationOrigin": "dagster._core.remote_origin",
    "create_test_daemon_workspace_context": "dagster._core.test_utils",
    "LoadableTargetOrigin": "dagster._core.types.loadable_target_origin",
    "EmptyWorkspaceTarget": "dagster._core.workspace.load_target",
    "MonitoringDaemon": "dagster._daemon.daemon",
    "DagsterGrpcClient": "dagster._grpc.client",
}


def __getattr__(name: str) -> Any:
    module = _TEST_ONLY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
