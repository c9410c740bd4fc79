"""Nothing stuck: a killed run is found, failed and its pool slot freed; signals stop runs.

Real ``platform-assets`` processes against a real Dagster instance in a temporary home: one
is killed with ``kill -9`` while a step holds the ``duckdb_warehouse`` slot and the next run
must finish; a run waiting for a slot held by a live run names it, gives up, stops on SIGTERM
and goes on when the holder dies; the daemon's run monitoring, configured by the project's
``dagster.yaml``, fails dead runs and frees their slots.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import dagster as dg
import pytest
from dagster import DagsterEventType

from platform_assets.core import warehouse
from platform_assets.core.settings import bundled_dagster_yaml
from platform_assets.dagster_internals import GRPC_INFO_TAG, EngineEventData
from platform_assets.operations_runs import (
    HOST_TAG,
    PID_STARTED_TAG,
    PID_TAG,
    GuardedRun,
    LocalRunLauncher,
    RunStopped,
    owner_tags,
)
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.typed import present, scalar

T = TypeVar("T")
POOL = "duckdb_warehouse"
DAY = "2026-11-10"
CLI = [sys.executable, "-m", "platform_assets.cli"]

# A process that holds the pool's only slot for a run it owns, until it is killed.
HOLDER = """
import sys, time, uuid
import dagster as dg
from platform_assets.operations_runs import owner_tags

with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
    run = instance.add_run(dg.DagsterRun(job_name="holder", run_id=str(uuid.uuid4()),
                                         status=dg.DagsterRunStatus.STARTED, tags=owner_tags()))
    instance.event_log_storage.initialize_concurrency_limit_to_default("duckdb_warehouse")
    storage = instance.event_log_storage
    assert storage.claim_concurrency_slot("duckdb_warehouse", run.run_id, "holding").is_claimed
    print(run.run_id, flush=True)
    time.sleep(600)
"""


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in subprocess_env().items() if k != "DAGSTER_HOME"}
    return {
        **env,
        "PLATFORM_ASSETS_HOME": str(home),
        "PLATFORM_ASSETS_ROWS_PER_PARTITION": "2000",
        "RUNTIME__LOG_LEVEL": "ERROR",
    }


STARTED: list[subprocess.Popen] = []


def start_cli(
    home: Path, name: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """``platform-assets ARGS`` in the background; its stdout and stderr go to
    ``home/NAME.out|err``.
    """
    process = subprocess.Popen(
        [*CLI, *args],
        env={**cli_env(home), **(env or {})},
        cwd=REPO,
        stdout=(home / f"{name}.out").open("w"),
        stderr=(home / f"{name}.err").open("w"),
    )
    STARTED.append(process)
    return process


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """A failed test must not leave a run behind that waits, and spins, forever."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def output(home: Path, name: str) -> str:
    return (home / f"{name}.out").read_text() + (home / f"{name}.err").read_text()


def wait_for(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def prepare_dagster_home(home: Path) -> Path:
    """``home/dagster_home`` with the project's dagster.yaml, as ``runner.get_instance`` makes
    it."""
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundled_dagster_yaml(), dagster_home / "dagster.yaml")
    return dagster_home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def instance(home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(prepare_dagster_home(home))) as instance:
        yield instance


