"""Alerts: what the platform tells a person, who that person is, and what to read first.

Every alert carries its **owner** (``team:...``, from the stage that raised it) and a
**runbook** (a Markdown file in ``runbooks/``, listed in ``runbooks/allowlist.yaml``):

- ``blocking_check_failed``: raised by a blocking asset check that fails (contract, ONNX parity);
  runbook: the check's own
- ``promotion_blocked``: raised by the ``promotion_gate`` check blocking a challenger; runbook:
  ``review_blocked_promotion``
- ``llm_regression``: raised by the LLM observability check finding a regression; runbook:
  ``review_llm_regression``
- ``triage_ticket``: raised by the triage of a failed run; runbook: the ticket's recommended
  runbook
- ``training_anomaly``: raised by a training run that succeeded with anomalous metrics; runbook:
  ``review_training_anomaly``
- ``drift_retrain``: raised by the drift sensor requesting a retrain; runbook:
  ``review_drift_retrain``

Every recorded alert opens a page, or joins the open page of the same kind and subject
(``core/operations/pages.py``), which the responder then answers.

Where an alert goes is the caller's choice of sinks: :func:`record_alert` (the local sink,
``platform.alerts``) always, and :func:`post_to_slack` when a Slack incoming webhook is
configured. A delivery that fails is recorded with the alert; it never fails the run.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from platform_assets.core.redaction import redact, redact_value

ALERTS_DDL = """
CREATE SCHEMA IF NOT EXISTS platform;
CREATE TABLE IF NOT EXISTS platform.alerts (
    alert_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    kind VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    owner VARCHAR NOT NULL,
    title VARCHAR NOT NULL,
    summary VARCHAR NOT NULL,
    runbook VARCHAR NOT NULL,
    runbook_url VARCHAR NOT NULL,
    run_id VARCHAR,
    asset VARCHAR,
    details JSON NOT NULL,
    delivered_to JSON NOT NULL,
    delivery_errors JSON NOT NULL
);
"""

KINDS = (
    "blocking_check_failed",
    "promotion_blocked",
    "llm_regression",
    "triage_ticket",
    "training_anomaly",
    "drift_retrain",
    # the scoring service's alerts (the serving issue); the responder's playbook knows them
    "serving_latency",
    "canary_errors",
    "prediction_anomaly",
    "label_feed_late",
    "llm_refusals",
)
SEVERITIES = ("error", "warning", "info")
SLACK_TIMEOUT_SECONDS = 10.0


@dataclass
class Alert:
    """One alert. ``runbook`` is a runbook's name (``runbooks/<name>.md``)."""

    kind: str
    severity: str
    owner: str
    title: str
    summary: str
    runbook: str
    runbook_url: str = ""
    run_id: str | None = None
    asset: str | None = None
    details: dict = field(default_factory=dict)
    alert_id: str = field(default_factory=lambda: "alert-" + uuid.uuid4().hex[:12])
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    delivered_to: list[str] = field(default_factory=list)
    delivery_errors: list[str] = field(default_factory=list)
    # the page this alert opened or joined (``core/operations/pages.py``), once recorded
    page_id: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"unknown alert severity {self.severity!r}; known: {', '.join(SEVERITIES)}"
            )
        if not self.owner or not self.runbook:
            raise ValueError(f"alert {self.title!r} needs an owner and a runbook")
        # Alert text quotes failures from outside: no secret reaches the log, the table or Slack.
        self.title, self.summary = redact(self.title), redact(self.summary)
        self.details = redact_value(self.details)

    def line(self) -> str:
        """The alert on one line, for a run log."""
        where = f" [{self.asset}]" if self.asset else ""
        return (
            f"ALERT {self.severity.upper()} {self.kind}{where}: {self.title} — owner {self.owner}, "
            f"runbook {self.runbook_url or self.runbook}"
        )

    def slack_text(self) -> str:
        """The alert as a Slack message (mrkdwn)."""
        link = (
            f"<{self.runbook_url}|{self.runbook}>"
            if self.runbook_url.startswith("http")
            else (self.runbook_url or self.runbook)
        )
        lines = [
            f"*[{self.severity.upper()}] {self.title}*",
            self.summary,
            f"owner: {self.owner}",
            f"runbook: {link}",
        ]
        if self.run_id:
            lines.append(f"run: {self.run_id}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat()
        return out


def runbook_url(name: str, base_url: str) -> str:
    """Where a person reads runbook ``name``: ``<base>/<name>.md`` (a folder path becomes a
    ``file://`` URI)."""
    if "://" in base_url:
        return f"{base_url.rstrip('/')}/{name}.md"
    return (Path(base_url) / f"{name}.md").resolve().as_uri()


def ensure_alert_table(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(ALERTS_DDL)


def record_alert(conn: duckdb.DuckDBPyConnection, alert: Alert) -> None:
    """The local sink: one row of ``platform.alerts`` (replaced if the alert is recorded again)."""
    ensure_alert_table(conn)
    conn.execute("DELETE FROM platform.alerts WHERE alert_id = ?", [alert.alert_id])
    conn.execute(
        "INSERT INTO platform.alerts (alert_id, created_at, kind, severity, owner, title, "
        "summary, runbook, runbook_url, run_id, asset, details, delivered_to, delivery_errors) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            alert.alert_id,
            alert.created_at,
            alert.kind,
            alert.severity,
            alert.owner,
            alert.title,
            alert.summary,
            alert.runbook,
            alert.runbook_url,
            alert.run_id,
            alert.asset,
            json.dumps(alert.details, default=str),
            json.dumps(alert.delivered_to),
            json.dumps(alert.delivery_errors),
        ],
    )


def post_to_slack(webhook_url: str, alert: Alert, timeout: float = SLACK_TIMEOUT_SECONDS) -> None:
    """Post the alert to a Slack incoming webhook.

    Raises:
        RuntimeError: the webhook did not answer 2xx, or could not be reached.
    """
    body = json.dumps({"text": redact(alert.slack_text())}).encode()
    request = urllib.request.Request(
        webhook_url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
            answer = response.read(200).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(
            f"Slack webhook answered {exc.code}: {exc.read(200).decode(errors='replace')}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise RuntimeError(redact(f"Slack webhook unreachable: {exc}")) from None
    if not 200 <= status < 300:
        raise RuntimeError(f"Slack webhook answered {status}: {answer}")


def read_alerts(conn: duckdb.DuckDBPyConnection, kind: str | None = None) -> list[dict]:
    """Recorded alerts, oldest first, JSON columns decoded ([] when none were ever recorded)."""
    exists = conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = 'platform' "
        "AND table_name = 'alerts'"
    ).fetchall()
    if not exists:
        return []
    where, params = ("WHERE kind = ?", [kind]) if kind else ("", [])
    cursor = conn.execute(
        f"SELECT * FROM platform.alerts {where} ORDER BY created_at, alert_id", params
    )
    columns = [d[0] for d in cursor.description]
    out = []
    for row in cursor.fetchall():
        record = dict(zip(columns, row, strict=True))
        for key in ("details", "delivered_to", "delivery_errors"):
            record[key] = json.loads(record[key])
        out.append(record)
    return out


PAGERDUTY_TIMEOUT_SECONDS = 10.0
PAGERDUTY_SEVERITY = {"error": "error", "warning": "warning", "info": "info"}


def pagerduty_event(
    routing_key: str,
    page: dict,
    probable_cause: str,
    evidence: list[str],
    recommended_action: str,
) -> dict:
    """A PagerDuty Events API v2 ``trigger`` for an escalated page; ``dedup_key`` is the page
    id, so a page escalated twice is one incident."""
    # Everything but the routing key (the endpoint needs it) passes the secret redactor.
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": page["page_id"],
        "payload": redact_value(
            {
                "summary": f"{page['title']}: {probable_cause}"[:1024],
                "source": "platform_assets",
                "severity": PAGERDUTY_SEVERITY.get(page.get("severity", "error"), "error"),
                "component": page.get("subject"),
                "group": page.get("owner"),
                "class": page.get("kind"),
                "custom_details": {
                    "page_id": page["page_id"],
                    "probable_cause": probable_cause,
                    "evidence": evidence[:20],
                    "recommended_action": recommended_action,
                    "run_id": page.get("run_id"),
                },
            }
        ),
    }


def post_to_pagerduty(
    url: str,
    routing_key: str,
    page: dict,
    probable_cause: str,
    evidence: list[str],
    recommended_action: str,
    timeout: float = PAGERDUTY_TIMEOUT_SECONDS,
) -> None:
    """Send an escalated page to a PagerDuty Events API v2 compatible endpoint.

    Raises:
        RuntimeError: the endpoint did not answer 2xx (PagerDuty answers 202), or could not be
            reached within ``timeout``.
    """
    body = json.dumps(
        pagerduty_event(routing_key, page, probable_cause, evidence, recommended_action),
        default=str,
    )
    request = urllib.request.Request(
        url,
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
            answer = response.read(200).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(
            f"PagerDuty endpoint answered {exc.code}: {exc.read(200).decode(errors='replace')}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise RuntimeError(f"PagerDuty endpoint unreachable: {exc}") from None
    if not 200 <= status < 300:
        raise RuntimeError(f"PagerDuty endpoint answered {status}: {answer}")
