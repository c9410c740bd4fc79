"""The scoring service: a Starlette ASGI app over the champion's ONNX model.

Why Starlette and not FastAPI: the service has five routes and one JSON body whose rules come
from the data contract, not from pydantic models; FastAPI would add pydantic validation and
serialization on the hot path (measured in ``benchmarks/README.md``) and a dependency tree,
for an OpenAPI page nobody here reads. Starlette is what FastAPI runs on anyway.

Routes:

- ``POST /v1/score``: one transaction, or ``{"transactions": [...]}`` (at most
  ``ServingSettings.max_batch``). 200 with ``{"request_id", "results": [...]}`` (one
  transaction: the result object itself, with ``request_id``); 422 naming field, rule and
  value when the contract's row rules break; 413 over the body limit or batch size; 400
  for a body that is not JSON; 503 until a model and state are loaded.
- ``GET /v1/model``: versions, arm, thresholds, state, when loaded.
- ``GET /healthz`` (the process answers), ``GET /readyz`` (model and state loaded),
  ``GET /metrics`` (Prometheus text).

Concurrency: one event loop per worker process, and the request path has no ``await`` between
reading the bundle and answering, so a bundle swap (one assignment) is atomic for every
request. Loading a new bundle, flushing decisions, writing alerts and stopping a canary run
in threads, off the request path. Each worker keeps its own metrics and its own live
per-user events (a transaction scored by worker A is not in worker B's windows until the
``features/online_state`` asset has it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from platform_assets.core.features.online import epoch_us
from platform_assets.core.operations.alerts import Alert, post_to_slack, runbook_url
from platform_assets.core.registry.arms import CANARY, SHADOW, stop_arm
from platform_assets.core.registry.registry import ModelRegistry
from platform_assets.core.registry.store import ArtifactStore
from platform_assets.core.serving.decisions import DecisionLog
from platform_assets.core.serving.models import (
    Bundle,
    NotServableError,
    fingerprint,
    in_canary,
    load_bundle,
)
from platform_assets.core.serving.monitor import Breach, ServingMonitor
from platform_assets.core.serving.requests import TransactionRules
from platform_assets.core.settings import ServingSettings

log = logging.getLogger("platform_assets.serving")
ALERTS_PREFIX = "serving/alerts"
RUNBOOKS = {
    "canary_rollback": "canary_rollback",
    "serving_latency": "serving_latency",
    "serving_errors": "serving_errors",
}
SLO_ALERT_QUIET_SECONDS = 300.0
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCORE_BUCKETS = tuple(i / 20 for i in range(1, 21))


class _BodyTooLarge(Exception):
    pass


@dataclass
class ServiceConfig:
    settings: ServingSettings
    registry: ModelRegistry
    artifacts: ArtifactStore
    rules: TransactionRules
    owner: str
    runbook_base_url: str
    slack_webhook_url: str | None = None


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "serving_requests",
            "Scoring requests by HTTP status and arm",
            ["status", "arm"],
            registry=r,
        )
        self.transactions = Counter(
            "serving_transactions", "Transactions scored, by arm", ["arm"], registry=r
        )
        self.latency = Histogram(
            "serving_request_latency_seconds",
            "Time from the request's arrival to its answer",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.scores = Histogram(
            "serving_score", "Scores given, by arm", ["arm"], buckets=SCORE_BUCKETS, registry=r
        )
        self.loaded = Gauge(
            "serving_model_loaded",
            "1 for each version loaded, by role",
            ["role", "version"],
            registry=r,
        )
        self.champion_version = Gauge(
            "serving_champion_version", "The champion's version number", registry=r
        )
        self.state_events = Gauge(
            "serving_state_events", "Events held in the online feature state", registry=r
        )
        self.swaps = Counter("serving_bundle_swaps", "Model/state swaps", registry=r)
        self.canary_stops = Counter(
            "serving_canary_stops", "Canaries the service stopped itself", registry=r
        )


class ScoringService:
    def __init__(self, config: ServiceConfig):
        self.config = config
        self.settings = config.settings
        self.bundle: Bundle | None = None
        self.not_ready_reason = "starting"
        self.metrics = _Metrics()
        self.monitor = ServingMonitor(config.settings)
        self.decisions = DecisionLog(config.artifacts)
        self._tasks: list[asyncio.Task] = []
        self._last_alert: dict[str, float] = {}
        self._stopping_canary = False

    # -- bundle ----------------------------------------------------------------------
    def _install(self, bundle: Bundle) -> None:
        previous = self.bundle
        if previous is None or (
            previous.arm != bundle.arm
            or (previous.challenger and previous.challenger.version)
            != (bundle.challenger and bundle.challenger.version)
        ):
            self.monitor.reset_canary()
        self.bundle = bundle  # the swap: one assignment, between two requests
        self.not_ready_reason = ""
        m = self.metrics
        m.loaded.clear()
        m.loaded.labels("champion", str(bundle.champion.version)).set(1)
        if bundle.challenger is not None and bundle.arm is not None:
            m.loaded.labels(bundle.arm.mode, str(bundle.challenger.version)).set(1)
        m.champion_version.set(bundle.champion.version)
        m.state_events.set(bundle.state.events)
        if previous is not None:
            m.swaps.inc()
            log.warning(
                f"serving now: champion {bundle.champion.id}, arm "
                f"{bundle.arm.to_dict() if bundle.arm else None}"
            )

    async def refresh(self) -> None:
        """Load a new bundle when the registry or the state pointer changed."""
        cfg = self.config
        try:
            stamp = await asyncio.to_thread(fingerprint, cfg.registry, cfg.artifacts)
            if self.bundle is not None and stamp == self.bundle.fingerprint:
                return
            bundle = await asyncio.to_thread(load_bundle, cfg.registry, cfg.artifacts, self.bundle)
        except NotServableError as exc:
            if self.bundle is None:
                self.not_ready_reason = str(exc)
            return
        except Exception as exc:  # a corrupted file, S3 down: keep serving what is loaded
            log.warning(f"could not load a new model/state; still serving the loaded one: {exc}")
            if self.bundle is None:
                self.not_ready_reason = f"loading failed: {exc}"
            return
        self._install(bundle)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            await self.refresh()

    async def _flush(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                await asyncio.to_thread(self.decisions.flush)
            except Exception as exc:
                log.warning(f"decisions not flushed (kept in memory, retried): {exc}")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            bundle = self.bundle
            if bundle is not None and bundle.challenger is not None and not self._stopping_canary:
                breach = self.monitor.canary_breach(now)
                if breach is not None:
                    await self._stop_canary(bundle, breach)
            for breach in self.monitor.slo_breaches(now):
                last = self._last_alert.get(breach.kind, -1e18)
                if now - last >= SLO_ALERT_QUIET_SECONDS:
                    self._last_alert[breach.kind] = now
                    await asyncio.to_thread(self._alert, breach, bundle)

    async def _stop_canary(self, bundle: Bundle, breach: Breach) -> None:
        assert bundle.challenger is not None and bundle.arm is not None
        self._stopping_canary = True
        try:
            reason = f"stopped by the service: {breach.message}"
            # Off the arm at once in this worker; the registry then tells every worker.
            self.bundle = Bundle(
                bundle.champion,
                None,
                None,
                bundle.state,
                bundle.state_info,
                bundle.fingerprint,
                bundle.loaded_at,
            )
            self.monitor.reset_canary()
            stopped = await asyncio.to_thread(
                stop_arm, self.config.registry, actor="serving", reason=reason, automatic=True
            )
            self.metrics.canary_stops.inc()
            if stopped is not None:  # another worker may have stopped it first
                await asyncio.to_thread(self._alert, breach, bundle)
        except Exception as exc:
            log.warning(f"could not record the canary's stop in the registry: {exc}")
        finally:
            self._stopping_canary = False

    def _alert(self, breach: Breach, bundle: Bundle | None) -> None:
        """An alert in the artifacts store (``serving/alerts/``; the ``serving/predictions``
        asset records it in ``platform.alerts``) and on Slack when configured."""
        cfg = self.config
        canary = breach.kind == "canary_rollback"
        version = (
            None
            if bundle is None
            else (bundle.challenger.id if canary and bundle.challenger else bundle.champion.id)
        )
        alert = Alert(
            kind=breach.kind,
            severity="error" if canary or breach.kind == "serving_errors" else "warning",
            owner=cfg.owner,
            title=(
                f"canary {version} stopped: {breach.rule} {breach.value:.4g} > {breach.limit:g}"
                if canary
                else f"serving SLO breached: {breach.rule} {breach.value:.4g} > {breach.limit:g}"
            ),
            summary=breach.message,
            runbook=RUNBOOKS[breach.kind],
            asset="serving",
            details={
                "rule": breach.rule,
                "value": breach.value,
                "limit": breach.limit,
                "model": version,
                "champion": None if bundle is None else bundle.champion.id,
                "worker": self.decisions.worker_id,
            },
        )
        alert.runbook_url = runbook_url(alert.runbook, cfg.runbook_base_url)
        alert.delivered_to.append("serving/alerts")
        if cfg.slack_webhook_url:
            try:
                post_to_slack(cfg.slack_webhook_url, alert)
                alert.delivered_to.append("slack")
            except RuntimeError as exc:
                alert.delivery_errors.append(f"slack: {exc}")
        day = alert.created_at.date().isoformat()
        try:
            cfg.artifacts.put_text(
                f"{ALERTS_PREFIX}/{day}/{alert.alert_id}.json",
                json.dumps(alert.to_dict(), default=str),
            )
        except Exception as exc:
            log.warning(f"alert {alert.alert_id} not written: {exc}")
        log.warning(alert.line())

    # -- lifespan --------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.refresh()
        self._tasks = [
            asyncio.create_task(self._poll()),
            asyncio.create_task(self._flush()),
            asyncio.create_task(self._watch()),
        ]
        try:
            yield
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self.decisions.flush()

    # -- routes ----------------------------------------------------------------------
    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        if self.bundle is None:
            return JSONResponse({"ready": False, "reason": self.not_ready_reason}, 503)
        return JSONResponse(
            {
                "ready": True,
                "champion": self.bundle.champion.id,
                "state": self.bundle.state_info.get("as_of"),
            }
        )

    async def model(self, request: Request) -> Response:
        if self.bundle is None:
            return JSONResponse({"ready": False, "reason": self.not_ready_reason}, 503)
        return JSONResponse(self.bundle.describe())

    async def metrics_route(self, request: Request) -> Response:
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _BodyTooLarge
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _answer(self, status: int, body: dict, arm: str, started: float, **kw) -> Response:
        latency = time.perf_counter() - started
        self.metrics.requests.labels(str(status), arm).inc()
        self.metrics.latency.observe(latency)
        self.monitor.record_request(time.monotonic(), latency * 1000, status < 500)
        return JSONResponse(body, status, **kw)

    async def score(self, request: Request) -> Response:
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        request_id = request_id[:64]
        try:
            body = await self._body(request)
        except _BodyTooLarge:
            return self._answer(
                413,
                {
                    "error": f"request body over {self.settings.max_body_bytes} bytes "
                    f"(PLATFORM_ASSETS_SERVING_MAX_BODY_BYTES)",
                    "request_id": request_id,
                },
                "none",
                started,
            )
        bundle = self.bundle  # one bundle for the whole request: no await below this line
        if bundle is None:
            return self._answer(
                503, {"error": self.not_ready_reason, "request_id": request_id}, "none", started
            )
        try:
            payload = json.loads(body)
        except ValueError as exc:
            return self._answer(
                400,
                {"error": f"the body is not JSON: {exc}", "request_id": request_id},
                "none",
                started,
            )
        single = not (isinstance(payload, dict) and "transactions" in payload)
        items = [payload] if single else payload["transactions"]
        if not isinstance(items, list):
            return self._answer(
                422,
                {
                    "error": "'transactions' must be a list of transaction objects",
                    "request_id": request_id,
                    "problems": [
                        {
                            "index": None,
                            "field": "transactions",
                            "rule": "type",
                            "value": type(items).__name__,
                        }
                    ],
                },
                "none",
                started,
            )
        if len(items) > self.settings.max_batch:
            return self._answer(
                413,
                {
                    "error": f"{len(items)} transactions in one request; at most "
                    f"{self.settings.max_batch} (PLATFORM_ASSETS_SERVING_MAX_BATCH)",
                    "request_id": request_id,
                },
                "none",
                started,
            )
        rows, problems = [], []
        for index, item in enumerate(items):
            row, found = self.config.rules.check(index, item)
            if found:
                problems.extend(found)
            else:
                rows.append(row)
        if problems:
            first = problems[0]
            return self._answer(
                422,
                {
                    "error": first.message
                    + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""),
                    "request_id": request_id,
                    "problems": [p.to_dict() for p in problems[:100]],
                },
                "none",
                started,
            )
        try:
            return self._score_rows(bundle, rows, request_id, single, started)
        except Exception as exc:
            log.exception("scoring failed")
            return self._answer(
                500, {"error": f"scoring failed: {exc}", "request_id": request_id}, "none", started
            )

    def _score_rows(
        self, bundle: Bundle, rows: list[dict], request_id: str, single: bool, started: float
    ) -> Response:
        state = bundle.state
        for row in rows:  # the request's own transactions join the windows, once each
            state.add(
                row["transaction_id"],
                row["user_id"],
                epoch_us(row["event_ts"]),
                row["amount_cents"] / 100.0,
            )
        features = [state.features(row, row["event_ts"]) for row in rows]
        champion_scores = bundle.champion.score(features)
        percent = bundle.canary_percent
        canary_idx = (
            [i for i, row in enumerate(rows) if in_canary(row["transaction_id"], percent)]
            if percent > 0
            else []
        )
        scores = champion_scores.tolist()
        arms = ["champion"] * len(rows)
        models = [bundle.champion] * len(rows)
        canary_ok = True
        canary_scores: list[float] = []
        challenger = bundle.challenger
        if canary_idx and challenger is not None:
            try:
                canary_scores = challenger.score([features[i] for i in canary_idx]).tolist()
                for i, s in zip(canary_idx, canary_scores, strict=True):
                    scores[i], arms[i], models[i] = s, CANARY, challenger
            except Exception as exc:  # the champion answers; the canary's failure counts
                canary_ok = False
                log.warning(f"canary {challenger.id} failed to score: {exc}")
        scored_at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        latency_ms = (time.perf_counter() - started) * 1000
        results = []
        for row, score, arm, model in zip(rows, scores, arms, models, strict=True):
            decision = "hold" if score >= model.threshold else "approve"
            result = {
                "transaction_id": row["transaction_id"],
                "score": score,
                "decision": decision,
                "threshold": model.threshold,
                "model_version": model.id,
                "arm": arm,
                "request_id": request_id,
            }
            results.append(result)
            self.decisions.append(
                {
                    **result,
                    "model_version": model.version,
                    "scored_at": scored_at,
                    "latency_ms": round(latency_ms, 3),
                }
            )
            self.metrics.scores.labels(arm).observe(score)
        now = time.monotonic()
        if canary_idx and challenger is not None:
            for k, i in enumerate(canary_idx):
                self.monitor.record_canary(
                    now,
                    latency_ms,
                    canary_ok,
                    canary_scores[k] if canary_ok else float("nan"),
                    float(champion_scores[i]),
                )
            self.metrics.transactions.labels(CANARY).inc(len(canary_idx) if canary_ok else 0)
        self.metrics.transactions.labels("champion").inc(
            len(rows) - (len(canary_idx) if canary_ok else 0)
        )
        answered_arm = CANARY if canary_idx and canary_ok else "champion"
        background = None
        if bundle.arm is not None and bundle.arm.mode == SHADOW and challenger is not None:
            background = BackgroundTask(self._shadow, challenger, features, rows, request_id)
        body = {**results[0]} if single else {"request_id": request_id, "results": results}
        return self._answer(200, body, answered_arm, started, background=background)

    def _shadow(self, challenger, features: list[dict], rows: list[dict], request_id: str) -> None:
        """The shadow's scores, after the answer was sent: kept as decisions of arm ``shadow``."""
        try:
            started = time.perf_counter()
            scores = challenger.score(features).tolist()
            latency_ms = (time.perf_counter() - started) * 1000
        except Exception as exc:
            log.warning(f"shadow {challenger.id} failed to score: {exc}")
            return
        scored_at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        for row, score in zip(rows, scores, strict=True):
            self.decisions.append(
                {
                    "request_id": request_id,
                    "transaction_id": row["transaction_id"],
                    "score": score,
                    "decision": "hold" if score >= challenger.threshold else "approve",
                    "threshold": challenger.threshold,
                    "model_version": challenger.version,
                    "arm": SHADOW,
                    "scored_at": scored_at,
                    "latency_ms": round(latency_ms, 3),
                }
            )
            self.metrics.scores.labels(SHADOW).observe(score)
        self.metrics.transactions.labels(SHADOW).inc(len(rows))

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/score", self.score, methods=["POST"]),
                Route("/v1/model", self.model, methods=["GET"]),
                Route("/healthz", self.healthz, methods=["GET"]),
                Route("/readyz", self.readyz, methods=["GET"]),
                Route("/metrics", self.metrics_route, methods=["GET"]),
            ],
            lifespan=self.lifespan,
        )
