"""Operations: ``triage_run_failures``, a run-failure sensor that turns each failed run into a
ticket,
and ``triage_training_anomalies``, which does the same for a training run that succeeded with
metrics far from the model's history.

For every failed run in this code location it gathers the failed steps, their errors and
stack traces, the log lines just before each failure and the run's tags, classifies them
with the pattern library in ``platform_assets.core.operations.triage``, links similar earlier
failures, and writes a ticket to ``platform.triage_tickets``. Runbooks come only from
``runbooks/allowlist.yaml``; those marked ``safe_to_automate`` *and* approved by two
different reviewers run on their own (the rest wait for a person, who records running them
with ``platform-assets tickets approve``):

- ``collect_diagnostics`` (always): the failure bundle as JSON under ``<home>/artifacts/triage/``;
- ``retry_run`` (lock contention, timeouts): one new run of the failed job, requested by
  this sensor, never for a run that was itself a triage retry.

Every automatic action is recorded in ``platform.triage_actions``. Every ticket is an alert
to the owner of the step that failed, with the ticket's runbook.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import asdict

import dagster as dg

from platform_assets.core.operations.alerts import KINDS as ALERT_KINDS
from platform_assets.core.operations.alerts import Alert
from platform_assets.defs.keys import (
    CONTRACT_CHECK,
    EVAL_RESULTS,
    FRAUD_MODEL,
    ONNX_PARITY_CHECK,
    OPERATIONS,
    PAGES_SENSOR,
    PROMOTION_GATE_CHECK,
    STAGE_ORDER,
    TRAINING,
    TRAINING_ANOMALY_SENSOR,
    TRIAGE_SENSOR,
    owner_tags,
    owners,
)
from platform_assets.defs.monitoring import retrain_fraud_model
from platform_assets.defs.resources import (
    ClaudeResource,
    ModelRegistryResource,
    NotifierResource,
    WarehouseResource,
)

RETRY_TAG = "platform_assets/triage_retry_of"
LOG_LINES_BEFORE_FAILURE = 8


def failure_report(context: dg.RunFailureSensorContext):
    """The failed run as a plain :class:`FailureReport` (steps, errors, stacks, logs before)."""
    return run_failure_report(context.instance, context.dagster_run)


def _checks_by_step(logs) -> dict[str, list]:
    """The blocking checks that did not pass, by the step that evaluated them."""
    from platform_assets.core.operations.triage import FailedCheck

    found: dict[str, list] = {}
    for entry in logs:
        event = entry.dagster_event
        if event is None or event.event_type != dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            continue
        evaluation = event.event_specific_data
        if evaluation.passed or not evaluation.blocking:
            continue
        found.setdefault(entry.step_key, []).append(
            FailedCheck(
                check_name=evaluation.check_name,
                asset=evaluation.asset_key.to_user_string(),
                description=evaluation.description or "",
                metadata={k: getattr(v, "value", v) for k, v in evaluation.metadata.items()},
            )
        )
    return found


def run_failure_report(instance: dg.DagsterInstance, run: dg.DagsterRun):
    """The failed run ``run`` as a plain :class:`FailureReport`, from its event log: each
    failed step's error chain (classes and messages), stack, the blocking checks it evaluated
    that did not pass, and the log lines just before the failure. The sensor and the CLI
    (``platform-assets run``, no daemon) both use it."""
    from platform_assets.core.operations.triage import FailedStep, FailureReport

    logs = instance.all_logs(run.run_id)
    checks = _checks_by_step(logs)
    steps = []
    run_error = ""
    for entry in logs:
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.RUN_FAILURE:
            run_error = entry.message or ""
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                run_error += "\n" + error.to_string()
        if event.event_type != dg.DagsterEventType.STEP_FAILURE:
            continue
        error = event.step_failure_data.error
        chain, classes, stack = [], [], []
        current = error
        while current is not None:
            chain.append(f"{current.cls_name}: {current.message.strip()}")
            classes.append(current.cls_name or "")
            stack.extend(current.stack)
            current = current.cause or current.context
        before = [
            log.user_message
            for log in logs
            if log.step_key == entry.step_key
            and log.user_message
            and not (
                log.dagster_event
                and log.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE
            )
        ]
        steps.append(
            FailedStep(
                step_key=entry.step_key or "",
                error_class=chain[0].split(":")[0] if chain else "",
                message="\ncaused by ".join(chain),
                stack="".join(stack),
                logs_before=before[-LOG_LINES_BEFORE_FAILURE:],
                error_classes=classes,
                failed_checks=checks.get(entry.step_key or "", []),
            )
        )
    return FailureReport(
        run_id=run.run_id,
        job_name=run.job_name,
        failed_steps=steps,
        run_error=run_error,
        tags=dict(run.tags),
    )


def step_owner(repository_def: dg.RepositoryDefinition | None, step_keys: list[str]) -> str:
    """The owner paged for failed steps: the owners of the earliest stage (ingestion first)
    among the failed steps' assets and checks; the platform on-call when unknown."""
    groups = set()
    if repository_def is not None:
        graph = repository_def.asset_graph
        for key in [*graph.get_all_asset_keys(), *graph.asset_check_keys]:
            if graph.assets_def_for_key(key).node_def.name in step_keys:
                asset_key = key.asset_key if isinstance(key, dg.AssetCheckKey) else key
                groups.add(graph.get(asset_key).group_name)
    for group in STAGE_ORDER:
        if group in groups:
            return owners(group)[0]
    return owners(OPERATIONS)[0]


