"""Requirement documents, the case schema, and the suite's review: coverage, duplicates, rot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from platform_assets.core.eval_suite.cases import CaseError, load_case
from platform_assets.core.eval_suite.requirements import RequirementsError, parse_requirements
from platform_assets.core.eval_suite.review import ReviewError, approve, reject
from platform_assets.core.eval_suite.suite import load_suite, review_suite
from platform_assets_tests.support.evals import (
    SHIPPED_EVALS,
    case_body,
    write_case,
    write_requirements,
)
from platform_assets_tests.support.typed import present

TODAY = dt.date(2026, 11, 22)
GROCERY = {
    "filter": "card_present = 1 AND merchant_category = 'grocery'",
    "metric": "false_positive_rate",
    "max": 0.005,
    "min_support": 100,
}


def test_requirements_get_ids_and_hashes_that_only_a_changed_word_changes(tmp_path: Path):
    path = tmp_path / "scoring.md"
    path.write_text(
        "# Requirement: scoring\n\n1. Every transaction gets a score\n   within 50 ms.\n"
        "2. Scores are probabilities.\n\nNotes: this line is prose, not a requirement.\n"
    )
    first, second = parse_requirements(path)
    assert (first.id, first.text, first.line) == (
        "scoring#1",
        "Every transaction gets a score within 50 ms.",
        3,
    )
    assert second.text == "Scores are probabilities."
    path.write_text(
        "# Requirement: scoring\n\n1. Every transaction gets a score within 50 ms.\n"
        "2. Scores are calibrated probabilities.\n"
    )
    rewrapped, changed = parse_requirements(path)
    assert rewrapped.sha256 == first.sha256 and changed.sha256 != second.sha256


def test_a_requirement_numbered_twice_names_the_file_and_line(tmp_path: Path):
    path = tmp_path / "scoring.md"
    path.write_text("1. One.\n2. Two.\n2. Two again.\n")
    with pytest.raises(
        RequirementsError,
        match=r"scoring.md:3: requirement 2 is numbered twice \(first on line 2\)",
    ):
        parse_requirements(path)


VALID = case_body("fs-grocery", "fraud_scoring#3", "slice_metric", GROCERY)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"slice_metric": {**GROCERY, "metric": "accuracy"}},
            r"slice_metric\.metric \(line \d+\): Input should be",
        ),
        (
            {"slice_metric": {**GROCERY, "maximum": 0.1}},
            r"slice_metric\.maximum \(line \d+\): Extra inputs",
        ),
        (
            {"slice_metric": {k: v for k, v in GROCERY.items() if k != "max"}},
            r"slice_metric \(line \d+\): a slice_metric "
            r"needs a bound",
        ),
        ({"kind": "latency"}, r"\(case\): kind is latency but the case has a slice_metric block"),
        (
            {"kind": "latency", "slice_metric": None},
            r"kind is latency: the case needs a latency block",
        ),
        ({"requirement": "fraud scoring 3"}, r"requirement \(line \d+\): .*not a requirement id"),
        (
            {"status": "approved"},
            r"an approved case records requirement_sha256, reviewed_by, reviewed_at",
        ),
        (
            {"status": "rejected", "reviewed_by": "x", "reviewed_at": "2026-11-01"},
            r"a rejected case records why",
        ),
        ({"id": "another-id"}, r"id \(line 1\): 'another-id' differs from the file name"),
        (
            {
                "kind": "contract",
                "slice_metric": None,
                "contract": {
                    "mutation": {"fault": {"amount_units": "dollars"}},
                    "expect": {"verdict": "reject"},
                },
            },
            r"contract\.mutation \(line \d+\): fault has unknown fields \['amount_units'\]",
        ),
    ],
)
def test_a_malformed_case_names_its_file_field_and_line(tmp_path: Path, change: dict, message: str):
    body = {k: v for k, v in {**VALID, **change}.items() if v is not None}
    path = write_case(tmp_path, body, name="fs-grocery")
    with pytest.raises(CaseError, match=message) as raised:
        load_case(path)
    assert str(raised.value).startswith(str(path))


def test_a_case_that_is_not_yaml_names_its_line(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: broken\nkind: [scenario\n")
    with pytest.raises(CaseError, match=r"broken.yaml: not valid YAML \(line 3\)"):
        load_case(path)


def test_the_shipped_suite_covers_every_requirement_of_both_documents():
    suite = load_suite(SHIPPED_EVALS)
    review = review_suite(suite, today=TODAY)
    documents = {r.document for r in suite.requirements}
    assert documents == {"fraud_scoring", "data_contracts"} and len(suite.requirements) == 11
    assert review.coverage == 1.0 and not review.thin and not review.uncovered
    assert not review.duplicates and not review.stale and not review.unknown_requirements
    kinds = {c.kind for c in suite.approved if (c.requirement or "").startswith("fraud_scoring")}
    assert kinds == {"scenario", "slice_metric", "latency", "contract"}
    # The 70%-recall case stays a draft: it does not count, and says why.
    (recall,) = [c for c in suite.drafted if c.requirement == "fraud_scoring#2"]
    assert "0.28" in (recall.description or "") and recall.id not in {c.id for c in suite.approved}
    by_id = {r.id: r for r in suite.requirements}
    assert all(c.requirement_sha256 == by_id[present(c.requirement)].sha256 for c in suite.approved)


@pytest.fixture
def small_suite(tmp_path: Path) -> Path:
    evals = tmp_path / "evals"
    write_requirements(
        evals, "scoring", ["Scores are fast.", "Grocery is not flagged.", "Amounts are in cents."]
    )
    return evals


def _approved(
    evals: Path, case_id: str, requirement: str, kind: str, block: dict, *, reviewed_at=TODAY
) -> None:
    write_case(evals / "cases", case_body(case_id, requirement, kind, block))
    approve(evals, None, case_id, "tester", today=reviewed_at)


def test_coverage_is_an_error_with_no_case_a_warning_below_min_cases_and_drafts_never_count(
    small_suite, tmp_path
):
    _approved(small_suite, "fast-1", "scoring#1", "latency", {"budget_ms": 50})
    _approved(small_suite, "fast-2", "scoring#1", "latency", {"budget_ms": 10, "percentile": 50})
    _approved(small_suite, "grocery-1", "scoring#2", "slice_metric", GROCERY)
    inbox = tmp_path / "inbox"
    write_case(
        inbox,
        case_body(
            "cents-draft",
            "scoring#3",
            "contract",
            {"mutation": {"fault": {"amount_unit": "dollars"}}, "expect": {"verdict": "reject"}},
        ),
    )
    review = review_suite(load_suite(small_suite, inbox), today=TODAY)
    levels = {r.id: (r.level, r.approved, r.drafted) for r in review.requirements}
    assert levels == {
        "scoring#1": ("ok", 2, 0),
        "scoring#2": ("warn", 1, 0),
        "scoring#3": ("error", 0, 1),
    }
    assert review.uncovered == ["scoring#3"] and review.thin == ["scoring#2"]
    assert review.coverage_json() == {
        "coverage": 0.6667,
        "requirements": [
            {"id": "scoring#1", "approved": 2, "drafted": 0, "stale": 0},
            {"id": "scoring#2", "approved": 1, "drafted": 0, "stale": 0},
            {"id": "scoring#3", "approved": 0, "drafted": 1, "stale": 0},
        ],
    }


def test_cases_testing_the_same_thing_are_duplicates_whatever_their_bounds(small_suite):
    _approved(small_suite, "grocery-1", "scoring#2", "slice_metric", GROCERY)
    write_case(
        small_suite / "cases",
        case_body(
            "grocery-2",
            "scoring#2",
            "slice_metric",
            {**GROCERY, "filter": GROCERY["filter"].upper(), "max": 0.01},
        ),
    )
    with pytest.raises(ReviewError, match="tests exactly what approved case grocery-1 tests"):
        approve(small_suite, None, "grocery-2", "tester", today=TODAY)
    # Written approved by hand, the duplicate is what the suite's review reports.
    write_case(
        small_suite / "cases",
        case_body(
            "grocery-2",
            "scoring#2",
            "slice_metric",
            {**GROCERY, "max": 0.01},
            status="approved",
            requirement_sha256="0" * 16,
            reviewed_by="x",
            reviewed_at="2026-11-20",
        ),
    )
    assert review_suite(load_suite(small_suite), today=TODAY).duplicates == [
        ["grocery-1", "grocery-2"]
    ]


def test_a_case_goes_stale_after_90_days_or_when_its_requirement_changes_and_a_re_review_renews_it(
    small_suite,
):
    _approved(
        small_suite,
        "fast-1",
        "scoring#1",
        "latency",
        {"budget_ms": 50},
        reviewed_at=TODAY - dt.timedelta(days=91),
    )
    _approved(small_suite, "grocery-1", "scoring#2", "slice_metric", GROCERY)
    assert [s.case for s in review_suite(load_suite(small_suite), today=TODAY).stale] == ["fast-1"]
    write_requirements(
        small_suite,
        "scoring",
        ["Scores are fast.", "Grocery under 20 USD is not flagged.", "Amounts are in cents."],
    )
    stale = {s.case: s.reasons for s in review_suite(load_suite(small_suite), today=TODAY).stale}
    assert set(stale) == {"fast-1", "grocery-1"}
    assert (
        "not reviewed for 91 days" in stale["fast-1"][0]
        and "text of scoring#2 changed" in stale["grocery-1"][0]
    )
    approve(small_suite, None, "grocery-1", "second reviewer", today=TODAY)
    approve(small_suite, None, "fast-1", "second reviewer", today=TODAY)
    assert review_suite(load_suite(small_suite), today=TODAY).stale == []
    assert load_case(small_suite / "cases" / "grocery-1.yaml").reviewed_by == "second reviewer"


def test_approval_needs_a_known_requirement_and_moves_a_draft_out_of_the_inbox(
    small_suite, tmp_path
):
    inbox = tmp_path / "inbox"
    write_case(inbox, case_body("no-requirement", None, "latency", {"budget_ms": 50}))
    write_case(inbox, case_body("unknown-requirement", "scoring#9", "latency", {"budget_ms": 50}))
    write_case(inbox, case_body("good", "scoring#1", "latency", {"budget_ms": 50}))
    with pytest.raises(ReviewError, match="requirement is not set"):
        approve(small_suite, inbox, "no-requirement", "tester")
    with pytest.raises(
        ReviewError, match=r"requirement scoring#9 is not in .*\(requirements: scoring#1, scoring#2"
    ):
        approve(small_suite, inbox, "unknown-requirement", "tester")
    with pytest.raises(ReviewError, match="a rejection says why"):
        reject(small_suite, inbox, "good", "tester", " ")
    path = approve(small_suite, inbox, "good", "tester", today=TODAY)
    approved = load_case(path)
    assert path.parent == small_suite / "cases" and not (inbox / "good.yaml").exists()
    assert (approved.status, approved.reviewed_by, approved.reviewed_at) == (
        "approved",
        "tester",
        TODAY,
    )
    assert (
        approved.requirement_sha256
        == present(load_suite(small_suite).requirement("scoring#1")).sha256
    )
    rejected = load_case(
        reject(small_suite, inbox, "unknown-requirement", "tester", "tests nothing we ship")
    )
    assert (rejected.status, rejected.review_note) == ("rejected", "tests nothing we ship")
    assert [c.id for c in load_suite(small_suite, inbox).drafted] == ["no-requirement"]
