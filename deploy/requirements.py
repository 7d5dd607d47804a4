"""Print requirement lines from pyproject.toml's [project] dependencies, optionally only the named
distributions, so both Docker images install exactly the pins the project declares (one source of
truth; the Dagster family must stay on one release, see STYLE.md §15).

    python deploy/requirements.py pyproject.toml                      # every runtime dependency
    python deploy/requirements.py pyproject.toml dagster dagster-webserver dagster-postgres
"""

import re
import sys
import tomllib


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot read a distribution name from {requirement!r}")
    return canonical(match.group(1))


def select(pyproject: dict, names: list[str]) -> list[str]:
    dependencies = pyproject["project"]["dependencies"]
    if not names:
        return list(dependencies)
    wanted = {canonical(n) for n in names}
    chosen = [r for r in dependencies if requirement_name(r) in wanted]
    missing = wanted - {requirement_name(r) for r in chosen}
    if missing:
        raise SystemExit(f"not in pyproject.toml dependencies: {', '.join(sorted(missing))}")
    return chosen


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    with open(argv[0], "rb") as f:
        pyproject = tomllib.load(f)
    print("\n".join(select(pyproject, argv[1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
