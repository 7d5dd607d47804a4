"""polymarket_sim: a local, deterministic, Polymarket-compatible server (Gamma, CLOB REST, Data API, market WS).

Start it with `python -m polymarket_sim ...` or, from Python, `with run_sim(...) as sim:`. See README.md.
"""

from .runner import SimControl, SimHandle, run_sim

__all__ = ["SimControl", "SimHandle", "run_sim"]
