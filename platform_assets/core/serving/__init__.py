"""Serving: score a transaction online with the champion's ONNX model.

- :mod:`.requests`: a request checked with the contract's row rules (422s);
- :mod:`.state`: the online feature state the ``features/online_state`` asset publishes;
- :mod:`.models`: the champion, the arm's challenger and the state, loaded as one bundle;
- :mod:`.monitor`: SLOs and the canary's rollback rules over a sliding window;
- :mod:`.decisions`: every decision appended to files, landed by ``serving/predictions``;
- :mod:`.landing`: those files into ``serving.predictions``, batch scores into
  ``serving.batch_scores``;
- :mod:`.app`: the Starlette app ``platform-assets serve`` runs on uvicorn.

The features themselves are ``core/features`` (``online.py``, the batch SQL's definition
evaluated for one row): serving has no feature logic of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platform_assets.core.serving.app import ScoringService
    from platform_assets.core.settings import Settings

TRANSACTIONS_TABLE = "transactions"
#: Who is paged for the service's alerts. Spelled here, not only in ``defs/keys.py``, so the
#: service's workers never import Dagster (~100 MiB each); ``defs/keys.py`` reads it from here.
SERVICE_OWNER = "team:ml-platform"


def build_service(settings: Settings, owner: str) -> ScoringService:
    """The scoring service over ``settings``' registry, artifacts store and contract."""
    from platform_assets.core.registry import registry_for
    from platform_assets.core.registry.store import store_from_url
    from platform_assets.core.serving.app import ScoringService, ServiceConfig
    from platform_assets.core.serving.requests import TransactionRules
    from platform_assets.core.validation.contract import find_contract, load_contract

    contract = load_contract(
        find_contract(settings.contracts_dir, TRANSACTIONS_TABLE), TRANSACTIONS_TABLE
    )
    return ScoringService(
        ServiceConfig(
            settings=settings.serving,
            registry=registry_for(settings.registry_url),
            artifacts=store_from_url(settings.artifacts_url),
            rules=TransactionRules(contract),
            owner=owner,
            runbook_base_url=settings.runbook_base_url,
            slack_webhook_url=settings.slack_webhook_url,
        )
    )