def check_causes() -> dict:
    """The causes of this code location's blocking checks, by check name."""
    from platform_assets.core.operations.triage import CONTRACT_FAILURE, GATE_BLOCKED, ONNX_PARITY

    return {
        PROMOTION_GATE_CHECK: GATE_BLOCKED,
        ONNX_PARITY_CHECK: ONNX_PARITY,
        CONTRACT_CHECK: CONTRACT_FAILURE,
    }


def triage_failed_run(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    *,
    warehouse: WarehouseResource,
    registry: ModelRegistryResource,
    claude: ClaudeResource,
    notifier: NotifierResource,
    log=None,
    repository_def: dg.RepositoryDefinition | None = None,
    allowlist_path: str | None = None,
    requestable: set[str] | frozenset[str] = frozenset(),
):
    """Triage one failed run: its ticket, the allow-listed safe actions, and an alert (which
    opens a page). Returns ``(ticket, actions, run_requests, page_id)``; ``run_requests`` holds the
    retry a sensor may launch (a CLI run, with no daemon, passes no ``requestable`` job)."""
    from platform_assets.core.operations.triage import load_allowlist, run_safe_actions, triage
    from platform_assets.core.operations.triage_drafting import triage_drafter

    report = run_failure_report(instance, run)
    allowlist = load_allowlist(allowlist_path)
    run_requests: list[dg.RunRequest] = []

    def collect_diagnostics(ticket) -> str:
        target = registry.artifacts_path / "triage" / f"{ticket.run_id}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            json.dumps(
                {"ticket": ticket.to_dict(), "report": asdict(report)}, indent=2, default=str
            )
        )
        return f"wrote {target}"

    def retry_run(ticket) -> str:
        if RETRY_TAG in report.tags:
            raise RuntimeError(
                f"run {ticket.run_id} is already a triage retry of {report.tags[RETRY_TAG]}; "
                f"not retrying twice"
            )
        if report.job_name not in requestable:
            raise RuntimeError(f"job {report.job_name} is not one this sensor may launch")
        tags = {k: v for k, v in report.tags.items() if not k.startswith("dagster/")}
        run_requests.append(
            dg.RunRequest(
                run_key=f"triage-retry-{ticket.run_id}",
                job_name=report.job_name,
                tags={**tags, RETRY_TAG: ticket.run_id},
            )
        )
        return f"requested one new run of {report.job_name}"

    from platform_assets.core import warehouse as wh
    from platform_assets.core.llm.governance import read_calls, record_calls

    causes = check_causes()
    with warehouse.get_connection() as conn:
        ticket = triage(report, conn, allowlist, check_causes=causes)  # the pattern library's
    # With a key, Claude writes the ticket from the same evidence; the allow-list still
    # rules. No warehouse connection is open while Claude thinks (a DuckDB file's write
    # lock would stop every other writer): the call is logged in memory, then written.
    draft, calls = None, []
    with wh.connect(":memory:") as call_log:
        drafter = triage_drafter(claude.get_client(), call_log, allowlist)
        if drafter is not None:
            draft = drafter(report, ticket) or {}
            calls = read_calls(call_log)
    with warehouse.get_connection() as conn:
        if draft is not None:
            ticket = triage(
                report, conn, allowlist, drafter=lambda _r, _t: draft, check_causes=causes
            )
            record_calls(conn, calls)
        actions = run_safe_actions(
            ticket,
            conn,
            allowlist,
            {"collect_diagnostics": collect_diagnostics, "retry_run": retry_run},
            runbooks=["collect_diagnostics", ticket.recommended_action],
        )
        alert = notifier.notify(
            Alert(
                kind="triage_ticket",
                severity="error",
                owner=step_owner(repository_def, ticket.failed_steps),
                title=f"run {ticket.run_id} of {ticket.job_name} failed: {ticket.pattern}",
                summary=f"{ticket.probable_cause} Recommended: {ticket.recommended_action} "
                f"({'runs by itself' if ticket.safe_to_automate else 'needs a person'}). "
                f"Ticket {ticket.ticket_id}.",
                runbook=ticket.recommended_action,
                run_id=ticket.run_id,
                details={
                    "ticket_id": ticket.ticket_id,
                    "pattern": ticket.pattern,
                    "job_name": ticket.job_name,
                    "failed_steps": ticket.failed_steps,
                    "actions": [(a["runbook"], a["status"]) for a in actions],
                },
            ),
            log=log,
            conn=conn,
        )
    return ticket, actions, run_requests, alert.page_id


