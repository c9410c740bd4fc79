"""What the platform relies on in Dagster's private API (``platform_assets.dagster_internals``)
and in the public replacements for it: a Dagster upgrade that changes any of it fails here."""

from __future__ import annotations

import os
import signal

import dagster as dg
import pytest

from platform_assets import dagster_internals as internals


def test_the_run_tags_dagster_reads_keep_their_names():
    assert internals.PARTITION_NAME_TAG == "dagster/partition"
    assert internals.ASSET_PARTITION_RANGE_START_TAG == "dagster/asset_partition_range_start"
    assert internals.ASSET_PARTITION_RANGE_END_TAG == "dagster/asset_partition_range_end"
    assert internals.GRPC_INFO_TAG == ".dagster/grpc_info"


def test_finished_statuses_are_success_failure_and_canceled():
    assert set(internals.FINISHED_STATUSES) == {
        dg.DagsterRunStatus.SUCCESS,
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.CANCELED,
    }


def test_a_run_launcher_health_result_carries_a_status_and_a_message():
    result = internals.CheckRunHealthResult(internals.WorkerStatus.NOT_FOUND, "gone")
    assert (result.status, result.msg) == (internals.WorkerStatus.NOT_FOUND, "gone")
    assert internals.WorkerStatus.RUNNING != internals.WorkerStatus.NOT_FOUND


def test_a_dead_run_fails_with_dagsters_unexpected_termination_reason(tmp_path):
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        assert isinstance(instance.run_storage, internals.SqliteRunStorage)
        run = instance.add_run(
            dg.DagsterRun(
                job_name="gone",
                run_id="6f3b0c9e-0000-4000-8000-000000000001",
                status=dg.DagsterRunStatus.STARTED,
            )
        )
        instance.report_run_failed(
            run,
            "its process died",
            internals.JobFailureData(
                error=None, failure_reason=internals.RunFailureReason.UNEXPECTED_TERMINATION
            ),
        )
        (record,) = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        failed = instance.get_run_by_id(run.run_id)
    assert failed is not None and failed.status == dg.DagsterRunStatus.FAILURE
    assert record.dagster_event is not None
    data = record.dagster_event.event_specific_data
    assert isinstance(data, internals.JobFailureData)
    assert data.failure_reason == internals.RunFailureReason.UNEXPECTED_TERMINATION


def test_check_captured_interrupt_sees_a_signal_held_back_by_dagster():
    from dagster._utils.interrupts import capture_interrupts

    assert internals.check_captured_interrupt() is False
    with capture_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        assert internals.check_captured_interrupt() is True


@pytest.mark.parametrize(
    ("cron", "valid"),
    [("0 0 * * 1", True), ("*/15 * * * *", True), ("not a cron", False), ("0 0 * *", False)],
)
def test_the_cron_rule_is_dagsters(cron, valid):
    assert internals.is_valid_cron_string(cron) is valid


def test_the_test_only_names_load_on_first_use():
    for name in internals._TEST_ONLY:
        assert getattr(internals, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = internals.nothing_here  # pyright: ignore[reportAttributeAccessIssue]  (the point)


def test_the_public_replacements_behave_as_the_private_calls_did():
    # runner.py: a single-run backfill policy is the one with no partition limit per run.
    assert dg.BackfillPolicy.single_run().max_partitions_per_run is None
    assert dg.BackfillPolicy.multi_run(3).max_partitions_per_run == 3
    # dagster.DagsterEventType and DagsterExecutionInterruptedError are exported.
    assert dg.DagsterEventType.RUN_FAILURE.value == "PIPELINE_FAILURE"
    assert issubclass(dg.DagsterExecutionInterruptedError, BaseException)


def test_no_module_but_the_adapter_imports_dagsters_private_api():
    import ast

    from platform_assets_tests.support.paths import REPO

    allowed = {
        REPO / "platform_assets" / "dagster_internals.py",
        REPO / "platform_assets_tests" / "test_dagster_internals.py",
    }
    found = []
    for folder in ("platform_assets", "platform_assets_tests", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path in allowed:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                else:
                    continue
                found += [
                    f"{path.relative_to(REPO)}:{node.lineno} {name}"
                    for name in names
                    if name.startswith("dagster._")
                ]
    assert found == [], "import it through platform_assets.dagster_internals:\n" + "\n".join(found)
