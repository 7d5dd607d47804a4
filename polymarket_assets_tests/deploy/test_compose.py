"""docker-compose.yml, deploy/Dockerfile and .env.example agree with each other, with dagster.yaml and
workspace.yaml, and with the code in the repository, without a Docker engine: every command names a
module or file the service's image really contains, published ports are loopback-only, every
variable the instance config reads reaches the services that load it, and no password is committed."""

import itertools
import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from polymarket_assets_tests.deploy import deploy_files as df
from polymarket_assets_tests.deploy.topology import CODE_MODULE, REPO_ROOT

DAGSTER_SERVICES = ("user_code", "webserver", "daemon")  # load dagster.yaml (runs execute in user_code)
APP_SERVICES = (*DAGSTER_SERVICES, "ws_sidecar")
CONFIG_CONTRACT = ("PM_GAMMA_URL", "PM_CLOB_URL", "PM_DATA_API_URL", "PM_WS_URL", "PM_DATA_DIR")

COMPOSE = df.load_compose()
SERVICES = COMPOSE["services"]
STAGES = df.parse_dockerfile()


def _stage_of(service_name: str) -> df.Stage:
    build = SERVICES[service_name]["build"]
    assert Path(build["dockerfile"]) == df.DOCKERFILE.relative_to(REPO_ROOT)
    return STAGES[build["target"]]


@pytest.fixture(scope="module")
def image_replicas(tmp_path_factory) -> dict[str, Path]:
    """Per Dockerfile target, the files its COPY instructions put into the image."""
    root = tmp_path_factory.mktemp("images")
    targets = {SERVICES[name]["build"]["target"] for name in APP_SERVICES}
    return {target: df.build_image_replica(STAGES[target], root / target) for target in targets}


def test_compose_defines_the_expected_services_built_from_deploy_dockerfile():
    assert set(SERVICES) == {"postgres", *APP_SERVICES}
    images: dict[str, str] = {}
    for name in APP_SERVICES:
        build = SERVICES[name]["build"]
        assert build["context"] == "."
        assert build["target"] in STAGES, f"{name}: no stage {build['target']!r} in deploy/Dockerfile"
        # One image tag must never stand for two different builds.
        assert images.setdefault(SERVICES[name]["image"], build["target"]) == build["target"]


def _console_script_distribution(script: str) -> str:
    for dist in metadata.distributions():
        for entry_point in dist.entry_points:
            if entry_point.group == "console_scripts" and entry_point.name == script:
                return dist.metadata["Name"]
    raise AssertionError(f"no installed distribution provides the console script {script!r}")


def _installed_in(stage: df.Stage) -> set[str] | None:
    names = df.requirement_names_installed(stage)
    return None if names is None else {df.canonical(n) for n in names}