def build_triage_sensor(
    name: str = TRIAGE_SENSOR, request_jobs=None, allowlist_path: str | None = None
):
    """The triage sensor. ``request_jobs`` are the jobs ``retry_run`` may launch again."""
    requestable = {job.name for job in (request_jobs or [])}

    @dg.run_failure_sensor(
        name=name,
        request_jobs=request_jobs or None,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        tags=owner_tags(OPERATIONS),
        description="Turns every failed run into a triage ticket; runs only allow-listed safe "
        "runbooks.",
    )
    def _sensor(
        context: dg.RunFailureSensorContext,
        warehouse: WarehouseResource,
        registry: ModelRegistryResource,
        claude: ClaudeResource,
        notifier: NotifierResource,
    ):
        ticket, actions, run_requests, _page_id = triage_failed_run(
            context.instance,
            context.dagster_run,
            warehouse=warehouse,
            registry=registry,
            claude=claude,
            notifier=notifier,
            log=context.log,
            repository_def=context.repository_def,
            allowlist_path=allowlist_path,
            requestable=requestable,
        )
        context.log.info(
            f"triage {ticket.ticket_id}: {ticket.pattern} → {ticket.recommended_action}; "
            f"actions: {[(a['runbook'], a['status']) for a in actions]}"
        )
        if run_requests:
            return run_requests
        return dg.SkipReason(
            f"ticket {ticket.ticket_id}: {ticket.probable_cause} Recommended: "
            f"{ticket.recommended_action}"
        )

    return _sensor


def _run_metadata(instance: dg.DagsterInstance, run_id: str) -> dict[dg.AssetKey, dict]:
    """The metadata of each asset materialized in a run, as plain values."""
    found = {}
    for record in instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records:
        materialization = record.event_log_entry.asset_materialization
        found[materialization.asset_key] = {
            k: getattr(v, "value", v) for k, v in materialization.metadata.items()
        }
    return found


def training_run(instance: dg.DagsterInstance, run_id: str):
    """The numbers of a run that trained the model (``None`` when it did not)."""
    from platform_assets.core.operations.training_anomalies import TrainingRun

    metadata = _run_metadata(instance, run_id)
    model = metadata.get(FRAUD_MODEL)
    if model is None:
        return None
    evaluation = metadata.get(EVAL_RESULTS, {})
    rows = model.get("train_rows")
    rate = model.get("train_positive_rate")
    return TrainingRun(
        run_id=run_id,
        auroc=evaluation.get("auroc"),
        pr_auc=evaluation.get("pr_auc"),
        train_rows=rows,
        positive_rows=rows * rate if rows is not None and rate is not None else None,
        fit_seconds=model.get("fit_seconds"),
    )


def training_history(instance: dg.DagsterInstance, before_run: str, limit: int = 20) -> list:
    """The earlier training runs, newest first."""
    records = instance.fetch_materializations(FRAUD_MODEL, limit=limit + 1).records
    runs = [training_run(instance, r.run_id) for r in records if r.run_id != before_run]
    return [run for run in runs if run is not None][:limit]


