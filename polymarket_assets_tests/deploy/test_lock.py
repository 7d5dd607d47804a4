"""The hashed lock files agree with pyproject.toml: every declared requirement (runtime, test and dev extras
for `requirements.lock`; runtime for the user-code image's lock; the Dagster family for the webserver/daemon
image's lock) is pinned there at a version its specifier accepts, every pin carries hashes (`pip install
--require-hashes` refuses anything else), and nothing is pinned that no declared requirement needs.
Run `make lock` after changing dependencies."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from polymarket_assets_tests.deploy.topology import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
DAGSTER_FAMILY = {"dagster", "dagster-webserver", "dagster-postgres"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def parse_lock(text: str) -> dict[str, dict]:
    """name -> {"version", "marker", "hashes"} from a pip-style lock (uv or pip-tools output)."""
    pins: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            current = pins.setdefault(
                name, {"version": match.group(2), "marker": match.group(3), "hashes": []}
            )
        elif stripped.startswith("--hash=") and current is not None:
            current["hashes"].append(stripped.removeprefix("--hash=").rstrip(" \\"))
        else:
            raise AssertionError(f"unexpected line in a lock: {line!r}")
    return pins


def declared(extras: tuple[str, ...] = (), only: set[str] | None = None) -> list[Requirement]:
    lines = list(PYPROJECT["project"]["dependencies"])
    for extra in extras:
        lines += PYPROJECT["project"]["optional-dependencies"][extra]
    requirements = [Requirement(line) for line in lines]
    return [r for r in requirements if only is None or canonicalize_name(r.name) in only]


def mismatches(lock: dict[str, dict], requirements: list[Requirement]) -> list[str]:
    problems = []
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pin = lock.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(pin["version"], prereleases=True):
            problems.append(f"{requirement} but the lock pins {pin['version']}")
    for name, pin in lock.items():
        if not pin["hashes"]:
            problems.append(f"{name}=={pin['version']} has no hash")
    return problems


LOCKS = {
    "requirements.lock": ("test", "dev"),
    "deploy/requirements-runtime.lock": (),
    "deploy/requirements-dagster.lock": None,  # the Dagster family only
}


@pytest.mark.parametrize("path", sorted(LOCKS))
def test_each_lock_pins_every_declared_requirement_with_hashes(path):
    lock = parse_lock((REPO_ROOT / path).read_text())
    extras = LOCKS[path]
    requirements = declared(only=DAGSTER_FAMILY) if extras is None else declared(extras)
    assert not mismatches(lock, requirements), f"{path} disagrees with pyproject.toml; run `make lock`"


def test_the_images_locks_hold_the_versions_setup_and_ci_install():
    full = parse_lock((REPO_ROOT / "requirements.lock").read_text())
    for path in ("deploy/requirements-runtime.lock", "deploy/requirements-dagster.lock"):
        for name, pin in parse_lock((REPO_ROOT / path).read_text()).items():
            assert full[name]["version"] == pin["version"], (
                f"{path}: {name} {pin['version']} != {full[name]['version']}"
            )
    runtime = parse_lock((REPO_ROOT / "deploy/requirements-runtime.lock").read_text())
    for test_only in ("pytest", "moto", "hypothesis", "ruff"):
        assert test_only not in runtime, f"the runtime image would install {test_only}"


def test_a_changed_pyproject_is_caught():
    lock = parse_lock((REPO_ROOT / "requirements.lock").read_text())
    dagster = lock["dagster"]["version"]
    bumped = [Requirement(f"dagster=={dagster}.post1"), Requirement("a-package-nobody-locked>=1")]
    assert mismatches(lock, bumped) == [
        f"dagster=={dagster}.post1 but the lock pins {dagster}",
        "a-package-nobody-locked>=1 is not in the lock",
    ]


def test_setup_and_the_images_install_from_the_locks_with_hashes_required():
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements.lock" in makefile
    assert "pip install --quiet --no-deps -e ." in makefile
    dockerfile = (REPO_ROOT / "deploy/Dockerfile").read_text()
    for lock in ("requirements-dagster.lock", "requirements-runtime.lock"):
        assert f"pip install --require-hashes -r /opt/dagster/build/{lock}" in dockerfile
    assert not re.search(
        r"pip install (?!--require-hashes|--no-index|--no-deps)", dockerfile.replace("\\\n", " ")
    )
