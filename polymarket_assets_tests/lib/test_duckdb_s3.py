"""The S3 secret DuckDB readers get from the standard AWS variables, and the httpfs build that ships with us."""

import duckdb
import pytest

from polymarket_assets.lib.duckdb_s3 import configure_s3, load_httpfs, secret_options


def test_a_local_endpoint_gives_path_style_plain_http_with_the_keys():
    options = secret_options(
        {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
            "AWS_ACCESS_KEY_ID": "k",
            "AWS_SECRET_ACCESS_KEY": "s",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    assert options == {
        "REGION": "eu-west-1",
        "ENDPOINT": "127.0.0.1:9000",
        "USE_SSL": "false",
        "URL_STYLE": "path",
        "KEY_ID": "k",
        "SECRET": "s",
    }


def test_the_s3_specific_endpoint_wins_and_https_keeps_tls():
    options = secret_options(
        {"AWS_ENDPOINT_URL": "http://other:1", "AWS_ENDPOINT_URL_S3": "https://minio.internal"}
    )
    assert options["ENDPOINT"] == "minio.internal" and options["USE_SSL"] == "true"


def test_aws_itself_needs_no_endpoint_and_no_keys_means_unsigned_requests():
    assert secret_options({"AWS_REGION": "us-west-2"}) == {"REGION": "us-west-2"}
    assert secret_options({}) == {"REGION": "us-east-1"}
    # A session token travels with temporary keys only.
    with_token = secret_options(
        {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    )
    assert with_token["SESSION_TOKEN"] == "t"
    assert "SESSION_TOKEN" not in secret_options({"AWS_SESSION_TOKEN": "t"})


def test_an_endpoint_that_is_not_a_url_is_a_clear_error():
    with pytest.raises(ValueError, match="AWS_ENDPOINT_URL"):
        secret_options({"AWS_ENDPOINT_URL": "ftp://host"})


def test_httpfs_loads_offline_and_the_secret_is_temporary_and_redacted():
    con = duckdb.connect()
    load_httpfs(con)
    assert con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchone()[0]
    configure_s3(
        con,
        {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_ACCESS_KEY_ID": "k",
            "AWS_SECRET_ACCESS_KEY": "it's-secret",
        },
    )
    [(persistent, storage, description)] = con.execute(
        "SELECT persistent, storage, secret_string FROM duckdb_secrets() WHERE name = 'pm_lake_s3'"
    ).fetchall()
    assert not persistent and storage == "memory"
    assert "it's-secret" not in description
    con.close()
