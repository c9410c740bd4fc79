"""A training run that succeeds with numbers far from the model's history gets a ticket and
an alert, like a failed run. The runs here are real runs of stand-in assets that carry the
training and evaluation assets' keys and the metadata those assets record."""

from __future__ import annotations

import dagster as dg
import pytest

from platform_assets.core import warehouse as wh
from platform_assets.core.operations.alerts import read_alerts
from platform_assets.core.operations.training_anomalies import TrainingRun, find_anomalies
from platform_assets.core.operations.triage import actions, tickets
from platform_assets.defs.keys import EVAL_RESULTS, FRAUD_MODEL, TEAM_ML_PLATFORM
from platform_assets.defs.operations import build_training_anomaly_sensor

HEALTHY = {
    "train_rows": 10_000,
    "train_positive_rate": 0.02,
    "fit_seconds": 4.0,
    "auroc": 0.86,
    "pr_auc": 0.30,
}


def _train(instance, **numbers) -> dg.ExecuteInProcessResult:
    values = {**HEALTHY, **numbers}

    @dg.asset(key=FRAUD_MODEL)
    def fraud_model():
        return dg.MaterializeResult(
            metadata={k: values[k] for k in ("train_rows", "train_positive_rate", "fit_seconds")}
        )

    @dg.asset(key=EVAL_RESULTS, deps=[fraud_model])
    def eval_results():
        return dg.MaterializeResult(metadata={"auroc": values["auroc"], "pr_auc": values["pr_auc"]})

    result = dg.materialize([fraud_model, eval_results], instance=instance)
    assert result.success
    return result


def _sense(instance, resources, result):
    run = instance.get_run_by_id(result.run_id)
    success = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS
    ).records[0]
    context = dg.build_run_status_sensor_context(
        sensor_name="triage_training_anomalies",
        dagster_event=success.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    )
    return build_training_anomaly_sensor()(context)


def test_an_anomalous_successful_training_run_is_ticketed_and_alerted(env):
    _, resources, instance = env
    for _ in range(3):
        outcome = _sense(instance, resources, _train(instance))
    # The third run has two earlier ones: too few to judge, and the message says so.
    assert "not judged yet: 2 earlier training run(s), 3 are needed" in outcome.skip_message, (
        outcome.skip_message
    )
    normal = _sense(instance, resources, _train(instance, auroc=0.84, fit_seconds=5.0))
    assert "in line with 3 earlier run(s)" in normal.skip_message

    odd = _train(instance, auroc=0.74, train_rows=3_000, fit_seconds=14.0)
    outcome = _sense(instance, resources, odd)
    assert outcome.skip_message.startswith(f"ticket anomaly-{odd.run_id}")
    with wh.session(resources["warehouse"].database) as conn:
        [ticket] = [t for t in tickets(conn) if t["run_id"] == odd.run_id]
        taken = actions(conn, ticket["ticket_id"])
        [alert] = read_alerts(conn, "training_anomaly")
    assert (
        ticket["pattern"] == "training_anomaly"
        and ticket["recommended_action"] == "review_training_anomaly"
    )
    evidence = "\n".join(ticket["evidence"])
    assert "auroc 0.7400 is 0.1200 below the median 0.8600" in evidence
    assert "training rows 3000 are ×0.30 the median 10000" in evidence
    assert "positive (fraud) training rows 60 are ×0.30 the median 200" in evidence
    assert "fitting took 14.0 s, ×3.5 the median 4.0 s" in evidence
    assert [(a["runbook"], a["status"]) for a in taken] == [
        ("review_training_anomaly", "needs_person")
    ]
    assert alert["owner"] == TEAM_ML_PLATFORM and alert["runbook"] == "review_training_anomaly"
    assert alert["run_id"] == odd.run_id


def test_a_run_that_did_not_train_is_not_judged(env):
    _, resources, instance = env

    @dg.asset
    def unrelated():
        return 1

    result = dg.materialize([unrelated], instance=instance)
    assert "did not train the model" in _sense(instance, resources, result).skip_message


@pytest.mark.parametrize(
    "numbers, expected",
    [
        ({}, []),
        ({"pr_auc": 0.24}, ["pr_auc"]),
        ({"pr_auc": 0.26}, []),  # within the 0.05 tolerance
        ({"train_rows": 25_000}, ["training", "positive"]),
        ({"fit_seconds": 11.9}, []),
        ({"fit_seconds": 12.1}, ["fitting"]),
    ],
)
def test_tolerances(numbers, expected):
    def run(run_id, **values):
        v = {**HEALTHY, **values}
        return TrainingRun(
            run_id,
            v["auroc"],
            v["pr_auc"],
            v["train_rows"],
            v["train_rows"] * v["train_positive_rate"],
            v["fit_seconds"],
        )

    history = [run(f"h{i}") for i in range(3)]
    found = find_anomalies(run("now", **numbers), history)
    assert [a.split(" ")[0] for a in found] == expected
    assert find_anomalies(run("now", **numbers), history[:2]) == []  # too little history to judge
