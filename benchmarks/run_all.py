"""Run every benchmark module and write one flat JSON object of named metrics (`make bench`).

Imports each `benchmarks/*_bench.py` module in name order and calls its `run() -> dict`. The flat dicts are
merged into one object with, per module, `<module>_wall_s` and, when `run()` raised, `<module>_error`
instead of crashing the whole run. A metric name that two modules both report keeps the first value; the
later one is stored as `<module>.<name>`. The result goes to `benchmarks/results/latest.json` (rewritten
after every module, so a crash late in the run keeps the earlier figures) and to stdout.

    python -m benchmarks.run_all                      # everything
    python -m benchmarks.run_all --only collection    # one module (`collection` or `collection_bench`)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

# The benchmarks' simulated worlds are set from November 2026, which may be before today: their partitions must
# exist (`polymarket_assets/lib/collection_start.py`). Set before any module imports the code location.
os.environ.setdefault("PM_COLLECTION_START", "2026-11-01")

PACKAGE = "benchmarks"
SUFFIX = "_bench"
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def discover(package: str = PACKAGE) -> list[str]:
    """Module names (without the package) of every `*_bench.py` in the package's directory, sorted."""
    pkg = importlib.import_module(package)
    directory = Path(next(iter(pkg.__path__)))
    return sorted(p.stem for p in directory.glob(f"*{SUFFIX}.py") if not p.name.startswith("_"))


def _selected(names: list[str], only: list[str] | None) -> list[str]:
    if not only:
        return names
    wanted = {o.removesuffix(".py") for o in only}
    wanted |= {w + SUFFIX for w in wanted}
    chosen = [n for n in names if n in wanted]
    unknown = {
        o for o in only if o.removesuffix(".py") not in names and o.removesuffix(".py") + SUFFIX not in names
    }
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; available: {names}")
    return chosen


def _write(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)


def _merge(results: dict, module: str, metrics: dict) -> None:
    for key, value in metrics.items():
        name = str(key)
        if name in results:
            print(f"run_all: {module} reports {name!r} again; stored as {module}.{name}", file=sys.stderr)
            name = f"{module}.{name}"
        results[name] = value


def run_modules(
    names: list[str], package: str = PACKAGE, results_path: Path | None = DEFAULT_RESULTS
) -> dict:
    results: dict = {}
    for name in names:
        print(f"run_all: {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"{package}.{name}")
            metrics = module.run()
            if not isinstance(metrics, dict):
                raise TypeError(f"{name}.run() returned {type(metrics).__name__}, expected a dict")
            _merge(results, name, metrics)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - one broken benchmark must not lose the others
            traceback.print_exc(file=sys.stderr)
            results[f"{name}_error"] = f"{type(exc).__name__}: {exc}"[:2000]
        results[f"{name}_wall_s"] = round(time.perf_counter() - started, 2)
        print(f"run_all: {name} done in {results[f'{name}_wall_s']} s", file=sys.stderr, flush=True)
        if results_path is not None:
            _write(results, results_path)
    return results


def main(
    argv: list[str] | None = None, package: str = PACKAGE, results_path: Path | None = DEFAULT_RESULTS
) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark module (repeatable; with or without the _bench suffix)",
    )
    parser.add_argument("--output", type=Path, default=results_path, help="where to write the JSON object")
    args = parser.parse_args(argv)
    names = _selected(discover(package), args.only)
    results = run_modules(names, package, args.output)
    if args.output is not None and not names:
        _write(results, args.output)
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
