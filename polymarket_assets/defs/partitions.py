"""Partition definitions shared by every collection domain.

Time partitions only: the market id is a column, never a partition. Hourly partitions keep every asset far
below 100k partitions (8,760 a year). `end_offset=2` makes the current hour and the next one exist, because
a snapshot run is launched one slot ahead of the instants it sweeps.
"""

import dagster as dg

COLLECTION_START = "2026-11-01-00:00"

hourly_partitions = dg.HourlyPartitionsDefinition(start_date=COLLECTION_START, end_offset=2)


def partition_parts(partition_key: str) -> dict[str, str]:
    """Hive path parts (`date=YYYY-MM-DD/hour=HH`) of an hourly partition key (`YYYY-MM-DD-HH:MM`)."""
    date, hour = partition_key[:10], partition_key[11:13]
    return {"date": date, "hour": hour}
