"""Tools that drive the pipeline from outside the Dagster code location: `make demo`, the local run pools the
demo and the tests execute runs in, the simulator-stepped history for the model, the recorder run as a
subprocess, and comparisons with the simulator's ground truth. Nothing in `polymarket_assets` imports them."""
