"""Dagster-free logic of the `trades` domain: planning and ingesting the recorder's incoming files, merging
them into the lake, gap minutes, and whale events. The assets, checks and sensor in `defs/trades/` call into it."""
