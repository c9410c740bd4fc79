"""The plain-Python core of platform_assets.

Nothing under ``platform_assets.core`` imports Dagster. Each stage (``ingestion``,
``validation``) takes plain inputs (paths, DuckDB connections, Arrow tables, config
objects) and returns plain results, so the CLI, the benchmarks and the Dagster layer all
call the same code.
"""