def claimed(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    info = instance.event_log_storage.get_concurrency_info(POOL)
    return [(slot.run_id, slot.step_key) for slot in info.claimed_slots]


def queued(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    info = instance.event_log_storage.get_concurrency_info(POOL)
    return [step.step_key for step in info.pending_steps if step.run_id == run_id]


def cli_run(instance: dg.DagsterInstance, process: subprocess.Popen) -> dg.DagsterRun | None:
    """The latest run owned by ``process``."""
    runs = instance.get_runs(dg.RunsFilter(tags={PID_TAG: str(process.pid)}), limit=1)
    return runs[0] if runs else None


def messages(instance: dg.DagsterInstance, run_id: str) -> str:
    return "\n".join(entry.message for entry in instance.all_logs(run_id))


def test_kill_9_mid_step_then_the_next_run_fails_it_frees_its_slot_and_finishes(home, instance):
    first = start_cli(home, "first", "run", "--partition", DAY)
    dead_run_id, step = wait_for(
        lambda: next(iter(claimed(instance)), None),
        180,
        "a step to hold the pool slot",
        interval=0.02,
    )
    first.send_signal(signal.SIGKILL)
    assert first.wait(30) == -signal.SIGKILL
    assert instance.get_run_by_id(dead_run_id).status == dg.DagsterRunStatus.STARTED
    assert claimed(instance) == [(dead_run_id, step)], "the killed run should still hold its slot"

    started = time.time()
    second = start_cli(home, "second", "run", "--partition", DAY)
    assert second.wait(300) == 0, output(home, "second")[-3000:]
    elapsed = time.time() - started

    dead = instance.get_run_by_id(dead_run_id)
    assert dead.status == dg.DagsterRunStatus.FAILURE
    (failure,) = instance.all_logs(dead_run_id, of_type=DagsterEventType.RUN_FAILURE)
    assert f"its process (pid {first.pid} on {socket.gethostname()}) is gone" in failure.message
    assert failure.timestamp - started < 60, "the next run should fail the dead run as it starts"
    assert f"run {dead_run_id} ({dead.job_name})" in output(home, "second")
    assert (
        claimed(instance) == []
        and instance.event_log_storage.get_concurrency_info(POOL).pending_steps == []
    )
    latest = present(cli_run(instance, second))
    assert latest.job_name == "platform_main" and latest.status == dg.DagsterRunStatus.SUCCESS
    print(
        f"the next run finished in {elapsed:.1f} s; it failed the dead run "
        f"{failure.timestamp - started:.1f} s after it started"
    )


def test_sigterm_mid_step_cancels_the_run_and_frees_its_slot(home, instance):
    # The signal goes in while the first of the run's two steps holds the slot, so the run
    # always has a step left to cancel (a signal after the last step cannot stop anything:
    # see test_a_signal_after_the_last_step_says_the_run_succeeded). 10 days of 20,000 rows
    # keep that step busy for seconds.
    process = start_cli(
        home,
        "backfill",
        "backfill",
        "--select",
        "raw/transactions",
        "--select",
        "validated/transactions",
        "--start",
        "2026-11-01",
        "--end",
        DAY,
        env={"PLATFORM_ASSETS_ROWS_PER_PARTITION": "20000"},
    )
    run_id, _ = wait_for(
        lambda: next((slot for slot in claimed(instance) if slot[1] == "raw_transactions"), None),
        180,
        "raw_transactions to hold the pool slot",
        interval=0.02,
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 130, output(home, "backfill")[-3000:]
    run = instance.get_run_by_id(run_id)
    assert run.status in (dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.FAILURE)
    assert "platform-assets received SIGTERM" in messages(instance, run_id)
    assert f"stopped: run {run_id}" in output(home, "backfill")
    assert claimed(instance) == [] and queued(instance, run_id) == []

    # Nothing half-landed stays behind: the same backfill again lands every day once, whole.
    again = start_cli(
        home,
        "again",
        "backfill",
        "--select",
        "raw/transactions",
        "--select",
        "validated/transactions",
        "--start",
        "2026-11-01",
        "--end",
        DAY,
        env={"PLATFORM_ASSETS_ROWS_PER_PARTITION": "20000"},
    )
    assert again.wait(300) == 0, output(home, "again")[-3000:]
    with warehouse.session(home / "warehouse.duckdb", read_only=True) as conn:
        days = conn.execute(
            "SELECT count(DISTINCT partition_date), count(*), count(DISTINCT transaction_id) "
            "FROM raw.transactions"
        ).fetchone()
        kept = scalar(
            conn,
            "SELECT (SELECT count(*) FROM validated.transactions) + "
            "(SELECT count(*) FROM quarantine.rows)",
        )
    assert days == (10, 200_000, 200_000) and kept == 200_000


def test_a_signal_after_the_last_step_says_the_run_succeeded(instance):
    """A signal that comes after the run's last step (Dagster captured it, nothing was left to
    interrupt) still stops the command, but the run's SUCCESS stands and the message says so."""

    @dg.op
    def only_step() -> int:
        return 1

    @dg.job
    def one_step():
        only_step()

    run_id = str(uuid.uuid4())
    # As while Dagster's own handler holds the signals: recorded, nothing raised. (On its way
    # out Dagster points SIGTERM at SIGINT's handler, so both are set.)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(RunStopped) as stopped, GuardedRun(instance, run_id) as guard:
            assert one_step.execute_in_process(instance=instance, run_id=run_id).success
            os.kill(os.getpid(), signal.SIGTERM)
            wait_for(lambda: guard.stop_reason, 10, "the guard to hear SIGTERM")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert stopped.value.signal_name == "SIGTERM"
    assert stopped.value.reason == (
        "platform-assets received SIGTERM: stopping the run, but the run had already "
        "finished its last step: it SUCCEEDED; nothing after it was started."
    )
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS


@pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning"
)  # the dropped interrupt, on purpose
def test_an_interrupt_python_dropped_is_sent_again(instance):
    """Dagster's handler raises its interrupt wherever the main thread is; inside a garbage
    collector callback Python drops it ("Exception ignored in ..."), and the step went on to
    succeed (seen in CI). The guard sees the run still going and sends the signal again."""
    import weakref

    @dg.op
    def step_that_loses_the_signal() -> None:
        class Box:
            pass

        box = Box()
        ref = weakref.ref(box, lambda _: os.kill(os.getpid(), signal.SIGTERM))
        del (
            box
        )  # the callback runs now: the signal's handler raises inside it, and Python drops that
        assert ref() is None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.05)

    @dg.job
    def loses_the_signal():
        step_that_loses_the_signal()

    run_id = str(uuid.uuid4())
    started = time.monotonic()
    with pytest.raises(RunStopped) as stopped, GuardedRun(instance, run_id):
        loses_the_signal.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
    assert stopped.value.signal_name == "SIGTERM"
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELED
    assert time.monotonic() - started < 15, "the step ran on instead of being stopped"


@pytest.fixture
def live_holder(home: Path, instance: dg.DagsterInstance) -> Iterator[tuple[subprocess.Popen, str]]:
    """A live process whose run holds the pool's only slot: ``(process, run_id)``."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home / "dagster_home")],
        env=cli_env(home),
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = present(holder.stdout).readline().strip()
        assert claimed(instance) == [(run_id, "holding")]
        yield holder, run_id
    finally:
        holder.kill()
        holder.wait()


def start_waiting_backfill(home: Path, instance: dg.DagsterInstance, name: str, *args: str):
    """A backfill whose first step waits for the held slot, once it has said who holds it."""
    process = start_cli(
        home, name, "backfill", "--select", "raw/transactions", "--start", DAY, "--end", DAY, *args
    )
    run = wait_for(lambda: cli_run(instance, process), 120, "the backfill run")
    wait_for(
        lambda: "waits for a pool slot" in output(home, name),
        60,
        "the waiting message",
        interval=0.5,
    )
    assert queued(instance, run.run_id) == ["raw_transactions"]
    return process, run


def test_a_run_waiting_for_a_live_run_names_it_and_gives_up(home, instance, live_holder):
    _, holder_run_id = live_holder
    process = start_cli(
        home,
        "gives_up",
        "backfill",
        "--select",
        "raw/transactions",
        "--start",
        DAY,
        "--end",
        DAY,
        "--pool-timeout",
        "3",
    )
    assert process.wait(120) == 1, output(home, "gives_up")[-3000:]
    said = output(home, "gives_up")
    assert (
        f"pool duckdb_warehouse is held by run {holder_run_id} (holder, STARTED, pid" in said
        and "alive)" in said
    )
    assert "waits for a pool slot" in said and "Gave up after waiting" in said
    run = present(cli_run(instance, process))
    assert present(instance.get_run_by_id(run.run_id)).status == dg.DagsterRunStatus.CANCELED
    assert "Gave up after waiting" in messages(instance, run.run_id)
    assert queued(instance, run.run_id) == [] and claimed(instance) == [(holder_run_id, "holding")]


def test_sigterm_stops_a_run_waiting_for_a_pool_slot(home, instance, live_holder):
    _, holder_run_id = live_holder
    process, run = start_waiting_backfill(home, instance, "sigterm")
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 130, output(home, "sigterm")[-3000:]
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
    assert "platform-assets received SIGTERM" in messages(instance, run.run_id)
    assert queued(instance, run.run_id) == [] and claimed(instance) == [(holder_run_id, "holding")]


def test_a_waiting_run_goes_on_when_the_holder_is_killed(home, instance, live_holder):
    holder, holder_run_id = live_holder
    process, run = start_waiting_backfill(home, instance, "goes_on")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    killed = time.monotonic()
    assert process.wait(120) == 0, output(home, "goes_on")[-3000:]
    assert time.monotonic() - killed < 60
    assert instance.get_run_by_id(holder_run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert claimed(instance) == []


def test_run_monitoring_fails_dead_runs_and_frees_their_slots(instance):
    """The daemon's own monitoring iteration, with the project's dagster.yaml, on fake runs."""
    from platform_assets.dagster_internals import (
        EmptyWorkspaceTarget,
        MonitoringDaemon,
        create_test_daemon_workspace_context,
    )

    assert isinstance(instance.run_launcher, LocalRunLauncher) and instance.run_monitoring_enabled
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    mine = owner_tags()

    def started_run(tags: dict[str, str]) -> dg.DagsterRun:
        return instance.add_run(
            dg.DagsterRun(
                job_name="fake",
                run_id=str(uuid.uuid4()),
                status=dg.DagsterRunStatus.STARTED,
                tags=tags,
            )
        )

    dead = started_run(
        {HOST_TAG: socket.gethostname(), PID_TAG: str(exited.pid), PID_STARTED_TAG: "1.00"}
    )
    reused_pid = started_run(
        {**mine, PID_STARTED_TAG: f"{float(mine[PID_STARTED_TAG]) - 3600:.2f}"}
    )
    alive = started_run(mine)
    elsewhere = started_run(
        {HOST_TAG: "another-host", PID_TAG: str(exited.pid), PID_STARTED_TAG: "1.00"}
    )
    # Runs the daemon launched through a local code server: the worker reports its own pid.
    grpc_info = {GRPC_INFO_TAG: json.dumps({"host": "localhost", "port": 4266, "socket": None})}
    launched_dead, launched_alive = started_run(grpc_info), started_run(grpc_info)
    for run, pid in ((launched_dead, exited.pid), (launched_alive, os.getpid())):
        instance.report_engine_event(
            f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid)
        )
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(POOL)
    assert storage.claim_concurrency_slot(POOL, dead.run_id, "step").is_claimed
    assert not storage.claim_concurrency_slot(POOL, alive.run_id, "step").is_claimed

    with create_test_daemon_workspace_context(EmptyWorkspaceTarget(), instance) as context:
        daemon = MonitoringDaemon(interval_seconds=instance.run_monitoring_poll_interval_seconds)
        list(daemon.run_iteration(context))
        status = {
            run.run_id: instance.get_run_by_id(run.run_id).status
            for run in (dead, reused_pid, alive, elsewhere, launched_dead, launched_alive)
        }
        assert status == {
            dead.run_id: dg.DagsterRunStatus.FAILURE,
            reused_pid.run_id: dg.DagsterRunStatus.FAILURE,
            alive.run_id: dg.DagsterRunStatus.STARTED,
            elsewhere.run_id: dg.DagsterRunStatus.STARTED,
            launched_dead.run_id: dg.DagsterRunStatus.FAILURE,
            launched_alive.run_id: dg.DagsterRunStatus.STARTED,
        }
        assert f"its process (pid {exited.pid} on {socket.gethostname()}) is gone" in messages(
            instance, dead.run_id
        )
        time.sleep(instance.run_monitoring_settings["free_slots_after_run_end_seconds"] + 1)
        list(daemon.run_iteration(context))
    assert claimed(instance) == [] or claimed(instance) == [(alive.run_id, "step")]
    assert storage.claim_concurrency_slot(POOL, alive.run_id, "step").is_claimed


def test_a_worker_gone_on_another_host_is_ended_when_its_heartbeat_stops(instance):
    """A CLI run of another host (its pid means nothing here) whose worker was killed: its
    heartbeat stops, and the next run's reaping ends it and frees its slot within a minute;
    a run of another host that still beats is left alone."""
    import uuid

    from platform_assets.operations_runs import (
        HEARTBEAT_TAG,
        HEARTBEAT_TIMEOUT_SECONDS,
        check_run_worker,
        reap_dead_runs,
    )

    def started_run(beat: float) -> dg.DagsterRun:
        return instance.add_run(
            dg.DagsterRun(
                job_name="fake",
                run_id=str(uuid.uuid4()),
                status=dg.DagsterRunStatus.STARTED,
                tags={
                    HOST_TAG: "another-host",
                    PID_TAG: "4242",
                    PID_STARTED_TAG: "1.00",
                    HEARTBEAT_TAG: f"{beat:.0f}",
                },
            )
        )

    killed_at = time.time()
    killed = started_run(killed_at)  # its last beat: the moment its worker was killed
    beating = started_run(killed_at)
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(POOL)
    assert storage.claim_concurrency_slot(POOL, killed.run_id, "step").is_claimed
    assert check_run_worker(instance, killed).status.value == "RUNNING"
    while instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.STARTED:
        assert time.time() - killed_at < 60, "the dead run was not ended within a minute"
        instance.add_run_tags(beating.run_id, {HEARTBEAT_TAG: f"{time.time():.0f}"})
        reap_dead_runs(instance)  # what the next CLI run does first
        time.sleep(1)
    freed_after = time.time() - killed_at
    print(f"a worker killed on another host: its slot was free {freed_after:.0f} s later")
    assert HEARTBEAT_TIMEOUT_SECONDS <= freed_after < 60
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert "stopped its heartbeat" in messages(instance, killed.run_id)
    assert claimed(instance) == []
    assert instance.get_run_by_id(beating.run_id).status == dg.DagsterRunStatus.STARTED
