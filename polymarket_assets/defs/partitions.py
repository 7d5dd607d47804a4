"""Partition definitions shared by every collection domain.

Time partitions only: the market id is a column, never a partition. Hourly partitions keep every asset far
below 100k partitions (8,760 a year). `end_offset=2` makes the current hour and the next one exist, because
a snapshot run is launched one slot ahead of the instants it sweeps.

The partitions begin when this deployment began recording (`lib/collection_start.py`: the `PM_COLLECTION_START`
setting, else the first discovery in the lake, else the current hour), so a partition shown as missing is an
hour that should hold data and does not. This is the one place that reads it, once, when the code location loads.
"""

import warnings

import dagster as dg

from polymarket_assets.lib.collection_start import collection_start

COLLECTION_START = collection_start()

hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=COLLECTION_START.strftime("%Y-%m-%d-%H:00"), end_offset=2
)


def partition_parts(partition_key: str) -> dict[str, str]:
    """Hive path parts (`date=YYYY-MM-DD/hour=HH`) of an hourly partition key (`YYYY-MM-DD-HH:MM`)."""
    date, hour = partition_key[:10], partition_key[11:13]
    return {"date": date, "hour": hour}


def partition_check_spec(
    name: str, asset: str, description: str, partitions_def: dg.PartitionsDefinition = hourly_partitions
) -> dg.AssetCheckSpec:
    """A check of one partition of a partitioned asset. Its result carries the run's partition, so it closes the
    "planned" record the run opened for that partition; an unpartitioned check on a partitioned asset leaves every
    run's planned record open, and the UI shows the check "In Progress" for good."""
    with warnings.catch_warnings():
        # Partitioned checks are a preview API in Dagster 1.13; the warning says nothing a reader can act on.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(name, asset=asset, description=description, partitions_def=partitions_def)
