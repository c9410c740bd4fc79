"""MkDocs hooks: pages that are generated, so that nothing is written twice.

- ``configuration.md``'s ``<!-- settings-table -->`` and ``<!-- settings-table-production -->``
  markers become the environment tables of ``platform_assets/core/settings.py`` (rendered
  from its ``VARIABLES``, the one place they are declared).
- ``README.md``, ``ARCHITECTURE.md`` and ``CONTRIBUTING.md`` at the repository root are
  published as ``index.md``, ``architecture.md`` and ``contributing.md``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = {
    "README.md": "index.md",
    "ARCHITECTURE.md": "architecture.md",
    "CONTRIBUTING.md": "contributing.md",
}
MARKERS = {"<!-- settings-table -->": "any", "<!-- settings-table-production -->": "production"}


def _variables_markdown(profile: str) -> str:
    # core/settings.py imports nothing but the standard library: safe to import in a build.
    sys.path.insert(0, str(ROOT))
    try:
        from platform_assets.core.settings import variables_markdown
    finally:
        sys.path.remove(str(ROOT))
    return variables_markdown(profile)


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
    for marker, profile in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, _variables_markdown(profile))
    if page.file.src_uri in PUBLISHED.values():
        markdown = _relink(markdown)
    return markdown
