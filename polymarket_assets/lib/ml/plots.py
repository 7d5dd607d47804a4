"""PNG charts for asset metadata and the notebook (matplotlib, headless)."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

from polymarket_assets.lib.ml.metrics import reliability

if TYPE_CHECKING:
    from types import ModuleType

    from matplotlib.figure import Figure


def _pyplot() -> ModuleType:
    """matplotlib's pyplot on the headless backend, imported on first use: every run worker loads this
    code location, and matplotlib would add most of a second to each one's start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def reliability_png(
    curves: dict[str, tuple], bins: int = 10, title: str = "Reliability on the test split"
) -> bytes:
    """One reliability line per forecaster (`name -> (p, y)`), with bin counts under it."""
    fig, (ax, hist) = _pyplot().subplots(
        2, 1, figsize=(5.5, 6.5), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect")
    for name, (p, y) in curves.items():
        rows = [r for r in reliability(p, y, bins) if r["n"]]
        ax.plot([r["mean_p"] for r in rows], [r["freq"] for r in rows], marker="o", linewidth=1.5, label=name)
        hist.hist(p, bins=bins, range=(0, 1), histtype="step", linewidth=1.5, label=name)
    ax.set_ylabel("observed YES frequency")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    hist.set_xlabel("predicted probability")
    hist.set_ylabel("rows")
    fig.tight_layout()
    return _png(fig)


def importance_png(importances: dict[str, float], top: int = 15) -> bytes:
    items = list(importances.items())[:top][::-1]
    fig, ax = _pyplot().subplots(figsize=(5.5, 0.3 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_xlabel("share of total gain")
    ax.set_title("Feature importance")
    fig.tight_layout()
    return _png(fig)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    _pyplot().close(fig)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
