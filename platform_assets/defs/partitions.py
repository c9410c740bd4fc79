"""The daily partitions every lifecycle asset shares (UTC days)."""

import dagster as dg

START_DATE = "2026-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")
