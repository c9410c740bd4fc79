"""Product requirement documents, parsed into requirements with an id, a text and a hash.

A requirements document is a Markdown file in ``<evals>/requirements/``: a title line and a
numbered list. Each item is one requirement; an item may continue on indented lines::

    # Requirement: card-fraud scoring

    1. Every authorised card transaction gets a fraud probability in [0, 1] within 50 ms.
    2. Transactions above the operating threshold are held for review; the threshold is set so
       that recall on confirmed fraud is at least 70% on the holdout.

The id of item ``n`` of ``fraud_scoring.md`` is ``fraud_scoring#n``. Its hash is the sha256 of
its text with whitespace collapsed (first 16 hex digits), so re-wrapping a line changes
nothing, while a changed word makes every case approved against the old text stale.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

REQUIREMENTS_FOLDER = "requirements"
HASH_LENGTH = 16
_ITEM = re.compile(r"^(\d+)[.)]\s+(.*)$")
_ID = re.compile(r"^[a-z0-9_]+#[0-9]+$")


class RequirementsError(ValueError):
    """A requirements document that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Requirement:
    """One numbered requirement of one document."""

    id: str  # fraud_scoring#3
    document: str  # fraud_scoring (the file stem)
    title: str  # the document's title line
    number: int
    text: str
    sha256: str  # of the whitespace-collapsed text, HASH_LENGTH hex digits
    path: Path
    line: int

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "document": self.document,
            "number": self.number,
            "text": self.text,
            "sha256": self.sha256,
            "path": str(self.path),
            "line": self.line,
        }


def requirement_hash(text: str) -> str:
    """The hash a case records when it is approved against ``text``."""
    normalized = " ".join(text.split())
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def is_requirement_id(value: str) -> bool:
    return bool(_ID.match(value))


def parse_requirements(path: str | Path) -> list[Requirement]:
    """The requirements of one document, in order.

    Raises:
        RequirementsError: no numbered item, a number used twice, or a stem that cannot be
            an id (lowercase letters, digits and ``_`` only).
    """
    path = Path(path)
    document = path.stem
    if not re.fullmatch(r"[a-z0-9_]+", document):
        raise RequirementsError(
            f"{path}: the file name {path.name!r} must be lowercase letters, digits and _ "
            f"(it becomes the requirement ids, e.g. {document.lower()}#1)"
        )
    lines = path.read_text(encoding="utf-8").splitlines()
    title = next((line.lstrip("#").strip() for line in lines if line.startswith("#")), document)
    items: list[tuple[int, int, list[str]]] = []  # (number, line, text lines)
    current: list[str] | None = None
    for index, raw in enumerate(lines, start=1):
        match = _ITEM.match(raw)
        if match:
            current = [match.group(2)]
            items.append((int(match.group(1)), index, current))
        elif current is not None and raw.startswith((" ", "\t")) and raw.strip():
            current.append(raw.strip())
        elif raw.strip():
            current = None  # a heading or prose ends the item: it is not part of a requirement
    requirements: list[Requirement] = []
    seen: dict[int, int] = {}
    for number, line, text_lines in items:
        if number in seen:
            raise RequirementsError(
                f"{path}:{line}: requirement {number} is numbered twice (first on line "
                f"{seen[number]}); ids must be stable, so number each item once"
            )
        seen[number] = line
        text = " ".join(" ".join(text_lines).split())
        requirements.append(
            Requirement(
                id=f"{document}#{number}",
                document=document,
                title=title,
                number=number,
                text=text,
                sha256=requirement_hash(text),
                path=path,
                line=line,
            )
        )
    if not requirements:
        raise RequirementsError(f"{path}: no numbered requirement found; write each as '1. <text>'")
    return requirements


def load_requirements(evals_dir: str | Path) -> list[Requirement]:
    """Every requirement of every ``<evals_dir>/requirements/*.md``, by document then number.
    A missing folder has none."""
    folder = Path(evals_dir) / REQUIREMENTS_FOLDER
    if not folder.is_dir():
        return []
    found: list[Requirement] = []
    for path in sorted(folder.glob("*.md")):
        found.extend(parse_requirements(path))
    return found
