"""Where the real Polymarket payloads live: copies, with their sources (real_samples/SOURCES.md), kept in the repository."""

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent / "real_samples"
