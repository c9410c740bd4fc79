"""Environments for the processes tests start.

A developer's shell may hold a real Claude key (``ANTHROPIC_API_KEY``), Claude settings
(``PLATFORM_CLAUDE_*``) or AWS credentials and endpoints (``AWS_*``). A test must never
reach the real API or a real bucket with them, so every subprocess gets
:func:`subprocess_env`: the current environment without those variables, plus exactly
what the test means to set (e.g. the scripted Claude server's ``ANTHROPIC_BASE_URL`` and a
fake key, or a moto endpoint).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: Variables a test process never inherits: Claude's API key, base URL and settings, and AWS.
WITHHELD_PREFIXES = ("ANTHROPIC_", "PLATFORM_CLAUDE_", "AWS_")


def withheld(name: str) -> bool:
    """Whether ``name`` is a variable tests must not inherit from the developer."""
    return name.startswith(WITHHELD_PREFIXES)


def without_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the Claude and AWS variables."""
    return {name: value for name, value in environ.items() if not withheld(name)}


def subprocess_env(extra: Mapping[str, str] | None = None, /, **more: str) -> dict[str, str]:
    """``os.environ`` without the Claude and AWS variables, then ``extra`` and ``more`` on top.

    What a test adds back is deliberate: ``subprocess_env(ANTHROPIC_API_KEY="test-key",
    ANTHROPIC_BASE_URL=server.url)`` points the child at the scripted server, never at the API.
    """
    return {**without_credentials(os.environ), **(extra or {}), **more}
