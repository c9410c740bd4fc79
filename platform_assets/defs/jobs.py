"""Jobs. ``platform_main`` is the main job: every asset of one partition, as the README's
quick start runs it (``platform-assets run``)."""

import dagster as dg

from platform_assets.defs.keys import MAIN_JOB, OPERATIONS, SERVING_PREDICTIONS, owners
from platform_assets.defs.partitions import daily_partitions

# Everything in the code location; the observability assets read logs, not partitions. Not
# the scoring service's decisions: their days run to today (their own partitions), and the
# land_serving_decisions sensor lands them as their files arrive.
MAIN_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.assets(SERVING_PREDICTIONS)

platform_main_job = dg.define_asset_job(
    MAIN_JOB,
    selection=MAIN_SELECTION,
    partitions_def=daily_partitions,
    owners=owners(OPERATIONS),
    description="Every asset of one day: ingest, check, validate or quarantine, and the lifecycle downstream.",
)
