"""The one entry point of the `polymarket_assets` code location.

Every asset, check, job, schedule and sensor lives under `polymarket_assets/defs/<domain>/` and is found by
Dagster's defs-folder loader; only concerns that span domains are merged in here.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
