"""A domain's Claude task: its name in the governance log, its prompt file, and one call.

Each domain that asks Claude something declares one :class:`ClaudeTask` next to its code
(``TASK = ClaudeTask("model_card_prose", PROMPTS_DIR)``) and asks through it, so every call
reads the versioned prompt, goes through :meth:`ClaudeClient.structured
<platform_assets.core.llm.client.ClaudeClient.structured>` (schema-checked output, never
raises for API trouble) and lands in the governance log, the same way in every domain.
What the domain does with the answer, and what it keeps when Claude is off or fails, stays
with the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from platform_assets.core.llm.governance import record_calls
from platform_assets.core.llm.prompts import Prompt, load_prompt

if TYPE_CHECKING:
    import duckdb
    from pydantic import BaseModel

    from platform_assets.core.llm.client import ClaudeClient, StructuredResult

T = TypeVar("T", bound="BaseModel")


@dataclass(frozen=True)
class ClaudeTask:
    """``name`` is the task in ``platform.llm_calls``; the prompt is
    ``prompts_dir/<prompt_name>.md``
    (``prompt_name`` defaults to ``name``)."""

    name: str
    prompts_dir: Path
    prompt_name: str = ""

    @property
    def prompt(self) -> Prompt:
        return load_prompt(self.prompt_name or self.name, self.prompts_dir)

    def ask(
        self,
        client: ClaudeClient,
        log_conn: duckdb.DuckDBPyConnection,
        *,
        context: str,
        data: str,
        output_model: type[T],
        run_id: str | None = None,
        asset: str | None = None,
    ) -> StructuredResult[T]:
        """One structured call with this task's prompt, recorded in ``log_conn``'s governance
        log."""
        result = client.structured(
            task=self.name,
            prompt=self.prompt,
            context=context,
            data=data,
            output_model=output_model,
            run_id=run_id,
            asset=asset,
        )
        record_calls(log_conn, [result.record])
        return result
