"""The Dagster layer: assets, checks, sensors, jobs and resources, loaded by
``dg.load_from_defs_folder``. Each module wires one lifecycle stage to the core; the
functions here fetch inputs from resources, call ``platform_assets.core`` and return
results with metadata a person can read in the UI."""
