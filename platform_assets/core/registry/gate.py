"""The champion/challenger gate: the only road to ``champion``.

A challenger passes when:

1. it meets the absolute minimums (e.g. AUROC ≥ 0.70, PR-AUC ≥ 0.05) — the only test when
   there is no champion yet;
2. its primary metric is not worse than the champion's by more than ``tolerance``;
3. no slice (merchant category, user country) with enough fraud cases in both evaluations
   regresses by more than ``slice_tolerance`` on ``slice_metric``;
4. when the eval suite ran (:class:`EvalCaseComparison`): no approved eval case that the
   champion passes fails for the challenger. The reason names each such case and its
   requirement. With no champion the suite's results are reported, not used to block.

Both evaluations should be on the *same* holdout (the evaluation asset re-scores the
champion on the challenger's holdout); metrics from different windows are not comparable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

EVAL_CASES_FILE = "eval_cases.json"  # the comparison, attached to the challenger's version


@dataclass(frozen=True)
class GatePolicy:
    primary_metric: str = "pr_auc"
    tolerance: float = 0.01
    slice_metric: str = "auroc"
    slice_tolerance: float = 0.08
    min_slice_positives: int = 10
    absolute_minimums: dict[str, float] = field(
        default_factory=lambda: {"auroc": 0.70, "pr_auc": 0.05}
    )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EvalCaseResult:
    """One approved eval case, run against the challenger and the champion on the same holdout."""

    case: str
    requirement: str | None
    challenger_passed: bool
    champion_passed: bool | None  # None: there was no champion
    detail: str = ""  # what the challenger's run measured


@dataclass(frozen=True)
class EvalCaseComparison:
    """The eval suite's input to the gate: every approved case for the challenger and the
    champion it was compared with (``champion_version``), for one suite (its fingerprint)."""

    champion_version: int | None
    suite_fingerprint: str
    cases: tuple[EvalCaseResult, ...]

    def to_dict(self) -> dict:
        return {
            "champion_version": self.champion_version,
            "suite_fingerprint": self.suite_fingerprint,
            "cases": [asdict(c) for c in self.cases],
        }

    @classmethod
    def from_dict(cls, data: dict) -> EvalCaseComparison:
        return cls(
            champion_version=data.get("champion_version"),
            suite_fingerprint=data.get("suite_fingerprint", ""),
            cases=tuple(EvalCaseResult(**c) for c in data.get("cases", [])),
        )

    @property
    def regressions(self) -> list[EvalCaseResult]:
        """Cases the champion passes and the challenger does not."""
        return [c for c in self.cases if c.champion_passed and not c.challenger_passed]


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
        lines = [
            f"**{'PASS' if self.passed else 'BLOCKED'}**: challenger v{self.challenger_version} vs "
            f"champion {'v' + str(self.champion_version) if self.champion_version else '(none)'}",
            "",
        ]
        lines += [f"- {r}" for r in self.reasons]
        if self.comparisons:
            lines += [
                "",
                "| check | challenger | champion | allowed | ok |",
                "| --- | --- | --- | --- | --- |",
            ]
            for c in self.comparisons:
                fmt = lambda v: "–" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
                lines.append(
                    f"| {c['check']} | {fmt(c['challenger'])} | {fmt(c.get('champion'))} | "
                    f"{c['allowed']} | {'✅' if c['ok'] else '❌'} |"
                )
        return "\n".join(lines)


def _slices(metrics: dict, policy: GatePolicy) -> dict[tuple[str, str], float]:
    out = {}
    for s in metrics.get("slices", []):
        value = s.get(policy.slice_metric)
        if value is not None and s.get("positives", 0) >= policy.min_slice_positives:
            out[(s["column"], s["value"])] = float(value)
    return out


def gate(
    challenger: dict,
    champion: dict | None,
    policy: GatePolicy | None = None,
    challenger_version: int | None = None,
    champion_version: int | None = None,
    eval_cases: EvalCaseComparison | None = None,
) -> GateDecision:
    """Decide whether ``challenger`` may replace ``champion`` (evaluation dicts, same holdout),
    and, given ``eval_cases``, whether it fails an eval case the champion passes."""
    policy = policy or GatePolicy()
    reasons: list[str] = []
    comparisons: list[dict] = []
    passed = True
    for metric, minimum in sorted(policy.absolute_minimums.items()):
        value = challenger.get(metric)
        ok = value is not None and value >= minimum
        comparisons.append(
            {
                "check": f"minimum {metric}",
                "challenger": value,
                "champion": None,
                "allowed": f"≥ {minimum}",
                "ok": ok,
            }
        )
        if not ok:
            passed = False
            reasons.append(
                f"{metric} {value if value is None else round(value, 4)} is below the absolute "
                f"minimum {minimum}"
            )
    if champion is None:
        reasons.append(
            "no champion yet: promoted on absolute minimums"
            if passed
            else "no champion yet, and the first model fails the absolute minimums"
        )
    else:
        name = policy.primary_metric
        ours, theirs = float(challenger[name]), float(champion[name])
        ok = ours >= theirs - policy.tolerance
        comparisons.append(
            {
                "check": name,
                "challenger": ours,
                "champion": theirs,
                "allowed": f"≥ champion − {policy.tolerance}",
                "ok": ok,
            }
        )
        if ok:
            reasons.append(
                f"{name} {ours:.4f} vs champion {theirs:.4f} (Δ {ours - theirs:+.4f}), within "
                f"tolerance {policy.tolerance}"
            )
        else:
            passed = False
            reasons.append(
                f"{name} {ours:.4f} is worse than champion {theirs:.4f} by {theirs - ours:.4f} "
                f"> tolerance {policy.tolerance}"
            )
        ours_slices, their_slices = _slices(challenger, policy), _slices(champion, policy)
        regressed = []
        for key in sorted(set(ours_slices) & set(their_slices)):
            delta = ours_slices[key] - their_slices[key]
            ok = delta >= -policy.slice_tolerance
            comparisons.append(
                {
                    "check": f"slice {key[0]}={key[1]} {policy.slice_metric}",
                    "challenger": ours_slices[key],
                    "champion": their_slices[key],
                    "allowed": f"≥ champion − {policy.slice_tolerance}",
                    "ok": ok,
                }
            )
            if not ok:
                regressed.append(f"{key[0]}={key[1]} ({delta:+.3f})")
        if regressed:
            passed = False
            reasons.append(
                f"slices regress beyond {policy.slice_tolerance} {policy.slice_metric}: "
                + ", ".join(regressed)
            )
        else:
            reasons.append(
                f"no slice regresses beyond {policy.slice_tolerance} {policy.slice_metric} "
                f"({len(set(ours_slices) & set(their_slices))} slices compared)"
            )
    if eval_cases is not None and not _judge_eval_cases(
        eval_cases, champion is not None, reasons, comparisons
    ):
        passed = False
    return GateDecision(
        passed=passed,
        challenger_version=challenger_version,
        champion_version=champion_version,
        reasons=reasons,
        comparisons=comparisons,
        policy=policy.to_dict(),
    )


def _judge_eval_cases(
    results: EvalCaseComparison, has_champion: bool, reasons: list[str], comparisons: list[dict]
) -> bool:
    """Whether the eval suite lets the challenger through; adds its reasons and rows."""
    total = len(results.cases)
    ours = sum(1 for c in results.cases if c.challenger_passed)
    if not has_champion:
        reasons.append(
            f"eval suite: {ours} of {total} approved cases pass (no champion to compare with: the "
            "suite does not block the first model)"
        )
        return True
    theirs = sum(1 for c in results.cases if c.champion_passed)
    regressed = results.regressions
    comparisons.append(
        {
            "check": "eval cases passed",
            "challenger": ours,
            "champion": theirs,
            "allowed": "every case the champion passes",
            "ok": not regressed,
        }
    )
    for case in regressed:
        comparisons.append(
            {
                "check": f"eval case {case.case} ({case.requirement})",
                "challenger": "fails",
                "champion": "passes",
                "allowed": "passes",
                "ok": False,
            }
        )
    if regressed:
        reasons.append(
            f"eval suite: the challenger fails {len(regressed)} case(s) the champion passes: "
            + "; ".join(f"{c.case} (requirement {c.requirement}): {c.detail}" for c in regressed)
        )
        return False
    reasons.append(
        f"eval suite: no case the champion passes fails ({ours} of {total} pass, champion {theirs})"
    )
    return True
