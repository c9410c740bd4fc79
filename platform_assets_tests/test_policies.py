"""The policies ``definitions.py`` applies once over the code location (``defs/policies.py``)."""

from __future__ import annotations

import dagster as dg

from platform_assets.defs.keys import OWNERS_BY_GROUP, TRAINING
from platform_assets.defs.policies import apply_policies, markdown_description
from platform_assets.runner import load_definitions


def test_every_description_of_the_code_location_is_markdown() -> None:
    graph = load_definitions().resolve_asset_graph()
    descriptions = {
        key.to_user_string(): graph.get(key).description or "" for key in graph.get_all_asset_keys()
    }
    assert any("`" in text for text in descriptions.values()), "no inline code left at all"
    assert {key: text for key, text in descriptions.items() if "``" in text} == {}


def test_rest_markup_becomes_markdown() -> None:
    assert markdown_description("reads ``quarantine.rows``, see :class:`Settings`") == (
        "reads `quarantine.rows`, see `Settings`"
    )
    assert markdown_description(None) is None


def test_an_asset_without_owners_gets_its_groups_and_its_own_owners_stay() -> None:
    @dg.asset(group_name=TRAINING)
    def unowned() -> None: ...

    @dg.asset(group_name=TRAINING, owners=["someone@example.com"])
    def owned() -> None: ...

    graph = apply_policies(dg.Definitions(assets=[unowned, owned])).resolve_asset_graph()
    assert list(graph.get(dg.AssetKey("unowned")).owners) == OWNERS_BY_GROUP[TRAINING]
    assert list(graph.get(dg.AssetKey("owned")).owners) == ["someone@example.com"]
