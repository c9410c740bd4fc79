"""Runbooks are Markdown files the allow-list references; one runs by itself only once two
different reviewers approved it; the rest wait for a person, whose approval is recorded."""

from __future__ import annotations

import re

import dagster as dg
import pytest
import yaml

from platform_assets.core import warehouse as wh
from platform_assets.core.operations.triage import (
    TicketNotFound,
    actions,
    approve,
    load_allowlist,
    ticket_status,
    tickets,
)
from platform_assets.defs.operations import build_triage_sensor
from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.triage import fail_and_triage, failing_job, reviewed_allowlist
from platform_assets_tests.support.typed import present

SECTIONS = ("## What happened", "## How to confirm", "## What to do", "## How to roll back")


def _timeout():
    raise TimeoutError("the landing bucket timed out")


def test_every_allow_listed_runbook_is_a_markdown_file_with_the_four_sections():
    allowlist = load_allowlist()
    for runbook in allowlist.values():
        assert runbook.doc == f"runbooks/{runbook.name}.md", runbook.name
        text = (REPO / present(runbook.doc)).read_text()
        assert text.startswith(f"# {runbook.name}\n")
        positions = [text.find(section) for section in SECTIONS]
        assert -1 not in positions and positions == sorted(positions), (runbook.name, positions)
    files = {p.stem for p in (REPO / "runbooks").glob("*.md")}
    assert files == set(allowlist), "every runbook file is on the allow-list and vice versa"


def test_the_shipped_allow_list_lets_nothing_run_by_itself_until_reviewed():
    allowlist = load_allowlist()
    assert allowlist["retry_run"].safe_to_automate and not allowlist["retry_run"].runs_by_itself
    assert "reviewed by 0 of the 2" in allowlist["retry_run"].why_a_person()


@pytest.mark.parametrize(
    "reviews, runs_by_itself",
    [
        ([], False),
        ([{"by": "Ada", "on": "2026-11-20"}], False),
        (
            [{"by": "Ada", "on": "2026-11-20"}, {"by": "Ada", "on": "2026-11-21"}],
            False,
        ),  # the same person twice
        ([{"by": "Ada", "on": "2026-11-20"}, {"by": "Grace", "on": "2026-11-21"}], True),
    ],
)
def test_a_safe_runbook_runs_by_itself_only_with_two_different_reviewers(
    env, tmp_path, reviews, runs_by_itself
):
    _, resources, instance = env
    allowlist = reviewed_allowlist(tmp_path, "collect_diagnostics", "retry_run", reviews=reviews)
    job = failing_job("flaky_job", _timeout)
    sensor = build_triage_sensor(request_jobs=[job], allowlist_path=str(allowlist))
    ticket, taken, outcome = fail_and_triage(instance, resources, job=job, sensor=sensor)
    assert (
        ticket["recommended_action"] == "retry_run" and ticket["safe_to_automate"] is runs_by_itself
    )
    statuses = {runbook: status for runbook, status, _ in taken}
    if runs_by_itself:
        assert statuses == {"collect_diagnostics": "executed", "retry_run": "executed"}
        assert isinstance(outcome, list) and outcome[0].job_name == "flaky_job"
    else:
        assert statuses == {"collect_diagnostics": "needs_person", "retry_run": "needs_person"}
        assert isinstance(outcome, dg.SkipReason)
        detail = {r: d for r, _, d in taken}["retry_run"]
        assert f"reviewed by {len({r['by'] for r in reviews})} of the 2" in detail
        assert f"platform-assets tickets approve {ticket['ticket_id']} --by NAME" in detail


def test_a_person_approving_a_ticket_is_recorded_with_their_name(env):
    _tmp_path, resources, instance = env
    ticket, _, _ = fail_and_triage(instance, resources, job=failing_job("needs_a_person", _timeout))
    with wh.session(resources["warehouse"].database) as conn:
        [stored] = [t for t in tickets(conn) if t["ticket_id"] == ticket["ticket_id"]]
        assert ticket_status(stored, actions(conn, ticket["ticket_id"])) == "needs_person"
        recorded = approve(conn, ticket["ticket_id"], "  Grace Hopper ")
        assert recorded["actor"] == "Grace Hopper" and recorded["runbook"] == "retry_run"
        history = actions(conn, ticket["ticket_id"])
        assert (history[-1]["status"], history[-1]["actor"]) == ("approved", "Grace Hopper")
        assert ticket_status(stored, history) == "approved"
        with pytest.raises(TicketNotFound):
            approve(conn, "triage-no-such-run", "Grace Hopper")
        with pytest.raises(ValueError, match="--by NAME"):
            approve(conn, ticket["ticket_id"], " ")


def test_a_malformed_review_names_the_file_and_the_entry(tmp_path):
    data = yaml.safe_load((REPO / "runbooks" / "allowlist.yaml").read_text())
    data["runbooks"][1]["reviews"] = [{"by": "Ada", "on": "last tuesday"}]
    path = tmp_path / "allowlist.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(
        ValueError,
        match=re.escape(f"{path}: runbooks[1] (retry_run) reviews[0]: on: 'last tuesday'"),
    ):
        load_allowlist(path)
