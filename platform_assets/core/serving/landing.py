"""What the service wrote, into the warehouse; and the champion's batch scores beside it.

- :func:`land_predictions`: a day of decision files (``serving/decisions/<day>/``) into
  ``serving.predictions`` with dlt, replacing the day (``merge`` on ``partition_date``,
  delete-insert): re-landing a day after more files arrived (a restarted service) lands the
  rest and never a row twice, as lines are unique per ``(request_id, transaction_id, arm)``.
- :func:`record_service_alerts`: alerts the service wrote (``serving/alerts/``) into
  ``platform.alerts``, once each (the service never writes the warehouse).
- :func:`score_batch_day`: the champion's scores of a validated day's features into
  ``serving.batch_scores`` (delete the day, insert it), the batch half of the online parity.

Table ``serving.predictions``: ``request_id, transaction_id, scored_at`` (TIMESTAMPTZ),
``arm`` (champion/canary/shadow), ``model_version`` (INTEGER), ``score, decision, threshold,
latency_ms, partition_date`` (the UTC day of ``scored_at``).

Table ``serving.batch_scores``: ``transaction_id, partition_date, model_version, score, decision``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from platform_assets.core.features.transactions import load_features
from platform_assets.core.operations.alerts import Alert, ensure_alert_table, record_alert
from platform_assets.core.registry.registry import ONNX_FILE, ModelRegistry
from platform_assets.core.registry.store import ArtifactStore
from platform_assets.core.serving.decisions import read_decisions

SCHEMA = "serving"
PREDICTIONS_TABLE = f"{SCHEMA}.predictions"
BATCH_SCORES_TABLE = f"{SCHEMA}.batch_scores"
PIPELINE_NAME = "serving_predictions"
ALERTS_PREFIX = "serving/alerts"

PREDICTION_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("transaction_id", pa.string()),
        ("scored_at", pa.timestamp("us", tz="UTC")),
        ("arm", pa.string()),
        ("model_version", pa.int32()),
        ("score", pa.float64()),
        ("decision", pa.string()),
        ("threshold", pa.float64()),
        ("latency_ms", pa.float64()),
        ("partition_date", pa.date32()),
    ]
)
BATCH_SCORES_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {BATCH_SCORES_TABLE} (
    transaction_id VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    model_version INTEGER NOT NULL,
    score DOUBLE NOT NULL,
    decision VARCHAR NOT NULL
);
"""


def _predictions_table(rows: list[dict], day: dt.date) -> pa.Table:
    columns: dict[str, list] = {name: [] for name in PREDICTION_SCHEMA.names}
    for row in rows:
        for name in PREDICTION_SCHEMA.names[:-1]:
            value = row.get(name)
            if name == "scored_at" and isinstance(value, str):
                value = dt.datetime.fromisoformat(value)
            columns[name].append(value)
        columns["partition_date"].append(day)
    return pa.table(columns, schema=PREDICTION_SCHEMA)


def land_predictions(
    store: ArtifactStore, day: dt.date | str, warehouse_path: str, pipelines_dir: str | Path
) -> dict:
    """Land the day's decision files into ``serving.predictions``; returns counts."""
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    rows, torn = read_decisions(store, day.isoformat())
    table = _predictions_table(rows, day)
    if table.num_rows:
        _run_dlt(table, warehouse_path, pipelines_dir)
    return {"rows": table.num_rows, "torn_lines_skipped": torn, "day": day.isoformat()}


def _run_dlt(table: pa.Table, warehouse_path: str, pipelines_dir: str | Path) -> None:
    import dlt

    from platform_assets.core import warehouse
    from platform_assets.core.ingestion.load import build_pipeline

    if warehouse.resolve_lake(warehouse_path) is not None:
        # The lake's dlt destination lands the raw schema only; the day is replaced here
        # the same way (delete the partition, insert it) in one transaction.
        with warehouse.session(warehouse_path) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            conn.register("landed_predictions", table)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {PREDICTIONS_TABLE} AS "
                f"SELECT * FROM landed_predictions LIMIT 0"
            )
            conn.execute("BEGIN TRANSACTION")
            try:
                conn.execute(
                    f"DELETE FROM {PREDICTIONS_TABLE} WHERE partition_date IN "
                    f"(SELECT DISTINCT partition_date FROM landed_predictions)"
                )
                conn.execute(
                    f"INSERT INTO {PREDICTIONS_TABLE} BY NAME SELECT * FROM landed_predictions"
                )
                conn.execute("COMMIT")
            except Exception:
                conn.execute("ROLLBACK")
                raise
        return
    build_pipeline(warehouse_path, pipelines_dir)  # dlt's telemetry and signal settings
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt.destinations.duckdb(str(warehouse_path)),
        dataset_name=SCHEMA,
        pipelines_dir=str(pipelines_dir),
    )
    resource = dlt.resource(
        table,
        name="predictions",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        merge_key="partition_date",
    )
    pipeline.run(resource)


def record_service_alerts(conn: duckdb.DuckDBPyConnection, store: ArtifactStore) -> list[str]:
    """Record the alerts the service wrote that ``platform.alerts`` does not hold yet; returns
    their ids."""
    ensure_alert_table(conn)
    known = {row[0] for row in conn.execute("SELECT alert_id FROM platform.alerts").fetchall()}
    recorded = []
    for key in store.list(ALERTS_PREFIX + "/"):
        if not key.endswith(".json"):
            continue
        data = json.loads(store.get(key))
        if data["alert_id"] in known:
            continue
        data["created_at"] = dt.datetime.fromisoformat(data["created_at"])
        alert = Alert(**data)
        alert.delivered_to = [*alert.delivered_to, "platform.alerts"]
        record_alert(conn, alert)
        recorded.append(alert.alert_id)
    return recorded


def score_batch_day(
    conn: duckdb.DuckDBPyConnection, registry: ModelRegistry, day: dt.date | str
) -> dict:
    """The champion's scores of ``day``'s features into ``serving.batch_scores``."""
    from platform_assets.core.training.scoring import OnnxScorer

    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    champion = registry.champion()
    if champion is None:
        raise LookupError(
            f"{registry.model_name} has no champion: train and promote a model before batch scoring"
        )
    threshold = champion.threshold if champion.threshold is not None else 0.5
    frame = load_features(conn, day, day)
    scores: list[float] = (
        np.asarray(OnnxScorer(registry.read_file(champion.version, ONNX_FILE)).score(frame))
        .reshape(-1)
        .tolist()
        if len(frame)
        else []
    )
    table = pa.table(
        {
            "transaction_id": pa.array(frame["transaction_id"].tolist(), pa.string()),
            "partition_date": pa.array([day] * len(frame), pa.date32()),
            "model_version": pa.array([champion.version] * len(frame), pa.int32()),
            "score": pa.array(scores, pa.float64()),
            "decision": pa.array(["hold" if s >= threshold else "approve" for s in scores]),
        }
    )
    conn.execute(BATCH_SCORES_DDL)
    conn.register("day_batch_scores", table)
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"DELETE FROM {BATCH_SCORES_TABLE} WHERE partition_date = ?", [day])
        conn.execute(f"INSERT INTO {BATCH_SCORES_TABLE} BY NAME SELECT * FROM day_batch_scores")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("day_batch_scores")
    return {
        "rows": table.num_rows,
        "model_version": champion.version,
        "holds": int(sum(1 for s in scores if s >= threshold)),
    }
