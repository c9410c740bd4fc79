"""Operations on runs: a dead process never leaves a run STARTED or a pool slot held.

``platform-assets run|backfill|checks run`` execute jobs in-process (``execute_in_process``)
against the persistent instance. When that process dies without a word (``kill -9``, the
OOM killer, a closed laptop) Dagster never hears of it: the run stays STARTED and keeps its
``duckdb_warehouse`` pool slot, and every later step in that pool waits for it forever.
Dagster has the parts to clean up (``report_run_failed``, ``free_concurrency_slots_for_run``,
run monitoring); what it lacks locally is a way to tell a dead run worker from a live one.
This module supplies that, and wires the parts together:

- Every CLI run carries :func:`owner_tags`: the host, pid and start time of the process that
  runs it (the start time, so that a reused pid is not taken for the owner). A run launched
  by the daemon names its worker in Dagster's own ``Started process for run (pid: N)`` event.
- :func:`check_run_worker` says whether that process is alive, as Dagster's
  ``CheckRunHealthResult``.
- The CLI calls :func:`reap_dead_runs` before every run: each in-progress run whose process is
  gone is marked failed with the reason in its event log, and its slots are freed.
- Under the daemon, :class:`LocalRunLauncher` (set in ``dagster.yaml``) is Dagster's
  ``DefaultRunLauncher`` plus that health check, so Dagster's run monitoring fails dead runs
  and, with ``free_slots_after_run_end_seconds``, frees their slots. ``DefaultRunLauncher``
  alone has no health check, so run monitoring could never fail its runs.
- :class:`GuardedRun` wraps one in-process execution. Dagster's in-process executor notices
  SIGINT/SIGTERM only inside a step, so a run waiting for a pool slot ignored them; the guard
  ends such a run as CANCELED. While a step waits for a slot the guard says which run holds
  it, frees it if that run's process has died, and gives up after ``pool_wait_seconds``.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import dagster as dg
from dagster import DagsterEventType, DagsterExecutionInterruptedError
from sqlalchemy.exc import SQLAlchemyError

from platform_assets.dagster_internals import (
    FINISHED_STATUSES,
    GRPC_INFO_TAG,
    CheckRunHealthResult,
    JobFailureData,
    RunFailureReason,
    SqliteRunStorage,
    WorkerStatus,
    check_captured_interrupt,
)

log = logging.getLogger(__name__)

HOST_TAG = "platform_assets/host"
PID_TAG = "platform_assets/pid"
PID_STARTED_TAG = "platform_assets/pid_started_at"
#: A CLI run's heartbeat: the epoch second its guard last wrote, every HEARTBEAT_SECONDS.
HEARTBEAT_TAG = "platform_assets/heartbeat"
HEARTBEAT_SECONDS = 10.0
#: A run whose heartbeat is older than this is dead, wherever its worker ran: with the next
#: run's reaping (or the daemon's run monitoring every 15-30 s), its slots free within a minute.
HEARTBEAT_TIMEOUT_SECONDS = 40.0

# /proc's boot time can move by a second between reads; a pid reused within 2 s is not a worry.
START_TIME_TOLERANCE_SECONDS = 2.0
IN_PROGRESS = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
POOL_WAIT_SECONDS = 900.0
POOL_CHECK_SECONDS = 5.0
POOL_MESSAGE_SECONDS = 60.0
POOL_INIT_ATTEMPTS = 5
# After a stop, how often the guard says it again while the run goes on.
RESIGNAL_SECONDS = 1.0
# Raised in the main thread to stop a run that waits for a pool slot (SIGINT/SIGTERM are Dagster's).
STOP_SIGNAL = signal.SIGUSR1
# While the run waits for a pool slot, the watcher sends this to the main thread about twice
# a second, and its handler sleeps: Dagster's in-process loop checks for a slot without ever
# sleeping (its time to the next claim check is ``min(0, ...)``, never above 0), so a
# waiting run burned a whole core. Paced, it sleeps most of the time and still sees a freed
# slot within a second.
PACE_SIGNAL = signal.SIGUSR2
PACE_SECONDS = 0.45
WAITING_CHECK_SECONDS = 1.0
RESENT_SIGNALS = {signal.SIGINT, signal.SIGTERM, STOP_SIGNAL, PACE_SIGNAL}


def process_started_at(pid: int) -> float | None:
    """When process ``pid`` started, in epoch seconds; ``None`` when there is no such live process.

    Reads ``/proc`` (Linux). Elsewhere a live pid gives ``0.0``: alive, start time unknown.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # another user's process: it exists
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, IndexError):
        return 0.0
    if fields[0] in ("Z", "X"):  # a zombie has exited; only its parent has not reaped it yet
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def owner_tags() -> dict[str, str]:
    """Run tags naming this process as the run's owner: host, pid, process start time."""
    started = process_started_at(os.getpid())
    return {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(os.getpid()),
        PID_STARTED_TAG: f"{started or 0.0:.2f}",
        HEARTBEAT_TAG: f"{time.time():.0f}",
    }


