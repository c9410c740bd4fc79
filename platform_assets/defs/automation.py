"""When each stage runs by itself: the code location's declarative automation.

With the daemon running (``platform-assets dev``, or a deployment), the
``platform_automation`` sensor (on by default) evaluates these conditions every 30 seconds:

| asset | runs | condition |
| --- | --- | --- |
| ``raw/transactions`` | daily, 00:30 UTC; fresh home: history (1) | :func:`daily_ingestion` |
| ``validated/transactions``, ``features/transactions`` | in the same run as the day's ingestion, after its blocking contract check | :func:`after_upstream` |
| ``monitoring/feature_drift`` | on the tick after features (or a new champion) updated | :func:`after_upstream_finished` |
| ``model/fraud_model`` | first model (2); retrain cadence (3) | :func:`model_training` |
| the rest of the model lifecycle | in the same run as the model, each after its blocking checks | :func:`after_upstream` |
| ``llm_observability`` | hourly | :func:`hourly` |

(1) The last complete day and the ``HISTORY_DAYS`` before it (``core/training/history.py``,
the days ``platform-assets run`` lands too), in one run.
(2) As soon as the features of that history are in and no model (so no champion) exists.
(3) Weekly (``PLATFORM_ASSETS_RETRAIN_CRON``, default Mondays 00:00 UTC, once the day's
features are in), and whenever ``drift_retraining_sensor`` asks.

Checks have no condition of their own: Dagster runs an asset's checks in the run that
materializes it, and a failed blocking check stops what is downstream in that run (which
is why each chain is requested as one run, not link by link on successive ticks).

The cron strings are here, one place, so the README and the UI agree. Turning the
automation off: stop the ``platform_automation`` sensor in the UI (Automation tab) or
``dagster sensor stop platform_automation -w workspace.yaml``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import dagster as dg

from platform_assets.core.settings import DEFAULT_RETRAIN_CRON, SettingsError, retrain_cron_from_env
from platform_assets.core.training.history import HISTORY_DAYS
from platform_assets.defs.keys import (
    AUTOMATION_SENSOR,
    FEATURES_TRANSACTIONS,
    OPERATIONS,
    owner_tags,
)

INGESTION_CRON = "30 0 * * *"  # half an hour after the UTC day closes: late events have arrived
HOURLY_CRON = "0 * * * *"
TIMEZONE = "UTC"

AC = dg.AutomationCondition

# The last complete day and the history before it: what a fresh home catches up at once, and
# how far back an upstream update carries its chain (the same days `platform-assets run` lands).
HISTORY_LOOKBACK = dt.timedelta(days=HISTORY_DAYS + 1)


def in_history_window() -> dg.AutomationCondition:
    """The last complete day or one of the ``HISTORY_DAYS`` before it (always true for an
    unpartitioned asset)."""
    return AC.in_latest_time_window(lookback_delta=HISTORY_LOOKBACK)


def daily_ingestion() -> dg.AutomationCondition:
    """The day that just closed, once the ingestion cron ticks; and on the sensor's first
    evaluation (a fresh home, or a changed condition) every day of the history the model needs
    that is missing, in one run (single-run backfill policy)."""
    catch_up = (
        in_history_window() & AC.missing() & AC.initial_evaluation() & ~AC.in_progress()
    ).with_label(f"catch up the last complete day and the {HISTORY_DAYS} before it")
    return (AC.on_cron(INGESTION_CRON, TIMEZONE) | catch_up).with_label("daily ingestion")


def after_upstream() -> dg.AutomationCondition:
    """Whenever an upstream asset updates, or is requested on the same tick, so that a chain
    (a day's ingestion, validation and features; the model's lifecycle) shares one run, in
    which a failed blocking check stops everything downstream of it.

    ``AutomationCondition.eager()`` minus two clauses: "no upstream partition missing"
    (features read seven validated days, and a quarantined day in that window must not stop
    every later day's features) and "newly missing" (a new day's partition is not a reason to
    run before its upstream has landed)."""
    # `since_last_handled` ignores what happens on the sensor's very first tick; an upstream
    # requested on that tick (a fresh home's catch-up) must still bring its chain along.
    same_tick = AC.any_deps_match(AC.will_be_requested()).with_label("an upstream is requested")
    return (
        in_history_window()
        & (same_tick | AC.any_deps_updated().since_last_handled())
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
        & ~upstream_blocked()
    ).with_label("after upstream")


def with_its_asset() -> dg.AutomationCondition:
    """For an asset check defined apart from its asset (``@dg.asset_check``): run in the run
    that materializes the asset. The daemon puts a separate check of an unpartitioned asset
    in that run only when the check's own condition asks for it; without one, the model's
    lifecycle ran without ``onnx_parity`` and ``promotion_gate``, so nothing was promoted."""
    return AC.any_deps_match(AC.will_be_requested()).with_label("with its asset")


def upstream_blocked() -> dg.AutomationCondition:
    """An upstream asset's latest blocking check failed: what it holds must not flow on (a
    quarantined day; a challenger the gate blocked must get no model card). A skipped step
    does not count as handled for Dagster, so without this the next tick would run it."""
    return AC.any_deps_match(AC.any_checks_match(AC.check_failed(), blocking_only=True)).with_label(
        "an upstream blocking check failed"
    )


def after_upstream_finished(*ignore_missing: dg.AssetKey) -> dg.AutomationCondition:
    """Once an upstream asset *has* updated (not merely requested on the same tick): for an
    unpartitioned asset downstream of a partitioned one, which Dagster would otherwise launch
    in a separate run at the same time as its upstream. Upstream blocking checks do not
    matter here: feature drift reads the champion, which a blocked challenger leaves alone."""
    updated = AC.any_deps_match(AC.newly_updated() & ~AC.executed_with_root_target()).with_label(
        "any_deps_finished_updating"
    )
    missing = AC.any_deps_missing()
    if ignore_missing:
        missing = missing.ignore(dg.AssetSelection.assets(*ignore_missing))
    return (
        updated.since_last_handled() & ~missing & ~AC.any_deps_in_progress() & ~AC.in_progress()
    ).with_label("after upstream finished")


def retrain_cron(environ: Mapping[str, str] | None = None) -> str:
    """The retrain cadence: ``PLATFORM_ASSETS_RETRAIN_CRON``, weekly by default. A string that
    is not a cron schedule stops the code location from loading, naming the variable."""
    from dagster._utils.schedules import is_valid_cron_string

    cron = retrain_cron_from_env(environ)
    if not is_valid_cron_string(cron):
        raise SettingsError(
            f"PLATFORM_ASSETS_RETRAIN_CRON={cron!r}: not a cron schedule "
            f"(five fields, e.g. {DEFAULT_RETRAIN_CRON!r}, Mondays 00:00 UTC)"
        )
    return cron


def on_retrain_cadence(cron: str | None = None) -> dg.AutomationCondition:
    """On the retrain cadence (weekly by default), once the features have *finished*
    updating since the tick.

    ``AutomationCondition.on_cron`` also accepts an upstream that is merely requested on the
    same tick; the model (unpartitioned) would then be launched in its own run next to the
    day's features run and could train before the day's features are written."""
    cron = cron or retrain_cron()
    tick = AC.cron_tick_passed(cron, TIMEZONE)
    return (
        AC.in_latest_time_window()
        & tick.since_last_handled()
        & AC.all_deps_match(AC.newly_updated().since(tick)).with_label(
            "features updated since the tick"
        )
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    ).with_label("weekly retrain" if cron == DEFAULT_RETRAIN_CRON else f"retrain on cron {cron!r}")


def first_model() -> dg.AutomationCondition:
    """No model yet (so no champion): train as soon as the features have *finished*
    updating, which on a fresh home is the catch-up of the whole history, in one run. Once
    a model exists this is false, and the cadence (or the drift sensor) decides; a failed
    first training is retried only when the features update again, not tick after tick."""
    return (
        AC.missing().with_label("no model (no champion) yet")
        & after_upstream_finished(FEATURES_TRANSACTIONS)
    ).with_label("first model once the history is in")


def model_training(cron: str | None = None) -> dg.AutomationCondition:
    """When ``model/fraud_model`` trains by itself: the first model, then the cadence."""
    cadence = on_retrain_cadence(cron)
    return (cadence | first_model()).with_label(f"first model, then {cadence.get_label()}")


def hourly() -> dg.AutomationCondition:
    return AC.on_cron(HOURLY_CRON, TIMEZONE).with_label("hourly")


# Features are partitioned; feature drift reads the newest days, so an old missing day
# must not stop it (the champion, its other upstream, must exist).
FEATURE_DRIFT_CONDITION_IGNORES_MISSING = (FEATURES_TRANSACTIONS,)


@dg.definitions
def automation() -> dg.Definitions:
    return dg.Definitions(
        sensors=[
            dg.AutomationConditionSensorDefinition(
                AUTOMATION_SENSOR,
                target=dg.AssetSelection.all(),
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=30,
                tags=owner_tags(OPERATIONS),
                description="Evaluates every asset's automation condition: daily ingestion, validation and "
                "features; drift after features; weekly retraining; hourly LLM observability.",
            ),
        ]
    )
