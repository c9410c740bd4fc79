"""Sliding-window watch over the service: the SLOs and the canary's rollback rules.

Over the last ``window_seconds`` (``ServingSettings``):

- **SLOs** of every request: p99 latency ≤ ``slo_p99_ms``, share of failed requests ≤
  ``slo_error_rate``. A breach is an alert (``serving_latency``, ``serving_errors``).
- **The canary**, once it has ``canary_min_samples`` transactions in the window: its share of
  failed scorings ≤ ``canary_max_error_rate``, the p99 latency of requests it answered ≤
  ``canary_max_p99_ms``, and the PSI of its scores against the champion's scores *of the same
  transactions* ≤ ``canary_max_psi``. A breach stops the canary (``canary_rollback``).

PSI: ten bins at the deciles of the champion's scores, both shares floored at 1e-4,
``Σ (a - e) · ln(a / e)``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from platform_assets.core.settings import ServingSettings

PSI_BINS = 10
PSI_FLOOR = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = PSI_BINS) -> float:
    """Population stability index of ``actual`` against ``expected`` (quantile bins of expected)."""
    if expected.size == 0 or actual.size == 0:
        return 0.0
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=edges.size + 1)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=edges.size + 1)
    e_share = np.maximum(e / expected.size, PSI_FLOOR)
    a_share = np.maximum(a / actual.size, PSI_FLOOR)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


@dataclass(frozen=True)
class Breach:
    kind: str  # "serving_latency" | "serving_errors" | "canary_rollback"
    rule: str
    value: float
    limit: float
    message: str


class ServingMonitor:
    """Fed by the service's event loop; judged once a second by its watcher."""

    def __init__(self, settings: ServingSettings):
        self.settings = settings
        self._requests: deque[tuple[float, float, bool]] = deque()  # (t, latency_ms, ok)
        # canary transactions: (t, latency_ms, ok, canary score, champion score)
        self._canary: deque[tuple[float, float, bool, float, float]] = deque()

    def _expire(self, now: float) -> None:
        horizon = now - self.settings.window_seconds
        for window in (self._requests, self._canary):
            while window and window[0][0] < horizon:
                window.popleft()

    def record_request(self, t: float, latency_ms: float, ok: bool) -> None:
        self._requests.append((t, latency_ms, ok))

    def record_canary(
        self, t: float, latency_ms: float, ok: bool, canary_score: float, champion_score: float
    ) -> None:
        self._canary.append((t, latency_ms, ok, canary_score, champion_score))

    def reset_canary(self) -> None:
        self._canary.clear()

    def canary_samples(self, now: float) -> int:
        self._expire(now)
        return len(self._canary)

    def slo_breaches(self, now: float) -> list[Breach]:
        self._expire(now)
        if not self._requests:
            return []
        latencies = np.fromiter((r[1] for r in self._requests), float, len(self._requests))
        failed = sum(1 for r in self._requests if not r[2])
        out = []
        p99 = float(np.percentile(latencies, 99))
        if p99 > self.settings.slo_p99_ms and len(self._requests) >= 100:
            out.append(
                Breach(
                    "serving_latency",
                    "p99_ms",
                    p99,
                    self.settings.slo_p99_ms,
                    f"p99 latency {p99:.1f} ms over the last {self.settings.window_seconds:g} s "
                    f"({len(self._requests)} requests) breaks the SLO of "
                    f"{self.settings.slo_p99_ms:g} ms",
                )
            )
        rate = failed / len(self._requests)
        if rate > self.settings.slo_error_rate and failed:
            out.append(
                Breach(
                    "serving_errors",
                    "error_rate",
                    rate,
                    self.settings.slo_error_rate,
                    f"{failed} of {len(self._requests)} requests failed over the last "
                    f"{self.settings.window_seconds:g} s ({rate:.2%}), above the SLO of "
                    f"{self.settings.slo_error_rate:.2%}",
                )
            )
        return out

    def canary_breach(self, now: float) -> Breach | None:
        """Why the canary must stop now, or None (also None while it has too few samples)."""
        self._expire(now)
        n = len(self._canary)
        if n < self.settings.canary_min_samples:
            return None
        failed = sum(1 for c in self._canary if not c[2])
        rate = failed / n
        if rate > self.settings.canary_max_error_rate:
            return Breach(
                "canary_rollback",
                "error_rate",
                rate,
                self.settings.canary_max_error_rate,
                f"the canary failed {failed} of {n} scorings ({rate:.2%}) over the last "
                f"{self.settings.window_seconds:g} s; limit "
                f"{self.settings.canary_max_error_rate:.2%}",
            )
        latencies = np.fromiter((c[1] for c in self._canary), float, n)
        p99 = float(np.percentile(latencies, 99))
        if p99 > self.settings.canary_max_p99_ms:
            return Breach(
                "canary_rollback",
                "p99_ms",
                p99,
                self.settings.canary_max_p99_ms,
                f"the canary's p99 latency {p99:.1f} ms over {n} transactions is above "
                f"{self.settings.canary_max_p99_ms:g} ms",
            )
        ok = [c for c in self._canary if c[2]]
        canary = np.fromiter((c[3] for c in ok), float, len(ok))
        champion = np.fromiter((c[4] for c in ok), float, len(ok))
        value = psi(champion, canary)
        if not math.isfinite(value) or value > self.settings.canary_max_psi:
            return Breach(
                "canary_rollback",
                "score_psi",
                value,
                self.settings.canary_max_psi,
                f"the canary's scores drifted from the champion's on the same {len(ok)} "
                f"transactions: PSI {value:.3f} > {self.settings.canary_max_psi:g} (canary mean "
                f"{canary.mean():.3f}, champion mean {champion.mean():.3f})",
            )
        return None
