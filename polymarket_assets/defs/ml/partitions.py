"""Partitions of the ML domain: features are built one UTC day at a time.

`end_offset=1` makes today's partition exist, so today's rows can be (re)built during the day; the daily
schedule builds yesterday's, which is then complete.
"""

import dagster as dg

ML_START = "2026-11-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=ML_START, end_offset=1)
