"""Claude drafts eval cases: the eval suite's own Claude task and prompt.

One request per requirement, sent together through the Message Batches API (half the
price of single calls; results within 24 hours). Every request shares the same cached
prefix: the prompt (``prompts/eval_case_drafting.md``), then the context: every
requirement, the approved and rejected cases, the holdout's columns, and the recorded
regressions in an ``<untrusted_regressions>`` block. The per-request part names one
requirement and its cases.

A batch that has not ended when the wait is over is remembered in the drafts inbox
(``.pending_batch.json``); the next drafting pass collects it before submitting another.
Every request becomes a row of ``platform.llm_calls`` at the batch price.

What Claude answers is a proposal: each case is validated against the case schema, gets
an id, ``status: drafted`` and ``drafted_by: claude`` (model and prompt hash) from the
platform (whatever the answer says), must not duplicate an existing case, and waits in the
inbox for a person. A ``contract`` draft is dry-run through the real contract check and its
outcome written into its description for the reviewer.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from platform_assets.core.eval_suite.cases import Case
from platform_assets.core.eval_suite.regressions import Regression
from platform_assets.core.eval_suite.requirements import Requirement
from platform_assets.core.eval_suite.rules_drafting import DraftReport, draft_id, reproduces
from platform_assets.core.eval_suite.suite import Suite
from platform_assets.core.llm.governance import record_calls
from platform_assets.core.llm.prompts import Prompt
from platform_assets.core.llm.tasks import ClaudeTask

if TYPE_CHECKING:
    import duckdb

    from platform_assets.core.llm.client import ClaudeClient

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
# Batched (Message Batches API), so the calls go through the client, not TASK.ask.
TASK = ClaudeTask("eval_case_drafting", PROMPTS_DIR)
PENDING_FILE = ".pending_batch.json"
MAX_CASES_PER_REQUIREMENT = 3
MAX_TOKENS = 4096
REVIEW_FIELDS = (
    "id",
    "status",
    "requirement",
    "drafted_by",
    "drafted_at",
    "requirement_sha256",
    "reviewed_by",
    "reviewed_at",
    "review_note",
)


class DraftedCaseAnswer(BaseModel):
    """One case Claude proposes."""

    title: str = Field(description="What the case checks, in one sentence.")
    rationale: str = Field(
        description="The requirement clause or the regression it comes from, and why."
    )
    source: str = Field(description="'requirement', or the ref of the regression it comes from.")
    case_yaml: str = Field(
        description="The case body as YAML: title, kind and the block named after the kind."
    )


class DraftAnswer(BaseModel):
    """Claude's answer for one requirement (the structured-output schema)."""

    cases: list[DraftedCaseAnswer] = Field(
        description="New cases for the requirement; empty when none is needed."
    )


def drafting_prompt() -> Prompt:
    return TASK.prompt


def _case_summary(case: Case) -> dict:
    return {
        "id": case.id,
        "requirement": case.requirement,
        "title": case.title,
        "kind": case.kind,
        case.kind: case.spec.model_dump(mode="json", exclude_none=True),
    }


def shared_context(
    suite: Suite,
    regressions: list[Regression],
    holdout_columns: dict[str, Any],
    extra_cases: Sequence[Case] = (),
) -> str:
    """The cached prefix after the prompt: the same for every request of a batch."""
    requirements = [{"id": r.id, "document": r.title, "text": r.text} for r in suite.requirements]
    approved = [_case_summary(c) for c in suite.approved]
    drafted = [_case_summary(c) for c in [*suite.drafted, *extra_cases]]
    rejected = [{**_case_summary(c), "rejected_because": c.review_note} for c in suite.rejected]
    untrusted = json.dumps([r.to_dict() for r in regressions], default=str).replace("<", "\\u003c")
    return "\n".join(
        [
            f"<requirements>\n{json.dumps(requirements, indent=1)}\n</requirements>",
            f"<approved_cases>\n{json.dumps(approved, indent=1, default=str)}\n</approved_cases>",
            f"<drafted_cases_awaiting_review>\n{json.dumps(drafted, indent=1, default=str)}\n"
            f"</drafted_cases_awaiting_review>",
            f"<rejected_cases>\n{json.dumps(rejected, indent=1, default=str)}\n</rejected_cases>",
            f"<holdout_columns>\n{json.dumps(holdout_columns, indent=1, default=str)}\n"
            "</holdout_columns>",
            f"<untrusted_regressions>\n{untrusted}\n</untrusted_regressions>",
        ]
    )


