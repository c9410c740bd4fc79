"""The daily partitions every lifecycle asset shares (UTC days)."""

import dagster as dg

START_DATE = "2026-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")

# What the scoring service decided, by UTC day: today's partition exists (the service is
# writing it now), so it can be landed soon after its files arrive.
serving_days = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC", end_offset=1)
