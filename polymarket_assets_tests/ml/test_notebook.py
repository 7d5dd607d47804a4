"""`notebooks/explore.ipynb` runs headless, read-only, on a lake the real assets recorded."""

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore.ipynb"


def test_explore_notebook_executes_on_recorded_data(signal_world, monkeypatch):
    monkeypatch.setenv("PM_DATA_DIR", str(signal_world.data_dir))
    warehouse = signal_world.data_dir / "warehouse.duckdb"
    before = warehouse.stat().st_mtime_ns
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # coverage, one market's series, calibration
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "warehouse.duckdb" in text and "views" in text
    assert signal_world.figures["model_version"] in text
    assert "whales" in text and "dBrier" in text
    assert warehouse.stat().st_mtime_ns == before  # opened read-only
    assert os.environ["PM_DATA_DIR"] == str(signal_world.data_dir)
