"""Where the online feature state lives between the asset that writes it and the service.

Under the artifacts store (``$PLATFORM_ASSETS_HOME/artifacts`` locally, ``<s3 url>/artifacts``
in production)::

    serving/online_state/<stamp>/events.parquet   per-user events (see core/features/online.py)
    serving/online_state/<stamp>/labels.parquet   per-day, per-category label counts
    serving/online_state/CURRENT.json             {"stamp", "as_of", "events", "labels", ...}

A new state is written under a new stamp and only then named in ``CURRENT.json`` (one
object write, atomic on a folder and on S3), so the service never reads half a state. The
two newest stamps are kept: a service that read the old pointer can still load its files.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from platform_assets.core.features.online import OnlineState
from platform_assets.core.registry.store import ArtifactStore

PREFIX = "serving/online_state"
CURRENT = f"{PREFIX}/CURRENT.json"
KEEP = 2


class StateMissingError(LookupError):
    """No online state has been materialized yet."""


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def write_state(
    store: ArtifactStore, events: pa.Table, labels: pa.Table, as_of: dt.date | None
) -> dict:
    """Publish a new state and return its pointer (what ``CURRENT.json`` now says)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    store.put(f"{PREFIX}/{stamp}/events.parquet", _parquet(events))
    store.put(f"{PREFIX}/{stamp}/labels.parquet", _parquet(labels))
    pointer = {
        "stamp": stamp,
        "as_of": None if as_of is None else as_of.isoformat(),
        "events": events.num_rows,
        "labels": labels.num_rows,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    store.put_text(CURRENT, json.dumps(pointer))
    stamps = sorted({key.split("/")[2] for key in store.list(PREFIX + "/") if key.count("/") >= 3})
    for old in stamps[:-KEEP]:
        for key in store.list(f"{PREFIX}/{old}/"):
            _delete(store, key)
    return pointer


def _delete(store: ArtifactStore, key: str) -> None:
    from platform_assets.core.registry.store import LocalStore, S3Store

    if isinstance(store, LocalStore):
        store.local_path(key).unlink(missing_ok=True)
    elif isinstance(store, S3Store):
        store.client.delete_object(Bucket=store.bucket, Key=store._key(key))


def state_pointer_bytes(store: ArtifactStore) -> bytes:
    """The raw pointer (cheap: one small object), b"" when no state exists."""
    try:
        return store.get(CURRENT)
    except KeyError:
        return b""


def read_state(store: ArtifactStore, pointer: bytes | None = None) -> tuple[OnlineState, dict]:
    """The state ``CURRENT.json`` (or ``pointer``) names, loaded.

    Raises:
        StateMissingError: nothing was materialized (run ``features/online_state``).
    """
    raw = state_pointer_bytes(store) if pointer is None else pointer
    if not raw:
        raise StateMissingError(
            f"no online state at {store.uri(CURRENT)}: materialize features/online_state "
            f"(platform-assets run) before serving"
        )
    info = json.loads(raw)
    events = pq.read_table(io.BytesIO(store.get(f"{PREFIX}/{info['stamp']}/events.parquet")))
    labels = pq.read_table(io.BytesIO(store.get(f"{PREFIX}/{info['stamp']}/labels.parquet")))
    return OnlineState(events, labels), info
