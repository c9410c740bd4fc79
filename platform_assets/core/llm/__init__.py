"""Claude plumbing: one client, prompts as files, redaction, a governance log.

Plumbing only: each domain owns its Claude task and prompt (validation's semantic review in
``core/validation/semantic_llm.py``, triage's tickets in ``core/operations/triage_drafting.py``,
the card's prose in ``core/model_card/prose.py``), with its prompts in a ``prompts/`` folder
next to it. Nothing here imports a domain.

- :mod:`.client`: :class:`ClaudeClient`, the one place that calls Claude.
- :mod:`.prompts`: prompts as versioned files, read from the owning domain's folder.
- :mod:`.redaction`: masks the values of the columns a domain withholds.
- :mod:`.governance`: ``platform.llm_calls`` and the observability indicators.
- :mod:`.pricing`: token prices and the cost of a call.

Nothing here imports ``anthropic`` until a call is actually made.
"""

from platform_assets.core.llm.client import (
    DEFAULT_MODEL,
    ClaudeClient,
    ClaudeConfig,
    StructuredResult,
)
from platform_assets.core.llm.governance import (
    CallRecord,
    observability,
    record_calls,
    render_markdown,
)
from platform_assets.core.llm.pricing import DEFAULT_PRICES, ModelPrice, TokenUsage, cost_usd
from platform_assets.core.llm.prompts import Prompt, load_prompt

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_PRICES",
    "CallRecord",
    "ClaudeClient",
    "ClaudeConfig",
    "ModelPrice",
    "Prompt",
    "StructuredResult",
    "TokenUsage",
    "cost_usd",
    "load_prompt",
    "observability",
    "record_calls",
    "render_markdown",
]
