"""Prompts as versioned files: ``<directory>/<name>.md``.

Each domain keeps the prompts of its own Claude tasks next to its code (for example
``core/validation/prompts/semantic_contract_check.md``) and passes that folder here; this
module only reads and fingerprints them.

A prompt is identified in the governance log by its name *and* the sha256 of its content,
so a changed prompt shows up as a new version next to the calls it produced, without a
separate version number to forget to bump.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Prompt:
    """One prompt file: its name (the file stem), its text and the sha256 of that text."""

    name: str
    text: str
    sha256: str

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]


def prompt_from_text(name: str, text: str) -> Prompt:
    """A :class:`Prompt` from text already in memory (tests, ad-hoc tasks)."""
    return Prompt(name=name, text=text, sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())


@lru_cache(maxsize=64)
def load_prompt(name: str, directory: Path) -> Prompt:
    """Read ``<directory>/<name>.md``, the prompts folder of the domain that owns the task.

    Raises:
        FileNotFoundError: no such prompt; the message lists the prompts that exist.
    """
    folder = Path(directory)
    path = folder / f"{name}.md"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.md"))) or "none"
        raise FileNotFoundError(f"{path}: no prompt named {name!r} (prompts in {folder}: {known})")
    return prompt_from_text(name, path.read_text(encoding="utf-8"))
