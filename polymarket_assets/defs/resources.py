"""Resources shared by every collection domain: the Polymarket APIs, the lake, and the clock.

Every setting is bound to its `PM_*` variable through `dg.EnvVar` when that variable is set, and to its
default from `lib/settings.py` otherwise (a `dg.EnvVar` field cannot fall back to a default), so a plain
`dagster dev` needs no environment. Values are resolved when a run starts. The optional object-store
settings (`PM_WAREHOUSE_PATH`, the `AWS_*` variables) are read when a run opens the lake.
"""

import os

import dagster as dg
from pydantic import PrivateAttr

from polymarket_assets.lib.clob import ClobClient
from polymarket_assets.lib.clock import SimClock, SystemClock
from polymarket_assets.lib.data_api import DataApiClient
from polymarket_assets.lib.gamma import GammaClient
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.quarantine import Quarantine
from polymarket_assets.lib.settings import DEFAULTS, UnreachableHost, check_resolvable
from polymarket_assets.lib.warehouse import warehouse_path


def _resolvable(url: str, setting: str) -> str:
    """`url`, once its host name resolves. Without this an offline run retries for a minute and then
    reports an open circuit breaker; an unknown host is a refusal no retry can fix, so the run fails at
    once and says why."""
    try:
        check_resolvable(url)
    except UnreachableHost as exc:
        raise dg.Failure(
            description=f"{setting}: {exc}. Offline, or a wrong {setting}? (make dev-sim records a local simulator)",
            allow_retries=False,
        ) from None
    return url


class PolymarketApiResource(dg.ConfigurableResource):
    """One rate-limited, retrying client per Polymarket API (Gamma, CLOB, Data API) for the whole run."""

    gamma_url: str
    clob_url: str
    data_api_url: str
    connect_timeout_s: float = 3.05
    read_timeout_s: float = 10.0
    max_retries: int = 6
    backoff_base_s: float = 0.2
    backoff_cap_s: float = 10.0
    books_batch_size: int = 100
    max_workers: int = 4

    _gamma: GammaClient | None = PrivateAttr(default=None)
    _clob: ClobClient | None = PrivateAttr(default=None)
    _data: DataApiClient | None = PrivateAttr(default=None)

    def _common(self) -> dict:
        return {
            "connect_timeout": self.connect_timeout_s,
            "read_timeout": self.read_timeout_s,
            "max_retries": self.max_retries,
            "backoff_base_s": self.backoff_base_s,
            "backoff_cap_s": self.backoff_cap_s,
        }

    @property
    def gamma(self) -> GammaClient:
        if self._gamma is None:
            self._gamma = GammaClient(_resolvable(self.gamma_url, "PM_GAMMA_URL"), **self._common())
        return self._gamma

    @property
    def clob(self) -> ClobClient:
        if self._clob is None:
            self._clob = ClobClient(_resolvable(self.clob_url, "PM_CLOB_URL"), **self._common())
        return self._clob

    @property
    def data_api(self) -> DataApiClient:
        if self._data is None:
            self._data = DataApiClient(_resolvable(self.data_api_url, "PM_DATA_API_URL"), **self._common())
        return self._data

    def stats(self) -> dict[str, int | float]:
        """Requests, retries, throttle waits and failures summed over the clients this run used."""
        total: dict[str, int | float] = {}
        for client in (self._gamma, self._clob, self._data):
            if client is None:
                continue
            for key, value in client.stats.as_dict().items():
                if isinstance(value, (int, float)):
                    total[key] = total.get(key, 0) + value
        return total


class LakeResource(dg.ConfigurableResource):
    """`PM_DATA_DIR`: the lake, raw archive, quarantine and `warehouse.duckdb` live under it. It may be an
    object store (`s3://bucket/prefix`, endpoint and credentials from the standard `AWS_*` variables);
    `warehouse.duckdb` then lives at the local path `PM_WAREHOUSE_PATH`."""

    data_dir: str

    def warehouse_path(self) -> str:
        return str(warehouse_path(self.data_dir, os.environ.get("PM_WAREHOUSE_PATH") or None))

    def lake(self) -> Lake:
        return Lake(self.data_dir)

    def quarantine(self, source: str) -> Quarantine:
        return Quarantine(self.data_dir, source)


class ClockResource(dg.ConfigurableResource):
    """`PM_CLOCK=system` in production; `sim` reads the simulator's clock at `PM_SIM_CONTROL_URL`."""

    source: str = "system"
    sim_control_url: str = ""

    def clock(self) -> SystemClock | SimClock:
        if self.source == "system":
            return SystemClock()
        if self.source == "sim":
            if not self.sim_control_url:
                raise dg.Failure("PM_CLOCK=sim needs PM_SIM_CONTROL_URL (the simulator's /control base URL)")
            return SimClock(self.sim_control_url)
        raise dg.Failure(f"PM_CLOCK must be 'system' or 'sim', not {self.source!r}")


_URL_FIELDS = {"gamma_url": "PM_GAMMA_URL", "clob_url": "PM_CLOB_URL", "data_api_url": "PM_DATA_API_URL"}


def env_or_default(name: str) -> dg.EnvVar | str:
    """Bind a field to `name` when the variable is set, else to its default in code (lib/settings.py).
    Only the choice is made when the definitions load; an `EnvVar`'s value is read when a run starts."""
    return dg.EnvVar(name) if name in os.environ else DEFAULTS[name]


def _config_value(name: str) -> dict | str:
    value = env_or_default(name)
    return {"env": name} if isinstance(value, dg.EnvVar) else value


def polymarket_run_config(**settings) -> dict:
    """Run config that changes some `polymarket` resource settings (timeouts, retries) for one run.

    Overriding a resource's config in run config replaces all of it, so the URL bindings are restated here
    rather than by every caller.
    """
    urls = {field: _config_value(name) for field, name in _URL_FIELDS.items()}
    return {"resources": {"polymarket": {"config": {**urls, **settings}}}}


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "polymarket": PolymarketApiResource(
                **{field: env_or_default(name) for field, name in _URL_FIELDS.items()}
            ),
            "lake": LakeResource(data_dir=env_or_default("PM_DATA_DIR")),
            "clock": ClockResource(
                source=env_or_default("PM_CLOCK"), sim_control_url=env_or_default("PM_SIM_CONTROL_URL")
            ),
        }
    )
