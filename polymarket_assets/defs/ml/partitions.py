"""Partitions of the ML domain: features are built one UTC day at a time.

They begin on the day collection began (`COLLECTION_START`, see `defs/partitions.py`): a day before it holds no
snapshots to build features from. `end_offset=1` makes today's partition exist, so today's rows can be
(re)built during the day; the daily schedule builds yesterday's, which is then complete.
"""

import dagster as dg

from polymarket_assets.defs.partitions import COLLECTION_START

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=COLLECTION_START.strftime("%Y-%m-%d"), end_offset=1
)