def heartbeat_age(run: dg.DagsterRun, now: float | None = None) -> float | None:
    """Seconds since the run's worker last wrote its heartbeat; None for a run without one."""
    value = run.tags.get(HEARTBEAT_TAG)
    try:
        return (now if now is not None else time.time()) - float(value) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class RunWorker:
    """The process that executes a run.

    ``started_at`` is the process's start time (CLI runs record it); ``seen_at`` a time the
    worker was known to exist (daemon runs: their ``Started process for run`` event).
    """

    host: str
    pid: int
    started_at: float | None = None
    seen_at: float | None = None

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host}"


def run_worker(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunWorker | None:
    """The worker of ``run``, or ``None`` when none is recorded yet or its host is unknown.

    A CLI run names it in its owner tags. Otherwise Dagster's own records name it: the pid of
    the process that reported ``Started process for run (pid: N)`` (a run launched through a
    code server, whose host is in ``.dagster/grpc_info``), else of the first event with a pid
    (an in-process run of an older CLI or of ``dagster job execute``; on this host when the
    instance keeps its runs in SQLite, a file on this machine).
    """
    tags = run.tags
    if PID_TAG in tags:
        started = float(tags.get(PID_STARTED_TAG) or 0.0)
        return RunWorker(tags.get(HOST_TAG, ""), int(tags[PID_TAG]), started_at=started or None)
    if GRPC_INFO_TAG in tags:
        grpc_info = json.loads(tags[GRPC_INFO_TAG])
        local = grpc_info.get("socket") or grpc_info.get("host") in LOCAL_HOSTS
        host = socket.gethostname() if local else str(grpc_info.get("host"))
    elif isinstance(instance.run_storage, SqliteRunStorage):
        host = socket.gethostname()
    else:
        return None
    with_pid = [
        entry
        for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT)
        if entry.dagster_event and "pid" in entry.dagster_event.engine_event_data.metadata
    ]
    launched = [entry for entry in with_pid if entry.message.startswith("Started process for run")]
    entry = launched[-1] if launched else next(iter(with_pid), None)
    if entry is None or entry.dagster_event is None:
        return None
    pid = entry.dagster_event.engine_event_data.metadata["pid"].value  # an int metadata value
    return RunWorker(host, int(cast(int, pid)), seen_at=entry.timestamp)


def worker_alive(worker: RunWorker) -> bool | None:
    """Whether ``worker`` still runs; ``None`` when it is on another host (cannot tell)."""
    if worker.host != socket.gethostname():
        return None
    started = process_started_at(worker.pid)
    if started is None:
        return False
    if not started:  # no /proc: the pid is all there is to go on
        return True
    if worker.started_at is not None:
        return abs(started - worker.started_at) <= START_TIME_TOLERANCE_SECONDS
    if worker.seen_at is not None:
        return started <= worker.seen_at + START_TIME_TOLERANCE_SECONDS
    return True


