"""How much history the model needs before it can train: decided here, once.

``platform-assets run`` (and ``make run``) lands these days before the day it runs, and the
daemon's automation catches up the same days on a fresh home, then trains the first model as
soon as they are in (``defs/automation.py``). A deployment therefore never waits for the
weekly retrain to get its first champion, and the CLI and the daemon build the same history.

Two weeks, the day itself included:

- the first ``FEATURE_WARMUP_DAYS`` (7) fill the per-user 7-day windows: their own features
  see only part of a window (``core.features.complete_window_days``), so they train the
  model but never describe normal traffic in the drift reference;
- the ``FIRST_WINDOW_DAYS`` (7) after them have complete windows: the first model's holdout
  (its last ``holdout_days``) and its drift reference come from them.

``TrainingConfig.training_days`` (28) caps the window from above; a first model trains on
the 14 days that are there.
"""

from __future__ import annotations

import datetime as dt

from platform_assets.core.features.transactions import HISTORY_DAYS as FEATURE_WARMUP_DAYS

FIRST_WINDOW_DAYS = 7  # days with complete feature windows a first model needs
HISTORY_DAYS = FEATURE_WARMUP_DAYS + FIRST_WINDOW_DAYS - 1  # the days before the run's day


def bootstrap_days(day: dt.date | str, history_days: int = HISTORY_DAYS) -> list[str]:
    """The days (ISO, oldest first) a fresh deployment lands to train a first model whose
    window ends on ``day``: the ``history_days`` days before it, then ``day`` itself."""
    end = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return [(end - dt.timedelta(days=n)).isoformat() for n in range(history_days, -1, -1)]
