"""DuckDB over a lake on S3: the httpfs extension, and a secret for the endpoint the environment names.

The lake's writers reach the bucket through pyarrow's S3FileSystem configured from the standard AWS variables
(`parquet_store.s3_options_from_env`); DuckDB readers get the same view of it from the same variables:

- ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``: a custom endpoint (MinIO, moto, Ceph). Its host and port
  become the secret's ENDPOINT, its scheme decides USE_SSL, and path-style URLs are used, as such servers
  expect. Without one, DuckDB talks to AWS itself with virtual-host URLs.
- ``AWS_REGION`` or ``AWS_DEFAULT_REGION`` (default us-east-1).
- ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and optionally ``AWS_SESSION_TOKEN``. Without keys the
  requests are unsigned (a public bucket); instance roles need DuckDB's `aws` extension, which is not here.

httpfs is loaded by name when this DuckDB has it installed, and otherwise from the `duckdb-extension-httpfs`
wheel, whose build must match the DuckDB release exactly (pyproject pins both), so nothing is downloaded at
run time. The secret is temporary: it lives in the connection and is never written to a database file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from polymarket_assets.lib.sql import sql_text

SECRET_NAME = "pm_lake_s3"


class HttpfsUnavailable(RuntimeError):
    """This DuckDB cannot load httpfs, so it cannot read an S3 lake."""


def _bundled_extension() -> Path | None:
    try:
        import duckdb_extension_httpfs
    except ImportError:
        return None
    path = (
        Path(duckdb_extension_httpfs.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / "httpfs.duckdb_extension"
    )
    return path if path.is_file() else None


def load_httpfs(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("LOAD httpfs")
        return
    except duckdb.Error:
        pass
    bundled = _bundled_extension()
    if bundled is None:
        raise HttpfsUnavailable(
            f"DuckDB {duckdb.__version__} cannot load httpfs: install the matching duckdb-extension-httpfs "
            "(pyproject pins both) or run `INSTALL httpfs` once where the extension repository is reachable"
        )
    con.execute(f"LOAD {sql_text(str(bundled))}")


def secret_options(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The CREATE SECRET options (TYPE s3) the environment implies; see the module docstring."""
    env = os.environ if environ is None else environ
    options = {"REGION": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"AWS_ENDPOINT_URL must look like http(s)://host[:port], not {endpoint!r}")
        options["ENDPOINT"] = parts.netloc
        options["USE_SSL"] = "true" if parts.scheme == "https" else "false"
        options["URL_STYLE"] = "path"
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        options["KEY_ID"] = key
        options["SECRET"] = secret
        if env.get("AWS_SESSION_TOKEN"):
            options["SESSION_TOKEN"] = env["AWS_SESSION_TOKEN"]
    return options


def configure_s3(con: duckdb.DuckDBPyConnection, environ: Mapping[str, str] | None = None) -> None:
    """Load httpfs into `con` and give it a temporary S3 secret from the environment."""
    load_httpfs(con)
    options = secret_options(environ)
    literals = ", ".join(
        f"{name} {value}" if name == "USE_SSL" else f"{name} {sql_text(value)}"
        for name, value in options.items()
    )
    con.execute(f"CREATE OR REPLACE TEMPORARY SECRET {SECRET_NAME} (TYPE s3, {literals})")