def check_run_worker(instance: dg.DagsterInstance, run: dg.DagsterRun) -> CheckRunHealthResult:
    """Dagster's health result for ``run``: ``NOT_FOUND`` only when its process is surely gone.

    Run monitoring fails a run on any status but RUNNING and SUCCESS, so a run this function
    cannot judge (no worker recorded yet, another host) is reported RUNNING.
    """
    worker = run_worker(instance, run)
    if worker is None:
        return CheckRunHealthResult(WorkerStatus.RUNNING, "no run worker recorded yet")
    alive = worker_alive(worker)
    if alive is None:
        # Another host: its pid says nothing here; its heartbeat does.
        age = heartbeat_age(run)
        if age is None:
            return CheckRunHealthResult(
                WorkerStatus.RUNNING, f"not checked: its worker ({worker}) is on another host"
            )
        if age <= HEARTBEAT_TIMEOUT_SECONDS:
            return CheckRunHealthResult(
                WorkerStatus.RUNNING, f"its worker ({worker}) beat {age:.0f} s ago"
            )
        return CheckRunHealthResult(
            WorkerStatus.NOT_FOUND,
            f"its worker ({worker}) stopped its heartbeat {age:.0f} s ago (more than "
            f"{HEARTBEAT_TIMEOUT_SECONDS:.0f} s): it was killed or lost its host",
        )
    if alive:
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"its worker ({worker}) is alive")
    return CheckRunHealthResult(
        WorkerStatus.NOT_FOUND,
        f"its process ({worker}) is gone: it was killed or crashed before it could end the run",
    )


def end_run(instance: dg.DagsterInstance, run_id: str, reason: str) -> bool:
    """Mark an unfinished run failed (canceled if it was canceling) with ``reason``, and free
    its concurrency slots. Returns whether the run was still unfinished."""
    run = instance.get_run_by_id(run_id)
    ended = run is not None and not run.is_finished
    if run is not None and ended:
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, reason)
        else:
            instance.report_run_failed(
                run,
                reason,
                JobFailureData(error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION),
            )
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return ended


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """End every in-progress run whose process is gone and free its slots; free the slots that
    finished runs still hold. Returns one line per run ended, for the person at the terminal."""
    ended = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        health = check_run_worker(instance, run)
        if health.status != WorkerStatus.NOT_FOUND:
            continue
        reason = f"Ended by platform-assets: {health.msg}. Its concurrency slots were freed."
        if end_run(instance, run.run_id, reason):
            ended.append(
                f"run {run.run_id} ({run.job_name}): {health.msg}; marked failed, slots freed"
            )
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = storage.get_concurrency_run_ids()
        if holders:
            for record in instance.get_run_records(
                dg.RunsFilter(run_ids=list(holders), statuses=FINISHED_STATUSES)
            ):
                storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
    for line in ended:
        log.warning(line)
    return ended


def ensure_pool_limits(instance: dg.DagsterInstance, pools: Iterable[str]) -> None:
    """Give each pool its default limit (``concurrency.pools.default_limit``) before a run starts.

    Dagster writes a pool's limit the first time one of its steps claims a slot. Two workers
    doing that at once on a new Postgres collide: the loser's INSERT raises a UniqueViolation
    that Dagster's own fallback cannot recover from inside the aborted transaction, and its
    run fails before any step. Here the collision is harmless: the other worker made the row,
    which the next look finds.
    """
    storage = instance.event_log_storage
    if (
        instance.global_op_concurrency_default_limit is None
        or not storage.supports_global_concurrency_limits
    ):
        return
    for pool in pools:
        for attempt in range(POOL_INIT_ATTEMPTS):
            if any(limit.name == pool for limit in storage.get_pool_limits()):
                break
            try:
                storage.initialize_concurrency_limit_to_default(pool)
            except SQLAlchemyError as exc:
                log.info(
                    "pool %s: another worker set its limit at the same time (%s); looking again",
                    pool,
                    type(exc).__name__,
                )
                time.sleep(0.05 * (attempt + 1))