def requirement_request(
    requirement: Requirement, suite: Suite, max_cases: int = MAX_CASES_PER_REQUIREMENT
) -> str:
    cases = [c.id for c in suite.approved if c.requirement == requirement.id]
    return (
        f"Requirement {requirement.id}: {requirement.text}\n"
        f"Its approved cases: {', '.join(cases) or 'none'}.\n"
        f"Draft up to {max_cases} new cases for {requirement.id}."
    )


def submit(
    client: ClaudeClient,
    suite: Suite,
    requirements: list[Requirement],
    context: str,
    prompt: Prompt,
) -> tuple[str, dict[str, str]]:
    """Submit one Message Batch, a request per requirement; returns ``(batch id, {custom_id:
    requirement id})``.
    """
    requests, owners = {}, {}
    for index, requirement in enumerate(requirements):
        custom_id = f"req-{index:03d}-{requirement.id.replace('#', '-')}"[:64]
        requests[custom_id] = client.message_params(
            prompt=prompt,
            context=context,
            data=requirement_request(requirement, suite),
            output_model=DraftAnswer,
            max_tokens=MAX_TOKENS,
        )
        owners[custom_id] = requirement.id
    return client.submit_batch(requests), owners


def answer_text(result: Any) -> str | None:
    message = getattr(result, "message", None)
    if getattr(result, "type", None) != "succeeded" or message is None:
        return None
    return "".join(block.text for block in message.content if block.type == "text")


def cases_from_answer(
    answer: DraftAnswer, requirement: Requirement, *, model: str, prompt: Prompt, today: dt.date
) -> tuple[list[Case], list[str]]:
    """Cases from Claude's answer for ``requirement``, with the platform's own id, status and
    authorship; and why each rejected proposal was left out."""
    cases, problems = [], []
    for proposal in answer.cases:
        try:
            body = yaml.safe_load(proposal.case_yaml)
        except yaml.YAMLError as exc:
            problems.append(
                f"{requirement.id}: {proposal.title!r} is not YAML ({str(exc).splitlines()[0]})"
            )
            continue
        if not isinstance(body, dict):
            problems.append(f"{requirement.id}: {proposal.title!r} is not a mapping")
            continue
        body = {k: v for k, v in body.items() if k not in REVIEW_FIELDS}
        kind = str(body.get("kind"))
        body.update(
            {
                "id": draft_id(
                    requirement.id,
                    proposal.title,
                    {"body": repr(sorted((k, repr(v)) for k, v in body.items()))},
                ),
                "requirement": requirement.id,
                "title": body.get("title") or proposal.title,
                "description": (f"{body.get('description')}\n" if body.get("description") else "")
                + f"Rationale (drafted): {proposal.rationale}",
                "status": "drafted",
                "drafted_at": today,
                "drafted_by": {
                    "kind": "claude",
                    "name": model,
                    "prompt_sha256": prompt.sha256,
                    "source": proposal.source,
                },
            }
        )
        try:
            case = Case.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or kind
            problems.append(
                f"{requirement.id}: {proposal.title!r} does not match the case schema: {where}: "
                f"{first['msg']}"
            )
            continue
        cases.append(case)
    return cases, problems


def _state_path(inbox: Path) -> Path:
    return inbox / PENDING_FILE