def _module_spec_in(replica: Path, module: str, *, runnable: bool) -> None:
    """`module` resolves inside the image's app directory (or is installed), and `-m` can run it."""
    probe = (
        "import importlib.util, json, sys\n"
        "name = sys.argv[1]\n"
        "spec = importlib.util.find_spec(name)\n"
        "main = importlib.util.find_spec(name + '.__main__') if spec and spec.submodule_search_locations else spec\n"
        "print(json.dumps({'origin': spec and spec.origin, 'main': main and main.origin}))\n"
    )
    app = replica / "opt/dagster/app"
    result = subprocess.run(
        [sys.executable, "-c", probe, module],
        check=False,
        cwd=app,
        env={"PYTHONPATH": str(app), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["origin"], f"module {module} is not in the image"
    if found["origin"].startswith(str(REPO_ROOT)):  # the venv's editable finder, not the replica
        pytest.fail(f"module {module} resolved to the working tree, not the image: {found['origin']}")
    if runnable:
        assert found["main"], f"`python -m {module}` needs {module}/__main__.py"


def _check_argv(service_name: str, argv: list[str], replicas: dict[str, Path]) -> None:
    stage = _stage_of(service_name)
    replica = replicas[stage.name]
    program = argv[0]
    if program in ("python", "python3") and argv[1] == "-c":
        compile(argv[2], f"<{service_name} inline code>", "exec")
    elif program in ("python", "python3"):
        assert argv[1] == "-m", f"{service_name}: run modules with `python -m`, got {argv}"
        _module_spec_in(replica, argv[2], runnable=True)
    else:
        distribution = _console_script_distribution(program)
        installed = _installed_in(stage)
        assert installed is None or df.canonical(distribution) in installed, (
            f"{service_name}: {program} comes from {distribution}, which the {stage.name} image does not install"
        )
    for flag, value in itertools.pairwise(argv):
        if flag == "-m" and program not in ("python", "python3"):
            _module_spec_in(replica, value, runnable=False)
    for arg in argv:
        if arg.startswith("/opt/"):
            assert (replica / arg.lstrip("/")).is_file(), f"{service_name}: {arg} is not in the image"


@pytest.mark.parametrize("service_name", APP_SERVICES)
def test_service_command_names_a_real_module_or_file_in_its_image(service_name, image_replicas):
    _check_argv(service_name, df.as_argv(SERVICES[service_name]["command"]), image_replicas)


@pytest.mark.parametrize("service_name", DAGSTER_SERVICES)
def test_healthcheck_names_a_real_program_in_its_image(service_name, image_replicas):
    argv = df.healthcheck_argv(SERVICES[service_name])
    assert argv is not None, f"{service_name} has no healthcheck"
    _check_argv(service_name, argv, image_replicas)


def test_user_code_serves_the_definitions_module_on_the_port_the_workspace_names():
    argv = df.as_argv(SERVICES["user_code"]["command"])
    assert argv[:3] == ["dagster", "api", "grpc"]
    assert argv[argv.index("-m") + 1] == CODE_MODULE
    port = argv[argv.index("-p") + 1]
    assert df.healthcheck_argv(SERVICES["user_code"])[-2:] == ["-p", port]
    for name in ("webserver", "daemon"):
        env = df.service_environment(SERVICES[name])
        assert env["DAGSTER_GRPC_HOST"] == "user_code" and env["DAGSTER_GRPC_PORT"] == port
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    assert entry["grpc_server"]["location_name"] == argv[argv.index("--location-name") + 1]


def test_image_file_set_loads_the_code_location(image_replicas):
    """The user_code image's files alone (COPY list filtered by the .dockerignore allowlist) load the same
    definitions as the working tree: nothing the code needs is left out of the image."""
    stage = STAGES["user_code"]
    patterns = df.dockerignore_patterns()
    for source in df.copy_sources(stage):
        assert (REPO_ROOT / source).exists(), f"COPY source {source} does not exist"
        for path in [REPO_ROOT / source, *(REPO_ROOT / source).rglob("*")]:
            rel = path.relative_to(REPO_ROOT).as_posix()
            if path.is_file() and "__pycache__" not in rel and not rel.endswith(".pyc"):
                assert df.in_build_context(rel, patterns), f"{rel} is copied but the .dockerignore drops it"
    for secret_or_bulk in (".env", "data/lake/x.parquet", ".dagster_home/dagster.yaml", ".venv/bin/python"):
        assert not df.in_build_context(secret_or_bulk, patterns), (
            f"{secret_or_bulk} would enter the build context"
        )

    app = image_replicas["user_code"] / "opt/dagster/app"
    probe = (
        "import json, polymarket_assets.definitions as m\n"
        "d = m.defs() if callable(m.defs) else m.defs\n"
        "keys = sorted(k.to_user_string() for k in d.resolve_asset_graph().get_all_asset_keys())\n"
        "print(json.dumps({'file': m.__file__, 'keys': keys}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        check=False,
        cwd=app,
        env={"PYTHONPATH": str(app), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["file"].startswith(str(app))
    from polymarket_assets.definitions import defs

    working_tree = defs() if callable(defs) else defs
    assert loaded["keys"] == sorted(
        k.to_user_string() for k in working_tree.resolve_asset_graph().get_all_asset_keys()
    )


def test_both_images_install_one_dagster_release_from_pyproject():
    assert _installed_in(STAGES["dagster"]) == {"dagster", "dagster-webserver", "dagster-postgres"}
    assert _installed_in(STAGES["user_code"]) is None  # every dependency, Dagster pins included
    printed = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "deploy/requirements.py"),
            str(REPO_ROOT / "pyproject.toml"),
            "dagster",
            "dagster-webserver",
            "dagster-postgres",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert printed == [
        f"dagster=={metadata.version('dagster')}",
        f"dagster-webserver=={metadata.version('dagster-webserver')}",
        f"dagster-postgres=={metadata.version('dagster-postgres')}",
    ]


def test_published_ports_are_bound_to_loopback_only():
    published = []
    for name, service in SERVICES.items():
        assert service.get("network_mode") != "host", f"{name} shares the host network"
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond 127.0.0.1"
            published.append(name)
    assert published == ["webserver"]


def test_every_instance_and_workspace_variable_reaches_the_services_that_load_them():
    needed = df.env_references(yaml.safe_load((REPO_ROOT / "deploy" / "dagster.yaml").read_text()))
    needed |= df.env_references(yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text()))
    assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "DAGSTER_GRPC_PORT"} <= needed
    for name in DAGSTER_SERVICES:
        missing = needed - set(df.service_environment(SERVICES[name]))
        assert not missing, f"{name} loads dagster.yaml/workspace.yaml but is not given {sorted(missing)}"
    for name in ("user_code", "ws_sidecar"):
        missing = set(CONFIG_CONTRACT) - set(df.service_environment(SERVICES[name]))
        assert not missing, f"{name} is not given {sorted(missing)}"
    sidecar_env = df.service_environment(SERVICES["ws_sidecar"])
    assert not any(k.startswith("DAGSTER_PG") for k in sidecar_env), (
        "the sidecar needs no database credentials"
    )
    postgres_env = df.service_environment(SERVICES["postgres"])
    dagster_env = df.service_environment(SERVICES["daemon"])
    for pg_name, dagster_name in (
        ("POSTGRES_USER", "DAGSTER_PG_USER"),
        ("POSTGRES_PASSWORD", "DAGSTER_PG_PASSWORD"),
        ("POSTGRES_DB", "DAGSTER_PG_DB"),
    ):
        assert postgres_env[pg_name] == dagster_env[dagster_name], (
            "postgres and Dagster read different settings"
        )
    assert dagster_env["DAGSTER_PG_HOST"] == "postgres"


def test_env_example_documents_exactly_the_settings_compose_reads():
    example = df.read_env_file()
    interpolations = df.compose_interpolations()
    used = {i.name for i in interpolations}
    assert used == set(example), (
        f"undocumented in .env.example: {sorted(used - set(example))}; unused: {sorted(set(example) - used)}"
    )
    for interpolation in interpolations:
        if interpolation.name == "DAGSTER_PG_PASSWORD":
            assert interpolation.operator == ":?", "the password must be required, never defaulted"
    assert all(value for value in example.values()), ".env.example leaves a setting empty"


def test_data_and_log_volumes_are_shared_at_the_same_paths():
    dagster_home = STAGES["user_code"].all_env()["DAGSTER_HOME"]
    assert STAGES["dagster"].all_env()["DAGSTER_HOME"] == dagster_home
    data_targets = {}
    for name in APP_SERVICES:
        mounts = {m.source: m for m in df.service_mounts(SERVICES[name])}
        assert "pm_data" in mounts, f"{name} does not mount the data volume"
        data_targets[name] = mounts["pm_data"].target
        assert df.service_environment(SERVICES[name])["PM_DATA_DIR"] == mounts["pm_data"].target
        # Runs (in user_code) and the sidecar write the lake; the UI and daemon only look.
        assert mounts["pm_data"].read_only == (name in ("webserver", "daemon")), name
        if name in DAGSTER_SERVICES:
            # Compute logs are written by runs in user_code and served by the webserver.
            assert mounts["dagster_storage"].target == f"{dagster_home}/storage", name
    assert len(set(data_targets.values())) == 1, data_targets
    declared = set(COMPOSE.get("volumes") or {})
    for service in SERVICES.values():
        for mount in df.service_mounts(service):
            assert mount.source in declared, f"volume {mount.source} is not declared"


def test_start_order_health_and_restart_policies():
    for name in ("postgres", "user_code"):
        assert df.healthcheck_argv(SERVICES[name]), f"{name} needs a healthcheck others can wait on"
    for name in ("webserver", "daemon"):
        depends = SERVICES[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["user_code"]["condition"] == "service_healthy"
    assert SERVICES["user_code"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    daemon = SERVICES["daemon"]
    assert daemon["restart"] == "on-failure"
    assert daemon.get("mem_limit") or daemon.get("deploy", {}).get("resources", {}).get("limits", {}).get(
        "memory"
    )


def _repository_files() -> list[Path]:
    listed = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    return [REPO_ROOT / name for name in listed if name and (REPO_ROOT / name).is_file()]


_QUOTED_PASSWORD = re.compile(r"(?i)\bpass(?:word|wd)\w*[\"']?\s*[:=]\s*(?:str\s*=\s*)?([\"'])([^\"'\s]+)\1")
_ENV_PASSWORD = re.compile(r"(?m)\b[A-Z0-9_]*PASS(?:WORD|WD)[A-Z0-9_]*=(?![\"']?\$)([\"']?)([^\s\"']+)\1")
_URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:([^@\s/'\"]+)@")
_YAML_SUFFIXES = {".yml", ".yaml"}


def _yaml_literal_passwords(node, path=()) -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if (
                "pass" in str(key).lower()
                and isinstance(value, str | int)
                and not str(value).startswith("${")
            ):
                found.append(".".join(map(str, (*path, key))))
            found += _yaml_literal_passwords(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _yaml_literal_passwords(value, (*path, index))
    return found


def test_no_literal_password_in_repository_files():
    placeholder = df.read_env_file()["DAGSTER_PG_PASSWORD"]
    offenders = []
    for path in _repository_files():
        rel = path.relative_to(REPO_ROOT).as_posix()
        if rel == ".env.example":
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if placeholder in text:
            offenders.append(f"{rel}: contains the .env.example placeholder password")
        for pattern in (_QUOTED_PASSWORD, _ENV_PASSWORD):
            offenders += [f"{rel}: {m.group(0)}" for m in pattern.finditer(text)]
        offenders += [
            f"{rel}: {m.group(0)}" for m in _URL_CREDENTIALS.finditer(text) if not m.group(1).startswith("$")
        ]
        if path.suffix in _YAML_SUFFIXES:
            for document in yaml.safe_load_all(text):
                offenders += [f"{rel}: literal value at {key}" for key in _yaml_literal_passwords(document)]
    assert not offenders, "literal passwords in the repository:\n" + "\n".join(offenders)


def test_env_file_is_ignored_by_git():
    result = subprocess.run(["git", "check-ignore", "-q", ".env"], check=False, cwd=REPO_ROOT)
    assert result.returncode == 0, ".env (the real credentials) is not git-ignored"
