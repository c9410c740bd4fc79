"""What a run costs: step compute at Fargate-like prices, plus the Claude calls it made.

Compute: each step is billed for the seconds it ran (start to end, as the Dagster event log
recorded them) at ``vcpu`` vCPUs and ``memory_gib`` GiB, priced per vCPU-hour and per
GiB-hour (:class:`~platform_assets.core.settings.ComputePrices`; the defaults are AWS
Fargate's on-demand Linux/x86 prices in us-east-1). This is an estimate: a step that waited
for the DuckDB pool is billed for the wait, as a task would be; idle time between steps and
the run's start-up are not billed.

LLM: the cost the governance log (``platform.llm_calls``) recorded for the run's calls,
attributed to the asset or check that made them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from platform_assets.core.settings import ComputePrices


@dataclass(frozen=True)
class StepUsage:
    """One step of a run: which asset it computed (or checked), for how many seconds."""

    step_key: str
    asset: str
    seconds: float


@dataclass
class AssetCost:
    asset: str
    compute_seconds: float = 0.0
    compute_usd: float = 0.0
    llm_usd: float = 0.0

    @property
    def total_usd(self) -> float:
        return self.compute_usd + self.llm_usd


@dataclass
class RunCost:
    run_id: str
    job_name: str
    day: str  # the UTC day the run started
    assets: dict[str, AssetCost] = field(default_factory=dict)
    prices: dict = field(default_factory=dict)

    @property
    def compute_seconds(self) -> float:
        return sum(a.compute_seconds for a in self.assets.values())

    @property
    def compute_usd(self) -> float:
        return sum(a.compute_usd for a in self.assets.values())

    @property
    def llm_usd(self) -> float:
        return sum(a.llm_usd for a in self.assets.values())

    @property
    def total_usd(self) -> float:
        return self.compute_usd + self.llm_usd

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "job_name": self.job_name,
            "day": self.day,
            "compute_seconds": round(self.compute_seconds, 3),
            "compute_usd": self.compute_usd,
            "llm_usd": self.llm_usd,
            "total_usd": self.total_usd,
            "prices": self.prices,
            "assets": {
                name: {**asdict(cost), "total_usd": cost.total_usd}
                for name, cost in sorted(self.assets.items())
            },
        }

    def line(self) -> str:
        return (
            f"${self.total_usd:.6f} (compute {self.compute_seconds:.1f} s of steps = "
            f"${self.compute_usd:.6f}; LLM ${self.llm_usd:.6f})"
        )


def run_cost(
    run_id: str,
    job_name: str,
    started_at: float | None,
    steps: list[StepUsage],
    llm_calls: list[tuple[str | None, float | None]],
    prices: ComputePrices,
) -> RunCost:
    """The cost of one run.

    Args:
        started_at: the run's start (epoch seconds), for the day it is counted on.
        steps: the run's steps with their durations.
        llm_calls: ``(asset or check, cost in USD)`` of each logged Claude call of the run.
    """
    day = dt.datetime.fromtimestamp(started_at or 0, dt.UTC).date().isoformat()
    cost = RunCost(run_id, job_name, day, prices=asdict(prices))
    for step in steps:
        entry = cost.assets.setdefault(step.asset, AssetCost(step.asset))
        entry.compute_seconds += step.seconds
        entry.compute_usd += step.seconds * prices.usd_per_second
    for asset, usd in llm_calls:
        name = asset or "(unattributed)"
        cost.assets.setdefault(name, AssetCost(name)).llm_usd += usd or 0.0
    return cost


def summarize(costs: list[RunCost]) -> dict:
    """Totals by asset and by day over several runs."""
    by_asset: dict[str, dict] = defaultdict(
        lambda: {
            "runs": 0,
            "compute_seconds": 0.0,
            "compute_usd": 0.0,
            "llm_usd": 0.0,
            "total_usd": 0.0,
        }
    )
    by_day: dict[str, dict] = defaultdict(
        lambda: {
            "runs": 0,
            "compute_seconds": 0.0,
            "compute_usd": 0.0,
            "llm_usd": 0.0,
            "total_usd": 0.0,
        }
    )
    for run in costs:
        day = by_day[run.day]
        day["runs"] += 1
        for name, value in (
            ("compute_seconds", run.compute_seconds),
            ("compute_usd", run.compute_usd),
            ("llm_usd", run.llm_usd),
            ("total_usd", run.total_usd),
        ):
            day[name] += value
        for asset in run.assets.values():
            entry = by_asset[asset.asset]
            entry["runs"] += 1
            entry["compute_seconds"] += asset.compute_seconds
            entry["compute_usd"] += asset.compute_usd
            entry["llm_usd"] += asset.llm_usd
            entry["total_usd"] += asset.total_usd
    return {
        "runs": len(costs),
        "total_usd": sum(r.total_usd for r in costs),
        "by_asset": dict(sorted(by_asset.items(), key=lambda kv: -kv[1]["total_usd"])),
        "by_day": dict(sorted(by_day.items())),
    }
