"""The code location stands alone: loading its definitions imports neither the recorder (`ws_sidecar`) nor the
tools that drive it from outside (`polymarket_tools`); both depend on `polymarket_assets.lib`, never the reverse."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTSIDERS = ("ws_sidecar", "polymarket_tools")

LOAD = f"""
import sys
from polymarket_assets.definitions import defs
defs()
print(sorted({{name.split(".")[0] for name in sys.modules}} & set({OUTSIDERS!r})))
"""


def test_loading_the_definitions_imports_neither_the_recorder_nor_the_tools():
    result = subprocess.run(
        [sys.executable, "-c", LOAD], check=False, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
