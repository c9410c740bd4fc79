"""Claude in the platform core: one client, prompts as files, redaction, a governance log.

- :mod:`.client`: :class:`ClaudeClient`, the one place that calls Claude.
- :mod:`.prompts`: prompts as versioned files in ``platform_assets/prompts``.
- :mod:`.redaction`: what never leaves the process.
- :mod:`.governance`: ``platform.llm_calls`` and the observability indicators.
- :mod:`.pricing`: token prices and the cost of a call.

Nothing here imports ``anthropic`` until a call is actually made.
"""

from platform_assets.core.llm.client import DEFAULT_MODEL, ClaudeClient, ClaudeConfig, StructuredResult
from platform_assets.core.llm.governance import CallRecord, observability, record_calls, render_markdown
from platform_assets.core.llm.pricing import DEFAULT_PRICES, ModelPrice, TokenUsage, cost_usd
from platform_assets.core.llm.prompts import Prompt, load_prompt

__all__ = [
    "DEFAULT_MODEL", "DEFAULT_PRICES", "CallRecord", "ClaudeClient", "ClaudeConfig", "ModelPrice", "Prompt",
    "StructuredResult", "TokenUsage", "cost_usd", "load_prompt", "observability", "record_calls",
    "render_markdown",
]
