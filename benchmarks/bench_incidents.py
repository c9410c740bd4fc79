"""The on-call incident suite as a report: each scripted incident, its expected and found
cause, what the responder did, and the time from the page's opening to its mitigation.

What it measures
    The twelve incidents of ``platform_assets_tests/support/incidents.py`` (serving latency
    after a promotion, a canary error burst, a challenger scoring 0.99, a transient object-store
    failure, a contract failure, an OOM, an ONNX parity failure, a blocked gate, a Postgres
    restart, a refusal spike, a late label feed, a prompt injection in a log line), each raised
    through the real notifier into a real DuckDB warehouse and answered by the responder:
    once with no key (the playbook), once with Claude's tool-use turns played by the scripted
    Messages API on loopback (the real ``anthropic`` SDK). Time to mitigation is measured from
    the responder's start to the page's ``mitigated`` state (the executors are the suite's; a
    real rollback adds the registry write).

Run
    .venv/bin/python benchmarks/bench_incidents.py
Writes benchmarks/results/incidents.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from platform_assets_tests.support.incidents import (
    INCIDENTS,
    report,
    run_incident,
    table,
)


def main() -> None:
    results = {}
    for mode, with_claude in (("playbook (no key)", False), ("claude (scripted tool use)", True)):
        with tempfile.TemporaryDirectory() as tmp:
            outcomes = []
            for n, incident in enumerate(INCIDENTS):
                home = Path(tmp) / str(n)
                home.mkdir()
                outcomes.append(run_incident(incident, home, with_claude))
        summary = report(outcomes)
        results[mode] = summary
        print(f"\n## {mode}\n")
        print(table(outcomes))
        median = summary["median_seconds_to_mitigation"]
        print(
            f"\nhandled end to end: {summary['handled_end_to_end']}/{summary['incidents']} "
            f"({summary['share_handled']:.0%}); mitigated {summary['mitigated']}, escalated "
            f"{summary['escalated']}; actions outside policy: {summary['actions_outside_policy']}; "
            f"median time to mitigation: {median * 1000:.0f} ms"
        )
    out = Path(__file__).resolve().parent / "results" / "incidents.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
