"""Pages and responders for the on-call tests: alerts through the real notifier, scripted
tool-use turns for the real ``anthropic`` SDK, a reviewed allow-list."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import yaml

from platform_assets.core.operations.alerts import Alert
from platform_assets.core.operations.triage import default_allowlist_path, load_allowlist
from platform_assets_tests.support.scripted_server import Reply
from platform_assets_tests.support.triage import TWO_REVIEWS


def alert(kind: str = "serving_latency", subject: str = "fraud/model", **overrides) -> Alert:
    values = {
        "kind": kind,
        "severity": "error",
        "owner": "team:ml-platform",
        "title": f"{kind} on {subject}",
        "summary": f"{kind} crossed its threshold",
        "runbook": "escalate_to_on_call",
        "asset": subject,
    }
    return Alert(**{**values, **overrides})


def reviewed(folder: Path, *names: str) -> dict:
    """The repository's allow-list with two different reviewers recorded for ``names``."""
    data = yaml.safe_load(default_allowlist_path().read_text())
    for entry in data["runbooks"]:
        if entry["name"] in names:
            entry["reviews"] = list(TWO_REVIEWS)
    path = folder / "allowlist.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_allowlist(path)


def tool_turn(*calls: tuple[str, dict], text: str = "") -> Reply:
    """A Messages API answer that asks for the tool ``calls`` (name, input), in order."""
    content: list[dict] = [{"type": "text", "text": text}] if text else []
    content += [
        {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": name, "input": args}
        for name, args in calls
    ]
    body = {
        "id": "msg_" + uuid.uuid4().hex[:20],
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": content,
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 900, "output_tokens": 60},
    }
    return Reply(body=json.dumps(body))


def finish(cause: str, runbook: str, evidence: list[str] | None = None) -> Reply:
    return tool_turn(
        (
            "finish",
            {
                "probable_cause": cause,
                "evidence": evidence or [cause],
                "recommended_action": runbook,
            },
        )
    )
