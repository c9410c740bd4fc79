"""Every decision the service makes, kept in files the ``serving/predictions`` asset lands.

The service never writes the warehouse (one writer per warehouse: Dagster's runs). Each
worker process buffers its decisions and flushes them at least every second:

- on a local artifacts folder, appended to ``serving/decisions/<day>/<worker>.jsonl`` with a
  single ``write`` per flush (a killed process leaves whole lines; a restart is a new
  worker id, so a new file);
- on S3 (no append), one object per flush: ``serving/decisions/<day>/<worker>-<seq>.jsonl``.

``<day>`` is the UTC day of ``scored_at``. A line is one JSON object with
:data:`DECISION_FIELDS`. Reading (:func:`read_decisions`) skips a last line without its
newline (a write cut short) and counts it, so a torn tail is never landed half.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
import uuid

from platform_assets.core.registry.store import ArtifactStore, LocalStore

PREFIX = "serving/decisions"
DECISION_FIELDS = (
    "request_id",
    "transaction_id",
    "scored_at",
    "arm",
    "model_version",
    "score",
    "decision",
    "threshold",
    "latency_ms",
)


def new_worker_id() -> str:
    """Unique per process start: host, pid and a random tail."""
    host = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in socket.gethostname())
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class DecisionLog:
    """A worker's buffered decision writer. ``append`` from the event loop; ``flush`` from
    any one thread at a time (the service's flusher)."""

    def __init__(self, store: ArtifactStore, worker_id: str | None = None):
        self.store = store
        self.worker_id = worker_id or new_worker_id()
        self._buffer: list[tuple[str, str]] = []  # (day, line)
        self._lock = threading.Lock()
        self._seq = 0
        self.flushed_rows = 0

    def append(self, record: dict) -> None:
        day = record["scored_at"][:10]
        self._buffer.append((day, json.dumps(record, separators=(",", ":")) + "\n"))

    def __len__(self) -> int:
        return len(self._buffer)

    def flush(self) -> int:
        """Write what is buffered; returns the rows written."""
        with self._lock:
            pending, self._buffer = self._buffer, []
            if not pending:
                return 0
            by_day: dict[str, list[str]] = {}
            for day, line in pending:
                by_day.setdefault(day, []).append(line)
            for day, lines in by_day.items():
                data = "".join(lines).encode()
                if isinstance(self.store, LocalStore):
                    path = self.store.local_path(f"{PREFIX}/{day}/{self.worker_id}.jsonl")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                    try:
                        view = memoryview(data)
                        while view:
                            view = view[os.write(fd, view) :]
                    finally:
                        os.close(fd)
                else:
                    self._seq += 1
                    self.store.put(f"{PREFIX}/{day}/{self.worker_id}-{self._seq:08d}.jsonl", data)
            self.flushed_rows += len(pending)
            return len(pending)


def decision_days(store: ArtifactStore) -> list[str]:
    """The days that have decision files, oldest first."""
    return sorted({key.split("/")[2] for key in store.list(PREFIX + "/") if key.count("/") >= 3})


def decision_files(store: ArtifactStore, day: dt.date | str) -> list[str]:
    return [k for k in store.list(f"{PREFIX}/{day}/") if k.endswith(".jsonl")]


def read_decisions(store: ArtifactStore, day: dt.date | str) -> tuple[list[dict], int]:
    """``(decisions, torn)``: every whole line of the day's files, once per
    ``(request_id, transaction_id, arm)``, and the number of torn or unreadable lines skipped."""
    seen: set[tuple] = set()
    rows: list[dict] = []
    torn = 0
    for key in decision_files(store, day):
        text = store.get(key).decode("utf-8", errors="replace")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        elif lines:
            lines.pop()  # the tail has no newline: a write cut short
            torn += 1
        for line in lines:
            try:
                record = json.loads(line)
                identity = (record["request_id"], record["transaction_id"], record["arm"])
            except (ValueError, KeyError, TypeError):
                torn += 1
                continue
            if identity in seen:
                continue
            seen.add(identity)
            rows.append({name: record.get(name) for name in DECISION_FIELDS})
    return rows, torn
