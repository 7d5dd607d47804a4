"""The operation tests share the deployment tests' headless Chromium (installed on first use)."""

from polymarket_assets_tests.deploy.conftest import chromium_install  # noqa: F401 - a fixture