def describe_run(instance: dg.DagsterInstance, run_id: str) -> str:
    """``run <id> (<job>, pid N on host, alive)``: who a run is, for messages about slots."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id} (not in this instance)"
    worker = run_worker(instance, run)
    state = (
        {True: "alive", False: "dead", None: "on another host"}[worker_alive(worker)]
        if worker
        else "no worker"
    )
    return (
        f"run {run_id} ({run.job_name}, {run.status.value}, {worker or 'worker unknown'}, {state})"
    )


def waiting_for(instance: dg.DagsterInstance, run_id: str) -> dict[str, list[str]]:
    """The pools in which a step of ``run_id`` waits for a slot, each with the runs holding its
    slots.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    waits = {}
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        if any(s.run_id == run_id and s.assigned_timestamp is None for s in info.pending_steps):
            waits[pool] = sorted({s.run_id for s in info.claimed_slots if s.run_id != run_id})
    return waits


class RunStopped(RuntimeError):
    """A run the guard ended: on SIGINT/SIGTERM (``signal_name`` set), or after waiting too long."""

    def __init__(self, run_id: str, reason: str, signal_name: str | None = None):
        super().__init__(reason)
        self.run_id, self.reason, self.signal_name = run_id, reason, signal_name


class GuardedRun:
    """Context manager around one in-process execution of run ``run_id`` (signals: main thread
    only).

    A watcher thread learns of SIGINT/SIGTERM through ``signal.set_wakeup_fd`` (the Python
    handlers are Dagster's while it executes) and marks the run CANCELING with the signal's
    name. Inside a step, Dagster's handler interrupts the step and the run ends CANCELED. Between
    steps Dagster only records the signal; if that record is still unread a second later, the
    main thread is waiting for a pool slot, and the watcher raises Dagster's interrupt there
    through :data:`STOP_SIGNAL`. A run still going a second later otherwise lost the interrupt
    (Python drops an exception raised inside a garbage-collector callback, and a signal
    handler can run there): the watcher sends the signal again, every
    :data:`RESIGNAL_SECONDS` until the run ends. Every :data:`POOL_CHECK_SECONDS` it looks for a
    step of the run
    waiting for a slot: it ends runs whose process died, names the live holders, and stops the
    run after ``pool_wait_seconds``. On exit the run is finished and holds no slot; a stopped
    run raises :class:`RunStopped`.
    """

    def __init__(
        self,
        instance: dg.DagsterInstance,
        run_id: str,
        pool_wait_seconds: float = POOL_WAIT_SECONDS,
    ):
        self.instance, self.run_id, self.pool_wait_seconds = instance, run_id, pool_wait_seconds
        self.stop_reason: str | None = None
        self.signal_name: str | None = None
        self._done = threading.Event()
        self._raise_at: float | None = None
        self._waiting_since: float | None = None
        self._last_message = 0.0

    def __enter__(self) -> GuardedRun:
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        # Signal handlers belong to the main thread; elsewhere the guard only watches pools.
        self._signals = threading.current_thread() is threading.main_thread()
        if self._signals:
            self._previous_fd = signal.set_wakeup_fd(
                self._writer.fileno(), warn_on_full_buffer=False
            )
            self._previous_handler = signal.signal(STOP_SIGNAL, self._raise_interrupt)
            self._previous_pace = signal.signal(PACE_SIGNAL, self._pause)
        main_thread = threading.main_thread().ident
        assert main_thread is not None  # set once a thread has started
        self._main_thread = main_thread
        self._thread = threading.Thread(
            target=self._watch, name="platform-assets-run-guard", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        if self._signals:
            # The watcher may be repeating a signal to the main thread just as the run ends:
            # hold those until it has stopped, then drop them (the run is over, and a handler
            # raising here would cut the clean-up below short).
            signal.pthread_sigmask(signal.SIG_BLOCK, RESENT_SIGNALS)
        self._done.set()
        self._thread.join()
        if self._signals:
            while signal.sigtimedwait(RESENT_SIGNALS, 0) is not None:
                pass
            signal.pthread_sigmask(signal.SIG_UNBLOCK, RESENT_SIGNALS)
            signal.set_wakeup_fd(self._previous_fd)
            signal.signal(STOP_SIGNAL, self._previous_handler)
            signal.signal(PACE_SIGNAL, self._previous_pace)
        self._reader.close()
        self._writer.close()
        # A finished run only gets its leftover slots freed; an unfinished one (an exception
        # escaped Dagster, e.g. a KeyboardInterrupt before it took over the signals) is ended.
        early = (
            "The platform-assets process ended the run early "
            f"({exc_type.__name__ if exc_type else 'no end event'})."
        )
        end_run(self.instance, self.run_id, self.stop_reason or early)
        # (A repeated signal that lands just after Dagster handed the signals back is a
        # KeyboardInterrupt.)
        if self.stop_reason and (
            exc_type is None
            or issubclass(exc_type, (DagsterExecutionInterruptedError, KeyboardInterrupt))
        ):
            raise RunStopped(self.run_id, self._stopped_reason(), self.signal_name)
        return False

    def _stopped_reason(self) -> str:
        """Why the run stopped, and, when the signal came too late to stop it (after its last
        step), that it finished anyway: the command still stops, but never says a run that
        succeeded was canceled."""
        reason = self.stop_reason or ""  # called once a stop reason is set
        run = self.instance.get_run_by_id(self.run_id)
        if run is None or run.status != dg.DagsterRunStatus.SUCCESS:
            return reason
        return (
            f"{reason.rstrip('.')}, but the run had already finished its last step: "
            f"it SUCCEEDED; nothing after it was started."
        )

    @staticmethod
    def _raise_interrupt(_signum, _frame) -> None:
        raise DagsterExecutionInterruptedError()

    @staticmethod
    def _pause(_signum, _frame) -> None:
        time.sleep(PACE_SECONDS)

    def _watch(self) -> None:
        # As Dagster's own cancellation thread does: an instance of its own, with its own
        # connections.
        if not self.instance.is_persistent:
            return self._watch_with(self.instance)
        with dg.DagsterInstance.from_ref(self.instance.get_ref()) as instance:
            return self._watch_with(instance)

    def _watch_with(self, instance: dg.DagsterInstance) -> None:
        next_pool_check = time.monotonic() + POOL_CHECK_SECONDS
        paced_at = 0.0
        next_beat = time.monotonic() + HEARTBEAT_SECONDS
        while not self._done.is_set():
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT_SECONDS
                self._beat(instance)
            if select.select([self._reader], [], [], 0.5)[0]:
                received = self._reader.recv(64)
                for name in ("SIGTERM", "SIGINT"):
                    if getattr(signal, name) in received and not self.stop_reason:
                        self.signal_name = name
                        self._stop(
                            instance,
                            f"platform-assets received {name}: stopping the run.",
                            delay=1.0,
                        )
            if self._raise_at is not None and time.monotonic() >= self._raise_at:
                self._raise_at = None
                if self._signals and self._unfinished(instance):
                    self._interrupt_again()
                    self._raise_at = time.monotonic() + RESIGNAL_SECONDS
            if time.monotonic() >= next_pool_check and not self.stop_reason:
                self._check_pools(instance)
                # While waiting, look again soon: the pacing must stop once the slot is had.
                next_pool_check = time.monotonic() + (
                    POOL_CHECK_SECONDS if self._waiting_since is None else WAITING_CHECK_SECONDS
                )
            if (
                self._signals
                and self._waiting_since is not None
                and not self.stop_reason
                and time.monotonic() - paced_at >= PACE_SECONDS
            ):
                paced_at = time.monotonic()
                signal.pthread_kill(self._main_thread, PACE_SIGNAL)

    def _beat(self, instance: dg.DagsterInstance) -> None:
        """Say the run's worker is alive, for run monitoring on any host (a missed beat
        while the storage is unreachable is only late, never fatal)."""
        try:
            if self._unfinished(instance):
                instance.add_run_tags(self.run_id, {HEARTBEAT_TAG: f"{time.time():.0f}"})
        except Exception as exc:
            log.warning("run %s: heartbeat not written (%s)", self.run_id, exc)

    def _unfinished(self, instance: dg.DagsterInstance) -> bool:
        run = instance.get_run_by_id(self.run_id)
        return run is not None and not run.is_finished

    def _interrupt_again(self) -> None:
        """The run goes on after the stop: tell the main thread again.

        A signal Dagster recorded between steps and nobody read means the main thread waits
        outside any step (for a pool slot): raise there. Otherwise Dagster's handler raised
        its interrupt where Python drops exceptions (it ran inside a garbage-collector
        callback or a destructor: "Exception ignored in ..."), or a step started since: send
        the signal again, for Dagster's handler to raise in the step or record between steps.
        """
        if check_captured_interrupt() or not self.signal_name:
            signal.pthread_kill(self._main_thread, STOP_SIGNAL)
        else:
            signal.pthread_kill(self._main_thread, getattr(signal, self.signal_name))

    def _stop(self, instance: dg.DagsterInstance, reason: str, delay: float) -> None:
        self.stop_reason = reason
        run = instance.get_run_by_id(self.run_id)
        if run is not None and not run.is_finished:
            instance.report_run_canceling(run, reason)
        self._raise_at = time.monotonic() + delay

    def _check_pools(self, instance: dg.DagsterInstance) -> None:
        waits = waiting_for(instance, self.run_id)
        if not waits:
            self._waiting_since = None
            return
        if reap_dead_runs(instance):
            return
        now = time.monotonic()
        self._waiting_since = self._waiting_since or now - POOL_CHECK_SECONDS
        waited = now - self._waiting_since
        holders = "; ".join(
            f"pool {pool} is held by "
            + (
                ", ".join(describe_run(instance, r) for r in runs)
                or "no run (slots taken by pending steps)"
            )
            for pool, runs in waits.items()
        )
        if now - self._last_message >= POOL_MESSAGE_SECONDS:
            self._last_message = now
            message = (
                f"run {self.run_id} waits for a pool slot ({waited:.0f} s so far; gives up after "
                f"{self.pool_wait_seconds:.0f} s): {holders}"
            )
            log.warning(message)
            run = instance.get_run_by_id(self.run_id)
            if run is not None:
                instance.report_engine_event(message, run)
        if waited >= self.pool_wait_seconds:
            self._stop(
                instance,
                f"Gave up after waiting {waited:.0f} s for a pool slot: {holders}.",
                delay=0.0,
            )


class LocalRunLauncher(dg.DefaultRunLauncher):
    """Dagster's ``DefaultRunLauncher`` with a run worker health check, for run monitoring.

    Set in ``dagster.yaml`` with ``run_monitoring.enabled``: every ``poll_interval_seconds``
    the daemon asks :func:`check_run_worker` about each STARTED run, CLI runs included, fails
    the runs whose process is gone ("Detected run worker status NOT_FOUND: ...") and, after
    ``free_slots_after_run_end_seconds``, frees their concurrency slots. Production replaces it
    with ``EcsRunLauncher``, which has its own health check.
    """

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        return check_run_worker(self._instance, run)
