"""MkDocs hooks: pages that are generated, so that nothing is written twice.

- ``configuration.md``'s ``<!-- settings-table -->`` marker becomes the environment tables of
  ``platform_assets/core/settings.py`` (its module docstring, the one place they are kept).
- ``README.md``, ``ARCHITECTURE.md`` and ``CONTRIBUTING.md`` at the repository root are
  published as ``index.md``, ``architecture.md`` and ``contributing.md``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "platform_assets" / "core" / "settings.py"
PUBLISHED = {
    "README.md": "index.md",
    "ARCHITECTURE.md": "architecture.md",
    "CONTRIBUTING.md": "contributing.md",
}
MARKER = "<!-- settings-table -->"


def settings_tables() -> str:
    """The tables of ``core/settings.py``'s docstring, in Markdown (reST ``x`` → `x`)."""
    docstring = ast.get_docstring(ast.parse(SETTINGS.read_text())) or ""
    docstring = re.sub(r":\w+:`([^`]+)`", r"`\1`", docstring)
    return re.sub(r"``([^`]+)``", r"`\1`", docstring)


def _relink(markdown: str) -> str:
    """Links of a root file, as the site sees them: ``docs/x.md`` is a page, a published root
    file is its page, anything else is a file of the repository (shown as its path)."""

    def target(match: re.Match[str]) -> str:
        text, link = match.group(1), match.group(2)
        if link.startswith("docs/"):
            return f"[{text}]({link[len('docs/') :]})"
        if link in PUBLISHED and (ROOT / link).exists():
            return f"[{text}]({PUBLISHED[link]})"
        return f"{text} (`{link}`)" if text != link else f"`{link}`"

    return re.sub(r"\[([^\]]+)\]\((?!https?:|#|mailto:)([^)]+)\)", target, markdown)


def on_files(files: Files, config) -> Files:
    for source, page in PUBLISHED.items():
        if (ROOT / source).exists():
            files.append(
                File.generated(config, page, content=(ROOT / source).read_text(encoding="utf-8"))
            )
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, settings_tables())
    if page.file.src_uri in PUBLISHED.values():
        markdown = _relink(markdown)
    return markdown
