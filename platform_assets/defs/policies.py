"""Policies applied once over the whole code location, instead of at every definition.

- Owners: an asset without its own ``owners`` gets its group's (``defs/keys.OWNERS_BY_GROUP``).
- Descriptions are Markdown, which is what the Dagster UI renders: the docstrings the
  descriptions come from are written in reST, so ````name```` becomes ```name``` and a role
  such as ``:class:`Settings``` becomes ```Settings```.

``definitions.py`` applies them to what ``dg.load_from_defs_folder`` found.
"""

from __future__ import annotations

import re
import warnings

import dagster as dg

from platform_assets.defs.keys import OWNERS_BY_GROUP

# `Definitions.map_asset_specs` is a preview API in Dagster 1.13 (its replacement of specs is
# what dagster-open-platform uses for such policies). We use it knowingly, so its warning,
# printed by every process that loads the code location, is silenced, and only it.
warnings.filterwarnings(
    "ignore",
    message=r"Function `Definitions\.map_(resolved_)?asset_specs` is currently in preview",
    category=dg.PreviewWarning,
)

_REST_LITERAL = re.compile(r"``([^`]+)``")
_REST_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def markdown_description(text: str | None) -> str | None:
    """A docstring's reST inline markup as Markdown: ````x```` → ```x```, roles → code."""
    if not text:
        return text
    return _REST_LITERAL.sub(r"`\1`", _REST_ROLE.sub(r"`\1`", text))


def apply_to_spec(spec: dg.AssetSpec) -> dg.AssetSpec:
    owners = list(spec.owners) or list(OWNERS_BY_GROUP.get(spec.group_name or "", []))
    return spec.replace_attributes(
        owners=owners, description=markdown_description(spec.description)
    )


def apply_policies(defs: dg.Definitions) -> dg.Definitions:
    return defs.map_asset_specs(func=apply_to_spec)