def draft_with_claude(
    client: ClaudeClient,
    suite: Suite,
    regressions: list[Regression],
    log_conn: duckdb.DuckDBPyConnection,
    *,
    inbox: str | Path,
    holdout_columns: dict[str, Any],
    requirement_ids: list[str] | None = None,
    existing: Sequence[Case] = (),
    contracts_dir: str | Path | None = None,
    wait_seconds: float = 600.0,
    poll_seconds: float = 10.0,
    run_id: str | None = None,
    asset: str | None = "evals/drafts",
    today: dt.date | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DraftReport:
    """Claude's drafts for the requirements (all, or ``requirement_ids``) through one Message
    Batch; collects a batch left pending by an earlier pass first."""
    inbox = Path(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    prompt = drafting_prompt()
    state_path = _state_path(inbox)
    report = DraftReport()
    if state_path.is_file():
        state = json.loads(state_path.read_text())
        report.notes.append(
            f"collecting Message Batch {state['batch_id']} submitted at {state['submitted_at']}"
        )
    else:
        wanted = [
            r for r in suite.requirements if requirement_ids is None or r.id in requirement_ids
        ]
        unknown = sorted(set(requirement_ids or []) - {r.id for r in suite.requirements})
        if unknown:
            raise ValueError(
                f"unknown requirement(s) {', '.join(unknown)}; the suite has "
                f"{', '.join(r.id for r in suite.requirements) or 'none'}"
            )
        if not wanted:
            report.notes.append("no requirement to draft for")
            return report
        context = shared_context(suite, regressions, holdout_columns, list(existing))
        batch_id, owners = submit(client, suite, wanted, context, prompt)
        state = {
            "batch_id": batch_id,
            "requests": owners,
            "prompt_sha256": prompt.sha256,
            "submitted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        state_path.write_text(json.dumps(state, indent=2))
        report.notes.append(
            f"submitted Message Batch {batch_id}: {len(owners)} request(s), one per requirement"
        )
    report.batch_id = state["batch_id"]
    deadline = time.monotonic() + wait_seconds
    results = client.batch_results(state["batch_id"])
    while results is None and time.monotonic() < deadline:
        sleep(poll_seconds)
        results = client.batch_results(state["batch_id"])
    if results is None:
        report.pending = True
        report.notes.append(
            f"Message Batch {state['batch_id']} is still processing; the next drafting pass "
            "collects it"
        )
        return report
    state_path.unlink(missing_ok=True)
    return report.merge(
        _collect(
            client,
            suite,
            results,
            state,
            prompt,
            log_conn,
            existing=existing,
            contracts_dir=contracts_dir,
            run_id=run_id,
            asset=asset,
            today=today or dt.datetime.now(dt.UTC).date(),
        )
    )


def _collect(
    client: ClaudeClient,
    suite: Suite,
    results: dict[str, Any],
    state: dict,
    prompt: Prompt,
    log_conn: duckdb.DuckDBPyConnection,
    *,
    existing: Sequence[Case],
    contracts_dir: str | Path | None,
    run_id: str | None,
    asset: str | None,
    today: dt.date,
) -> DraftReport:
    report = DraftReport(batch_id=state["batch_id"])
    records = {
        r.request_id: r
        for r in client.batch_call_records(
            results, task=TASK.name, prompt=prompt, run_id=run_id, asset=asset
        )
    }
    seen = {c.fingerprint() for c in [*suite.cases, *suite.inbox, *existing]}
    for custom_id, result in sorted(results.items()):
        requirement = suite.requirement(state["requests"].get(custom_id, ""))
        record = records[custom_id]
        text = answer_text(result)
        if requirement is None or text is None or record.outcome != "ok":
            report.skipped.append(
                f"{custom_id}: no usable answer ({record.outcome}: {record.detail or result.type})"
            )
            continue
        try:
            answer = DraftAnswer.model_validate_json(text)
        except ValidationError as exc:
            record.outcome, record.detail = (
                "invalid_output",
                f"the answer does not match the output schema: {exc.errors()[0]['msg']}",
            )
            report.skipped.append(f"{custom_id}: {record.detail}")
            continue
        cases, problems = cases_from_answer(
            answer, requirement, model=client.model, prompt=prompt, today=today
        )
        report.skipped.extend(problems)
        for case in cases:
            if case.fingerprint() in seen:
                report.skipped.append(
                    f"{requirement.id}: {case.title!r} duplicates an existing case"
                )
                continue
            if case.kind == "contract" and contracts_dir is not None:
                problem = reproduces(case, contracts_dir)
                note = (
                    "dry run through the contract check: passes"
                    if problem is None
                    else f"dry run through the contract check: FAILS ({problem})"
                )
                case = Case.model_validate(
                    {**case.model_dump(), "description": f"{case.description}\n{note}"}
                )
            seen.add(case.fingerprint())
            report.drafted.append(case)
    record_calls(log_conn, list(records.values()))
    return report


def holdout_columns(holdout) -> dict[str, Any]:
    """What scenario rows and filters may use: each column with its type, and the values of
    the categorical ones (only the names of the feature columns when there is no holdout yet)."""
    if holdout is None:
        from platform_assets.core.features.transactions import FEATURE_COLUMNS, LABEL

        return {name: {} for name in (*FEATURE_COLUMNS, LABEL)}
    columns: dict[str, Any] = {}
    for name in holdout.columns:
        values = holdout[name]
        if values.dtype == object or str(values.dtype).startswith("string"):
            distinct = values.dropna().unique()
            columns[name] = (
                {"type": "text", "values": sorted(map(str, distinct))[:50]}
                if len(distinct) <= 50
                else {"type": "text"}
            )
        else:
            columns[name] = {"type": str(values.dtype)}
    return columns
