"""Fixtures for the deployment tests: a fresh Postgres database per test, dropped afterwards."""

from collections.abc import Iterator

import pytest

from polymarket_assets_tests.deploy.topology import PgDatabase, fresh_postgres_database


@pytest.fixture
def pg_database() -> Iterator[PgDatabase]:
    with fresh_postgres_database() as database:
        yield database
