"""Keep sensitive values inside the process: mask them before anything goes to an LLM.

This module masks; it does not decide what is sensitive. The domain that sends data to
Claude names the withheld columns as ``{column: why}`` (validation withholds the columns its
contract classifies as sensitive, and undeclared ones: see
:func:`platform_assets.core.validation.semantic_llm.withheld_columns`).

A withheld value becomes ``«redacted #<tag>»`` (the reason is listed once per column) where the tag
is an HMAC of
the value under a random key drawn once per process. Equal values get equal tags within a
process, so "the same user appears in 20 of 20 sample rows" stays visible, but the tag
cannot be reversed by hashing candidate values (a plain sha256 of ``u_000123`` could be,
since the id space is small).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

_PROCESS_KEY = secrets.token_bytes(32)
# Profile statistics that are values of the column (as opposed to counts and shapes).
VALUE_STATS = ("min", "max", "p10", "p50", "p90", "mean", "values")


def mask(value: Any, why: str) -> str | None:
    """The stand-in for one withheld value; nulls stay null (nullness is not a value)."""
    if value is None:
        return None
    digest = hmac.new(_PROCESS_KEY, json.dumps(value, default=str).encode("utf-8"), hashlib.sha256)
    return f"«redacted #{digest.hexdigest()[:8]}»"


def redact_rows(rows: list[dict[str, Any]], withheld: dict[str, str]) -> list[dict[str, Any]]:
    """Copies of ``rows`` with every withheld column's value masked."""
    return [
        {k: (mask(v, withheld[k]) if k in withheld else v) for k, v in row.items()} for row in rows
    ]


def redact_profile(profile: dict[str, Any], withheld: dict[str, str]) -> dict[str, Any]:
    """A copy of a ``BatchProfile.to_json()`` with the value statistics of withheld columns
    (min, max, quantiles, mean, top values) replaced. Counts, null rates, lengths and
    character-class shapes stay: they describe the column without repeating its values."""
    out = dict(profile)
    columns: dict[str, Any] = {}
    for name, stats in profile.get("columns", {}).items():
        stats = dict(stats)
        if name in withheld:
            why = withheld[name]
            for key in VALUE_STATS:
                if stats.get(key) is not None:
                    stats[key] = f"«redacted {why}»"
        columns[name] = stats
    out["columns"] = columns
    return out