def build_training_anomaly_sensor(
    name: str = TRAINING_ANOMALY_SENSOR, tolerances=None, allowlist_path: str | None = None
):
    """Triage for training runs that *succeed* with metrics far from the model's history."""

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name=name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        tags=owner_tags(TRAINING),
        description="Writes a triage ticket (and an alert) for a training run that succeeded "
        "with AUROC/PR-AUC, rows, positives or fit time far from the model's history.",
    )
    def _sensor(
        context: dg.RunStatusSensorContext, warehouse: WarehouseResource, notifier: NotifierResource
    ):
        from platform_assets.core.operations.training_anomalies import (
            anomaly_ticket,
            find_anomalies,
        )
        from platform_assets.core.operations.triage import load_allowlist, run_safe_actions

        run = training_run(context.instance, context.dagster_run.run_id)
        if run is None:
            return dg.SkipReason(f"run {context.dagster_run.run_id} did not train the model")
        history = training_history(context.instance, before_run=run.run_id)
        anomalies = find_anomalies(run, history, tolerances)
        if not anomalies:
            return dg.SkipReason(
                f"training run {run.run_id} is in line with {len(history)} earlier run(s)"
            )
        allowlist = load_allowlist(allowlist_path)
        with warehouse.get_connection() as conn:
            ticket = anomaly_ticket(
                conn, run, context.dagster_run.job_name, anomalies, history, allowlist
            )
            run_safe_actions(ticket, conn, allowlist, {}, runbooks=[ticket.recommended_action])
            notifier.notify(
                Alert(
                    kind="training_anomaly",
                    severity="warning",
                    owner=owners(TRAINING)[0],
                    title=f"training run {run.run_id} succeeded with anomalous numbers",
                    summary="; ".join(anomalies) + f". Ticket {ticket.ticket_id}.",
                    runbook=ticket.recommended_action,
                    run_id=run.run_id,
                    asset=FRAUD_MODEL.to_user_string(),
                    details={"ticket_id": ticket.ticket_id, "anomalies": anomalies},
                ),
                log=context.log,
                conn=conn,
            )
        return dg.SkipReason(f"ticket {ticket.ticket_id}: {'; '.join(anomalies)}")

    return _sensor


def responder_sources(instance: dg.DagsterInstance | None, registry: ModelRegistryResource):
    """What the responder's read-only tools read in this deployment: the Dagster instance's
    runs and event logs, the model registry's history. Serving metrics are not wired yet (the
    scoring service of the serving issue has not landed): the tool says so."""
    from platform_assets.core.operations.responder import Sources

    def recent_runs(job_name: str) -> list[dict]:
        if instance is None:
            return []
        records = instance.get_run_records(dg.RunsFilter(job_name=job_name), limit=10)
        return [
            {
                "run_id": r.dagster_run.run_id,
                "status": r.dagster_run.status.value,
                "start": r.start_time,
                "end": r.end_time,
            }
            for r in records
        ]

    def step_log(run_id: str) -> list[dict]:
        if instance is None:
            return []
        return [
            {"step": e.step_key, "level": e.level, "message": (e.user_message or "")[:500]}
            for e in instance.all_logs(run_id)
            if e.step_key and (not e.is_dagster_event or int(e.level) >= logging.WARNING)
        ]

    def registry_history() -> list[dict]:
        return registry.get_registry().history()

    return Sources(recent_runs, step_log, registry_history, None)


def responder_executors(
    registry: ModelRegistryResource, actor: str = "responder"
) -> dict[str, Callable[[dict], str]]:
    """The runbooks the responder can carry out here, by name (each idempotent: the toolbox
    never runs one twice for a page). ``retry_run`` stays the triage sensor's (it requests
    the run); the responder finds it done in the ticket's actions."""

    def collect_diagnostics(page: dict) -> str:
        target = registry.artifacts_path / "pages" / f"{page['page_id']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(page, indent=2, default=str))
        return f"wrote {target}"

    def rollback_champion(page: dict) -> str:
        restored = registry.get_registry().rollback(
            reason=f"page {page['page_id']}: {page['title']}", actor=actor
        )
        return f"champion rolled back to v{restored.version}"

    return {"collect_diagnostics": collect_diagnostics, "rollback_champion": rollback_champion}


