"""Readers for the deployment files that no Docker engine is needed to check: docker-compose.yml
(with its `${VAR}` interpolations), .env.example, deploy/Dockerfile (stages, COPY, ENV, RUN) and its
allowlist .dockerignore, plus a replica of an image's file tree built from the COPY instructions."""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from polymarket_assets_tests.deploy.topology import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / "deploy" / "Dockerfile.dockerignore"

_INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


def canonical(name: str) -> str:
    """A distribution name as pip compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@dataclass(frozen=True)
class Interpolation:
    name: str
    operator: str | None  # None, "-"/":-" (default), "?"/":?" (required), "+"/":+"

    @property
    def has_default(self) -> bool:
        return self.operator is not None and self.operator.endswith("-")


def compose_interpolations() -> list[Interpolation]:
    """Every `${VAR...}` compose substitutes from .env (`$${...}` is a literal for the container)."""
    return [Interpolation(m.group(1), m.group(2)) for m in _INTERPOLATION.finditer(COMPOSE_FILE.read_text())]


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
        values[key.strip()] = value.strip()
    return values


def service_environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool


def service_mounts(service: dict[str, Any]) -> list[Mount]:
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append(Mount(volume["source"], volume["target"], bool(volume.get("read_only"))))
            continue
        parts = volume.split(":")
        mode = parts[2] if len(parts) > 2 else "rw"
        mounts.append(Mount(parts[0], parts[1], "ro" in mode.split(",")))
    return mounts


def as_argv(command: Any) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def healthcheck_argv(service: dict[str, Any]) -> list[str] | None:
    """The healthcheck as an argv: CMD form as given, CMD-SHELL as `sh -c`, with `$$` unescaped."""
    test = (service.get("healthcheck") or {}).get("test")
    if test is None:
        return None
    if isinstance(test, str):
        return ["sh", "-c", test.replace("$$", "$")]
    kind, *rest = test
    if kind == "CMD":
        return [part.replace("$$", "$") for part in rest]
    assert kind == "CMD-SHELL", f"unexpected healthcheck form {kind!r}"
    return ["sh", "-c", " ".join(rest).replace("$$", "$")]


def env_references(node: Any) -> set[str]:
    """Names of every `{env: NAME}` value in a Dagster YAML document."""
    if isinstance(node, dict):
        if set(node) == {"env"} and isinstance(node["env"], str):
            return {node["env"]}
        return set().union(*(env_references(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(env_references(v) for v in node)) if node else set()
    return set()


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    dest: str


@dataclass
class Stage:
    name: str
    parent: Stage | None
    copies: list[Copy] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)

    def lineage(self) -> list[Stage]:
        return ([*self.parent.lineage()] if self.parent else []) + [self]

    def all_copies(self) -> list[Copy]:
        return [c for s in self.lineage() for c in s.copies]

    def all_env(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for stage in self.lineage():
            merged.update(stage.env)
        return merged

    def all_runs(self) -> list[str]:
        return [r for s in self.lineage() for r in s.runs]


def _instructions(text: str) -> Iterator[tuple[str, str]]:
    logical = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") and not logical:
            continue
        if stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by Docker too
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        logical += stripped
        if logical.strip():
            keyword, _, rest = logical.strip().partition(" ")
            yield keyword.upper(), rest.strip()
        logical = ""


def parse_dockerfile(path: Path = DOCKERFILE) -> dict[str, Stage]:
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, rest in _instructions(path.read_text()):
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else f"stage{len(stages)}"
            current = stages[name] = Stage(name, stages.get(words[0]))
        elif current is None:
            continue  # ARG before the first FROM
        elif keyword == "COPY":
            words = [w for w in shlex.split(rest) if not w.startswith("--")]
            assert not any(w.startswith("--from") for w in shlex.split(rest)), "COPY --from is not modelled"
            current.copies.append(Copy(tuple(words[:-1]), words[-1]))
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                current.env[key] = value
        elif keyword == "RUN":
            current.runs.append(rest)
    return stages


def dockerignore_patterns(path: Path = DOCKERIGNORE) -> list[str]:
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def _pattern_matches(pattern: str, path: str) -> bool:
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]  # the path and its parents
    if pattern.startswith("**/"):
        tail = pattern[3:]
        return any(fnmatch.fnmatchcase(part, tail) for part in parts) or any(
            fnmatch.fnmatchcase(c, tail) for c in candidates
        )
    return any(fnmatch.fnmatchcase(c, pattern) for c in candidates)


def in_build_context(path: str, patterns: list[str]) -> bool:
    """Whether a repo-relative path reaches the build context: the last matching pattern decides."""
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _pattern_matches(pattern.lstrip("!").rstrip("/"), path):
            included = negated
    return included


def _ignored_in_copy(name: str) -> bool:
    return name == "__pycache__" or name.endswith(".pyc")


def copy_sources(stage: Stage) -> list[str]:
    return [src for copy in stage.all_copies() for src in copy.sources]


def build_image_replica(stage: Stage, root: Path) -> Path:
    """Lay out the files the stage's COPY instructions put in the image under `root` (image `/`)."""
    for copy in stage.all_copies():
        many = len(copy.sources) > 1 or copy.dest.endswith("/")
        for src in copy.sources:
            source = REPO_ROOT / src
            dest = root / copy.dest.lstrip("/")
            if source.is_dir():
                shutil.copytree(
                    source,
                    dest,
                    dirs_exist_ok=True,
                    ignore=lambda _d, names: [n for n in names if _ignored_in_copy(n)],
                )
            else:
                target = dest / source.name if many else dest
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    return root


def requirement_names_installed(stage: Stage) -> list[str] | None:
    """Distributions the stage installs through deploy/requirements.py; None means every dependency."""
    for ancestor in reversed(stage.lineage()):
        for run in ancestor.runs:
            match = re.search(r"requirements\.py\s+\S*pyproject\.toml((?:\s+[A-Za-z0-9._-]+)*)\s*>", run)
            if match:
                return match.group(1).split() or None
    raise AssertionError(f"stage {stage.name} installs nothing through deploy/requirements.py")
