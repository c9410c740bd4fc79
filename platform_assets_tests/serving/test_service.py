"""The real scoring service (``platform-assets serve`` on uvicorn, in a subprocess on a free
loopback port) after a small real lifecycle run: parity with the batch scores, the contract's
row rules, limits, model swaps under traffic, the canary's automatic stop, and decisions that
survive ``kill -9``."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
import urllib.request

import dagster as dg
import pytest

from platform_assets.core import warehouse as wh
from platform_assets.core.registry.arms import CANARY, arm_history, current_arm, start_arm
from platform_assets.defs import serving
from platform_assets_tests.support.dagster import offline_registry, offline_resources
from platform_assets_tests.support.servers import wait_for
from platform_assets_tests.support.serving import (
    DAYS,
    Service,
    Traffic,
    constant_onnx,
    day_transactions,
    get,
    post,
    promote,
    register_copy,
)


@pytest.fixture(scope="module")
def service(served_home_template, tmp_path_factory):
    home = tmp_path_factory.mktemp("read_only_service") / "home"
    shutil.copytree(served_home_template, home)
    running = Service(home)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def _land(home, day: str) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [serving.serving_predictions],
            resources=offline_resources(home),
            instance=instance,
            partition_key=day,
        )
    assert result.success
    return result


def _declared_body(port: int, size: int) -> tuple[int, dict]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("POST", "/v1/score")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(size))
    connection.endheaders()
    connection.send(b'{"transactions": [' + b" " * 1000)
    response = connection.getresponse()
    answer = response.status, json.loads(response.read())
    connection.close()
    return answer


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def test_a_validated_day_scored_over_http_matches_the_batch_scores(service):
    day = DAYS[-1]
    transactions = day_transactions(service.home, day)
    results = []
    for start in range(0, len(transactions), 500):
        status, body = post(
            service.url + "/v1/score", {"transactions": transactions[start : start + 500]}
        )
        assert status == 200, body
        results += body["results"]
    with wh.session(service.home / "w.duckdb", read_only=True) as conn:
        batch = dict(
            conn.execute(
                "SELECT transaction_id, score FROM serving.batch_scores WHERE partition_date = ?",
                [day],
            ).fetchall()
        )
    assert len(results) == len(batch) == len(transactions) > 1000
    worst = max(abs(r["score"] - batch[r["transaction_id"]]) for r in results)
    assert worst <= 1e-6, f"online and batch scores differ by up to {worst}"
    first = results[0]
    assert set(first) == {
        "transaction_id",
        "score",
        "decision",
        "threshold",
        "model_version",
        "arm",
        "request_id",
    }
    assert first["model_version"] == "fraud_model:v1" and first["arm"] == "champion"
    assert all(
        r["decision"] == ("hold" if r["score"] >= r["threshold"] else "approve") for r in results
    )
    # Scored twice, still the same: the state holds each transaction once.
    status, again = post(service.url + "/v1/score", transactions[100])
    assert (
        status == 200 and abs(again["score"] - batch[transactions[100]["transaction_id"]]) <= 1e-6
    )


def test_model_health_readiness_and_metrics(service):
    status, model = get(service.url + "/v1/model")
    assert status == 200 and model["champion"]["id"] == "fraud_model:v1"
    assert model["arm"] is None and model["state"]["as_of"] == DAYS[-1].isoformat()
    assert get(service.url + "/healthz") == (200, {"status": "ok"})
    assert get(service.url + "/readyz")[0] == 200
    post(service.url + "/v1/score", day_transactions(service.home, DAYS[-1])[0])
    text = urllib.request.urlopen(service.url + "/metrics", timeout=10).read().decode()
    for name in (
        'serving_requests_total{arm="champion",status="200"}',
        "serving_request_latency_seconds_bucket",
        'serving_score_bucket{arm="champion"',
        'serving_model_loaded{role="champion",version="1"} 1.0',
        "serving_champion_version 1.0",
    ):
        assert name in text, name


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"amount_cents": 0}, "amount_cents", "minimum"),
        ({"amount_cents": "12"}, "amount_cents", "logicalType"),
        ({"merchant_category": "weapons"}, "merchant_category", "enum"),
        ({"user_id": "bob"}, "user_id", "pattern"),
        ({"currency": "JPY"}, "currency", "invalidValues"),
        ({"event_ts": "yesterday"}, "event_ts", "logicalType"),
        ({"card_present": None}, "card_present", "required"),
    ],
)
def test_a_bad_transaction_is_a_422_naming_field_rule_and_value(service, change, field, rule):
    transaction = {**day_transactions(service.home, DAYS[-1])[0], **change}
    status, body = post(service.url + "/v1/score", {"transactions": [transaction]})
    assert status == 422, body
    assert "score" not in json.dumps(body.get("results", ""))
    problem = body["problems"][0]
    assert (problem["field"], problem["rule"]) == (field, rule)
    assert field in body["error"] and rule in body["error"]
    assert problem["value"] == repr(change[field])


def test_unknown_fields_are_ignored_and_limits_answer_413_or_400(service):
    transaction = day_transactions(service.home, DAYS[-1])[1]
    status, body = post(service.url + "/v1/score", {**transaction, "is_fraud": True, "note": "x"})
    assert status == 200 and body["transaction_id"] == transaction["transaction_id"]
    # A body declared over the limit is refused before it is read (the client may still be
    # sending it): 413 from the headers alone.
    status, body = _declared_body(service.port, 3_000_000)
    assert status == 413 and "bytes" in body["error"]
    status, body = post(service.url + "/v1/score", {"transactions": [transaction] * 1001})
    assert status == 413 and "1001 transactions" in body["error"]
    status, body = post(service.url + "/v1/score", b"{not json")
    assert status == 400 and "not JSON" in body["error"]


def test_promote_and_rollback_under_traffic_fail_no_request(served_home):
    v2 = register_copy(served_home)
    service = Service(served_home)
    try:
        service.wait_ready()
        templates = day_transactions(served_home, DAYS[-1])[:200]
        with Traffic(service.url, templates, threads=4) as traffic:
            wait_for(lambda: len(traffic.ok()) > 50, 30, "traffic is answered")
            promote(served_home, v2)
            promoted_at = time.monotonic()
            wait_for(
                lambda: any(b["model_version"] == f"fraud_model:v{v2}" for b in traffic.ok()[-20:]),
                10,
                "the promoted version answers",
            )
            assert time.monotonic() - promoted_at <= 10
            offline_registry(served_home).rollback(reason="test", actor="test")
            rolled_at = time.monotonic()
            wait_for(
                lambda: (
                    all(b["model_version"] == "fraud_model:v1" for b in traffic.ok()[-20:])
                    and time.monotonic() - rolled_at > 1
                ),
                10,
                "the previous champion answers again",
            )
            time.sleep(1)
        assert not traffic.errors and not traffic.failed(), (
            traffic.failed()[:3] or traffic.errors[:3]
        )
        versions = {b["model_version"] for b in traffic.ok()}
        assert versions == {"fraud_model:v1", f"fraud_model:v{v2}"}
        assert len(traffic.ok()) > 200
    finally:
        service.stop()


def test_a_bad_canary_is_stopped_by_the_service_with_an_alert_and_the_reason(served_home):
    bad = register_copy(served_home, constant_onnx(0.99))
    registry = offline_registry(served_home)
    start_arm(registry, bad, CANARY, percent=10, actor="test", reason="try the constant model")
    service = Service(served_home)
    try:
        service.wait_ready()
        _status, model = get(service.url + "/v1/model")
        assert model["arm"]["mode"] == CANARY and model["arm"]["version"] == bad
        templates = day_transactions(served_home, DAYS[-1])[:200]
        with Traffic(service.url, templates, threads=4) as traffic:
            started = time.monotonic()
            wait_for(lambda: current_arm(registry) is None, 60, "the service stops the canary")
            stopped_after = time.monotonic() - started
            time.sleep(1.5)
            tail = traffic.ok()[-30:]
        assert stopped_after < 60
        assert any(b["arm"] == CANARY and b["score"] > 0.98 for b in traffic.ok())
        assert all(b["arm"] == "champion" for b in tail)
        assert not traffic.failed() and not traffic.errors
        stop = arm_history(registry)[-1]
        assert stop["event"] == "stop" and stop["automatic"] and stop["actor"] == "serving"
        assert "PSI" in stop["reason"]
    finally:
        service.stop()
    result = _land(served_home, _today())
    assert (
        result.asset_materializations_for_node("serving__predictions")[0]
        .metadata["service_alerts_recorded"]
        .value
        == 1
    )
    with wh.session(served_home / "w.duckdb", read_only=True) as conn:
        alerts = conn.execute(
            "SELECT kind, owner, runbook, title FROM platform.alerts WHERE kind = 'canary_rollback'"
        ).fetchall()
        arms = dict(
            conn.execute("SELECT arm, count(*) FROM serving.predictions GROUP BY arm").fetchall()
        )
    assert len(alerts) == 1
    _kind, owner, runbook, title = alerts[0]
    assert owner == "team:ml-platform" and runbook == "canary_rollback"
    assert f"fraud_model:v{bad}" in title and "score_psi" in title
    assert arms.get(CANARY, 0) > 0 and arms["champion"] > arms[CANARY]


def test_kill_9_under_load_then_restart_lands_every_flushed_answer_once(served_home):
    templates = day_transactions(served_home, DAYS[-1])[:200]
    first = Service(served_home)
    first.wait_ready()
    with Traffic(first.url, templates, threads=4) as before:
        wait_for(lambda: len(before.ok()) > 300, 60, "traffic is answered")
        time.sleep(3)  # several flushes, and requests in flight when the kill comes
        first.kill()  # SIGKILL: no shutdown, no last flush
        killed_at = time.monotonic()
    second = Service(served_home)
    try:
        second.wait_ready()
        after = Traffic(second.url, templates, threads=2)
        after._seq = iter(range(10_000_000, 20_000_000))  # new transactions, new ids
        with after:
            wait_for(lambda: len(after.ok()) > 100, 60, "traffic is answered after the restart")
    finally:
        second.stop()  # a clean stop flushes everything
    day = _today()
    _land(served_home, day)
    _land(served_home, day)  # landing again lands nothing twice
    with wh.session(served_home / "w.duckdb", read_only=True) as conn:
        rows = conn.execute(
            "SELECT request_id, transaction_id, arm, count(*) FROM serving.predictions "
            "WHERE partition_date = ? GROUP BY ALL",
            [day],
        ).fetchall()
    assert rows and all(n == 1 for *_, n in rows), "a prediction was landed twice"
    landed = {(r, t) for r, t, _, _ in rows}
    answered_before = [
        (body["request_id"], body["transaction_id"], sent)
        for sent, status, body in before.answers
        if status == 200
    ]
    # Everything answered more than a flush interval (1 s) before the kill was flushed.
    settled = [(r, t) for r, t, sent in answered_before if sent < killed_at - 1.5]
    assert settled and all(key in landed for key in settled)
    assert all((b["request_id"], b["transaction_id"]) in landed for b in after.ok())
    answered = {(r, t) for r, t, _ in answered_before} | {
        (b["request_id"], b["transaction_id"]) for b in after.ok()
    }
    assert landed <= answered, "a landed prediction was never answered"


def test_a_shadow_scores_every_request_off_the_response_path(served_home):
    shadow = register_copy(served_home, constant_onnx(0.5))
    start_arm(offline_registry(served_home), shadow, "shadow", actor="test")
    service = Service(served_home)
    try:
        service.wait_ready()
        templates = day_transactions(served_home, DAYS[-1])[:50]
        with Traffic(service.url, templates, threads=2) as traffic:
            wait_for(lambda: len(traffic.ok()) > 100, 60, "traffic is answered")
    finally:
        service.stop()
    assert all(
        b["arm"] == "champion" and b["model_version"] == "fraud_model:v1" for b in traffic.ok()
    )
    _land(served_home, _today())
    with wh.session(served_home / "w.duckdb", read_only=True) as conn:
        shadowed = conn.execute(
            "SELECT count(*), count(DISTINCT request_id), min(score), max(model_version) "
            "FROM serving.predictions WHERE arm = 'shadow'"
        ).fetchall()[0]
        answered = conn.execute(
            "SELECT count(*) FROM serving.predictions WHERE arm = 'champion'"
        ).fetchall()[0][0]
    assert shadowed[0] == answered == len(traffic.ok())
    assert shadowed[2] == pytest.approx(0.5) and shadowed[3] == shadow
