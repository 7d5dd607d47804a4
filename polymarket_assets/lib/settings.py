"""The configuration contract: every `PM_*` setting the code location reads, with its default in code.

A setting comes from the environment when it is set there (Dagster's `.env` loading included) and from
`DEFAULTS` otherwise, so `dagster dev` or `dagster asset materialize` with no environment records real
Polymarket into `./data` on the system clock. `scripts/dev.sh` exports the resolved values
(`python -m polymarket_assets.lib.settings --export [--dotenv .env]`) and checks that the APIs answer
before it starts anything (`--check`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

DEFAULTS: dict[str, str] = {
    "PM_GAMMA_URL": "https://gamma-api.polymarket.com",
    "PM_CLOB_URL": "https://clob.polymarket.com",
    "PM_DATA_API_URL": "https://data-api.polymarket.com",
    "PM_WS_URL": "wss://ws-subscriptions-clob.polymarket.com/ws/market",
    "PM_DATA_DIR": "data",
    "PM_CLOCK": "system",
    "PM_SIM_CONTROL_URL": "",
}

# The REST endpoints a run calls; `--check` probes each before a real session starts.
REST_URL_SETTINGS = ("PM_GAMMA_URL", "PM_CLOB_URL", "PM_DATA_API_URL")


def setting(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of one setting: the environment's when set (even to ""), else the default."""
    env = os.environ if environ is None else environ
    return env[name] if name in env else DEFAULTS[name]


def resolved(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    return {name: setting(name, environ) for name in DEFAULTS}


class UnreachableHost(Exception):
    """A URL's host cannot be resolved or connected to: no retry fixes that, the URL or the network must."""


def check_resolvable(url: str) -> None:
    """Raise UnreachableHost when the host name of `url` does not resolve (offline, typo, no DNS)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise UnreachableHost(f"{url!r} is not an absolute URL")
    try:
        socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme in ("https", "wss") else 80))
    except (socket.gaierror, UnicodeError) as exc:
        raise UnreachableHost(f"cannot resolve host {parts.hostname!r} of {url} ({exc})") from None


def check_reachable(url: str, timeout_s: float = 5.0) -> None:
    """Raise UnreachableHost unless the host of `url` resolves and accepts a TCP connection in `timeout_s`."""
    check_resolvable(url)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise UnreachableHost(f"cannot connect to {parts.hostname}:{port} of {url} ({exc})") from None


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m polymarket_assets.lib.settings", description=__doc__)
    parser.add_argument("--export", action="store_true", help="print `export NAME=value` for every setting")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 with a plain message unless every REST API is reachable"
    )
    parser.add_argument(
        "--dotenv",
        metavar="FILE",
        help="apply FILE first, its values overriding the environment as Dagster's CLIs do with ./.env",
    )
    args = parser.parse_args(argv)
    environ = dict(os.environ)
    from_file: dict[str, str] = {}
    if args.dotenv and os.path.exists(args.dotenv):
        from dotenv import dotenv_values  # a dependency of dagster

        # Only names a shell can export; the values are quoted below.
        from_file = {
            k: v for k, v in dotenv_values(args.dotenv).items() if v is not None and k.isidentifier()
        }
        environ.update(from_file)
    values = {**from_file, **resolved(environ)}
    if args.export:
        for name, value in values.items():
            print(f"export {name}={shlex.quote(value)}")
    if args.check:
        for name in REST_URL_SETTINGS:
            try:
                check_reachable(values[name])
            except UnreachableHost as exc:
                print(f"{name}: {exc}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