def page_escalation(notifier: NotifierResource, log=None):
    """Deliver an escalated page: the run log, Slack when configured, PagerDuty (Events API v2)
    when configured. Returns a callback for :func:`respond`."""
    from platform_assets.core.operations.alerts import post_to_pagerduty, post_to_slack

    def escalate(page: dict, response) -> list[str]:
        delivered = ["platform.pages"]
        line = (
            f"PAGE ESCALATED {page['page_id']} {page['kind']}: {page['title']} — "
            f"{response.probable_cause} Recommended: {response.recommended_action}"
        )
        if log is not None:
            log.warning(line)
            delivered.append("run log")
        if notifier.slack_webhook_url:
            try:
                post_to_slack(notifier.slack_webhook_url, _page_alert(page, response))
                delivered.append("slack")
            except RuntimeError as exc:
                delivered.append(f"slack failed: {exc}")
        if notifier.pagerduty_url:
            try:
                post_to_pagerduty(
                    notifier.pagerduty_url,
                    notifier.pagerduty_routing_key or "",
                    page,
                    response.probable_cause,
                    response.evidence,
                    response.recommended_action,
                )
                delivered.append("pagerduty")
            except RuntimeError as exc:
                delivered.append(f"pagerduty failed: {exc}")
        return delivered

    return escalate


def _page_alert(page: dict, response) -> Alert:
    return Alert(
        kind=page["kind"] if page["kind"] in ALERT_KINDS else "triage_ticket",
        severity=page["severity"],
        owner=page["owner"],
        title=f"escalated: {page['title']}",
        summary=f"{response.probable_cause} Recommended: {response.recommended_action}. "
        f"Page {page['page_id']}.",
        runbook=response.recommended_action,
        run_id=page.get("run_id"),
    )


def respond_to_pages(
    conn,
    *,
    instance: dg.DagsterInstance | None,
    registry: ModelRegistryResource,
    claude: ClaudeResource,
    notifier: NotifierResource,
    log=None,
    allowlist_path: str | None = None,
    page_ids: list[str] | None = None,
):
    """Respond to the open pages (or to ``page_ids``) with Claude's tool-use loop when a key is
    configured, else the deterministic playbook; the same tools and policy either way."""
    from platform_assets.core.operations.pages import OPEN, list_pages
    from platform_assets.core.operations.responder import playbook, respond
    from platform_assets.core.operations.responder_claude import claude_decider
    from platform_assets.core.operations.triage import load_allowlist

    allowlist = load_allowlist(allowlist_path)
    client = claude.get_client()
    decider, name = (
        (claude_decider(client, conn), "claude") if client.enabled else (playbook, "playbook")
    )
    ids = page_ids or [
        p["page_id"] for p in sorted(list_pages(conn, state=OPEN), key=lambda p: p["opened_at"])
    ]
    return [
        respond(
            conn,
            page_id,
            allowlist,
            decider=decider,
            responder=name,
            executors=responder_executors(registry),
            sources=responder_sources(instance, registry),
            escalate=page_escalation(notifier, log),
        )
        for page_id in ids
    ]


def _response_line(response) -> str:
    done = ", ".join(f"{a['runbook']} {a['status']}" for a in response.actions) or "no action"
    return f"{response.page_id} {response.state}: {response.recommended_action} ({done})"


def build_pages_sensor(name: str = PAGES_SENSOR, allowlist_path: str | None = None):
    """The on-call sensor: responds to every new page by itself."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        tags=owner_tags(OPERATIONS),
        description="Responds to every open page: investigates with read-only tools, runs an "
        "approved runbook or escalates to a person with the evidence.",
    )
    def _sensor(
        context: dg.SensorEvaluationContext,
        warehouse: WarehouseResource,
        registry: ModelRegistryResource,
        claude: ClaudeResource,
        notifier: NotifierResource,
    ):
        with warehouse.get_connection() as conn:
            responses = respond_to_pages(
                conn,
                instance=context.instance,
                registry=registry,
                claude=claude,
                notifier=notifier,
                log=context.log,
                allowlist_path=allowlist_path,
            )
        if not responses:
            return dg.SkipReason("no open page")
        return dg.SkipReason("; ".join(_response_line(r) for r in responses))

    return _sensor


@dg.definitions
def operations() -> dg.Definitions:
    return dg.Definitions(
        sensors=[
            build_triage_sensor(request_jobs=[retrain_fraud_model]),
            build_training_anomaly_sensor(),
            build_pages_sensor(),
        ]
    )
