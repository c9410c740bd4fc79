"""The champion/challenger gate: the only road to ``champion``.

A challenger passes when:

1. it meets the absolute minimums (e.g. AUROC ≥ 0.70, PR-AUC ≥ 0.05) — the only test when
   there is no champion yet;
2. its primary metric is not worse than the champion's by more than ``tolerance``;
3. no slice (merchant category, user country) with enough fraud cases in both evaluations
   regresses by more than ``slice_tolerance`` on ``slice_metric``.

Both evaluations should be on the *same* holdout (the evaluation asset re-scores the
champion on the challenger's holdout); metrics from different windows are not comparable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class GatePolicy:
    primary_metric: str = "pr_auc"
    tolerance: float = 0.01
    slice_metric: str = "auroc"
    slice_tolerance: float = 0.08
    min_slice_positives: int = 10
    absolute_minimums: dict[str, float] = field(default_factory=lambda: {"auroc": 0.70, "pr_auc": 0.05})

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    challenger_version: int | None
    champion_version: int | None
    reasons: list[str]
    comparisons: list[dict]
    policy: dict

    def to_dict(self) -> dict:
        return asdict(self)

    def markdown(self) -> str:
        lines = [f"**{'PASS' if self.passed else 'BLOCKED'}**: challenger v{self.challenger_version} vs "
                 f"champion {'v' + str(self.champion_version) if self.champion_version else '(none)'}", ""]
        lines += [f"- {r}" for r in self.reasons]
        if self.comparisons:
            lines += ["", "| check | challenger | champion | allowed | ok |", "| --- | --- | --- | --- | --- |"]
            for c in self.comparisons:
                fmt = lambda v: "–" if v is None else f"{v:.4f}"  # noqa: E731
                lines.append(f"| {c['check']} | {fmt(c['challenger'])} | {fmt(c.get('champion'))} | "
                             f"{c['allowed']} | {'✅' if c['ok'] else '❌'} |")
        return "\n".join(lines)


def _slices(metrics: dict, policy: GatePolicy) -> dict[tuple[str, str], float]:
    out = {}
    for s in metrics.get("slices", []):
        value = s.get(policy.slice_metric)
        if value is not None and s.get("positives", 0) >= policy.min_slice_positives:
            out[(s["column"], s["value"])] = float(value)
    return out


def gate(challenger: dict, champion: dict | None, policy: GatePolicy | None = None,
         challenger_version: int | None = None, champion_version: int | None = None) -> GateDecision:
    """Decide whether ``challenger`` may replace ``champion`` (evaluation dicts, same holdout)."""
    policy = policy or GatePolicy()
    reasons: list[str] = []
    comparisons: list[dict] = []
    passed = True
    for metric, minimum in sorted(policy.absolute_minimums.items()):
        value = challenger.get(metric)
        ok = value is not None and value >= minimum
        comparisons.append({"check": f"minimum {metric}", "challenger": value, "champion": None,
                            "allowed": f"≥ {minimum}", "ok": ok})
        if not ok:
            passed = False
            reasons.append(f"{metric} {value if value is None else round(value, 4)} is below the absolute "
                           f"minimum {minimum}")
    if champion is None:
        reasons.append("no champion yet: promoted on absolute minimums" if passed
                       else "no champion yet, and the first model fails the absolute minimums")
    else:
        name = policy.primary_metric
        ours, theirs = float(challenger[name]), float(champion[name])
        ok = ours >= theirs - policy.tolerance
        comparisons.append({"check": name, "challenger": ours, "champion": theirs,
                            "allowed": f"≥ champion − {policy.tolerance}", "ok": ok})
        if ok:
            reasons.append(f"{name} {ours:.4f} vs champion {theirs:.4f} (Δ {ours - theirs:+.4f}), within "
                           f"tolerance {policy.tolerance}")
        else:
            passed = False
            reasons.append(f"{name} {ours:.4f} is worse than champion {theirs:.4f} by {theirs - ours:.4f} "
                           f"> tolerance {policy.tolerance}")
        ours_slices, their_slices = _slices(challenger, policy), _slices(champion, policy)
        regressed = []
        for key in sorted(set(ours_slices) & set(their_slices)):
            delta = ours_slices[key] - their_slices[key]
            ok = delta >= -policy.slice_tolerance
            comparisons.append({"check": f"slice {key[0]}={key[1]} {policy.slice_metric}",
                                "challenger": ours_slices[key], "champion": their_slices[key],
                                "allowed": f"≥ champion − {policy.slice_tolerance}", "ok": ok})
            if not ok:
                regressed.append(f"{key[0]}={key[1]} ({delta:+.3f})")
        if regressed:
            passed = False
            reasons.append(f"slices regress beyond {policy.slice_tolerance} {policy.slice_metric}: "
                           + ", ".join(regressed))
        else:
            reasons.append(f"no slice regresses beyond {policy.slice_tolerance} {policy.slice_metric} "
                           f"({len(set(ours_slices) & set(their_slices))} slices compared)")
    return GateDecision(passed=passed, challenger_version=challenger_version, champion_version=champion_version,
                        reasons=reasons, comparisons=comparisons, policy=policy.to_dict())
