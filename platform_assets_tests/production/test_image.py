"""The image. Without a container engine: a wheel built from exactly the files the Dockerfile
copies, installed on its own, serves the code location with the image's code-server role and
answers that role's health check. With buildah (``.ci/run`` installs it): the image itself,
built here from the hashed lock on a debootstrap base, starts the webserver, the code server
and the daemon, and each passes its own health check (``deploy/platform-role``)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from platform_assets_tests.support import image as image_support
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.servers import free_port, wait_for

pytestmark = pytest.mark.slow

DOCKERFILE = (REPO / "Dockerfile").read_text()
ROLE_SCRIPT = REPO / "deploy" / "platform-role"


def _instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Dockerfile, continuation lines joined."""
    joined = DOCKERFILE.replace("\\\n", " ")
    lines = [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
    ]


def _build_stage_copies() -> list[tuple[list[str], str]]:
    """``([sources], destination)`` of each COPY from the build context (not ``--from``)."""
    copies = []
    for instruction, arguments in _instructions():
        if instruction == "COPY" and not arguments.startswith("--from"):
            *sources, destination = shlex.split(arguments)
            copies.append((sources, destination))
    return copies


def _exec_form(instruction: str) -> list[str]:
    (arguments,) = [args for name, args in _instructions() if name == instruction]
    return json.loads(arguments)


def _docker_context_allows(path: str) -> bool:
    """Whether ``.dockerignore`` (a deny-all list with ``!`` exceptions) sends ``path``."""
    allowed = False
    for rule in (REPO / ".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negated, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/") or pattern == "*":
            allowed = negated
    return allowed


def test_the_image_is_unprivileged_gives_each_role_its_command_and_copies_only_what_it_needs():
    users = [args for name, args in _instructions() if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    # No image-wide health check: each role's task gives its own (the daemon serves no gRPC).
    assert [args for name, args in _instructions() if name == "HEALTHCHECK"] == ["NONE"]
    assert _exec_form("ENTRYPOINT") == ["platform-role"]
    assert _exec_form("CMD") == ["code-server"]
    script = ROLE_SCRIPT.read_text()
    for role in ("webserver", "daemon", "code-server", "scoring"):
        assert f"\n{role})" in script, f"platform-role has no {role} role"
    # The base is a build argument whose default is pinned by digest.
    (base,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base), base
    assert DOCKERFILE.count("FROM ${BASE_IMAGE}") == 2
    sources = [source for copied, _ in _build_stage_copies() for source in copied]
    assert sorted(sources) == sorted(
        [
            "requirements.image.lock",
            "pyproject.toml",
            "README.md",
            "dagster.yaml",
            "platform_assets",
            "contracts",
            "runbooks",
            "evals",
            "deploy/dagster.yaml",
            "deploy/workspace.yaml",
            "deploy/platform-role",
        ]
    )
    for source in sources:
        assert _docker_context_allows(source), (
            f".dockerignore keeps {source} out of the build context"
        )
    for left_out in ("platform_assets_tests", "benchmarks", ".git", "deploy/docker-compose.yml"):
        assert not _docker_context_allows(left_out), f"{left_out} is sent to the build"
    # Every dependency from the hashed lock, and nothing fetched for the project itself.
    assert "--require-hashes" in DOCKERFILE and "-r requirements.image.lock" in DOCKERFILE
    assert "--no-index --no-build-isolation" in DOCKERFILE


def test_the_role_script_refuses_an_unknown_role_with_a_usage_error():
    for args, message in (
        (["webservr"], "'webservr' is neither a role"),
        (["health", "webservr"], "unknown role 'webservr'"),
    ):
        done = subprocess.run(
            ["sh", str(ROLE_SCRIPT), *args], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 2 and message in done.stderr, done
    # Any other command runs as given: the run task's `dagster api execute_run ...`.
    done = subprocess.run(
        ["sh", str(ROLE_SCRIPT), "echo", "ran"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and done.stdout == "ran\n"


def test_both_locks_pin_every_package_with_its_hashes():
    for lock in ("requirements.lock", "requirements.image.lock"):
        text = (REPO / lock).read_text()
        pins = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)", text, re.MULTILINE)
        assert len(pins) > 100, lock
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        unhashed = [entry.split()[0] for entry in entries if "--hash=sha256:" not in entry]
        assert not unhashed, f"{lock}: no hash for {unhashed[:5]}"
    locked = dict(
        re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", (REPO / "requirements.lock").read_text(), re.M)
    )
    image = re.findall(
        r"^([A-Za-z0-9_.\-]+)==(\S+)", (REPO / "requirements.image.lock").read_text(), re.M
    )
    moved = [f"{name} {version} != {locked[name]}" for name, version in image if name in locked]
    moved = [line for line in moved if line.split()[1] != line.split()[3]]
    assert not moved, f"the image lock moved pins of requirements.lock: {moved}"
    for dev_only in ("pytest", "playwright", "moto", "ruff", "pyright"):
        assert dev_only not in dict(image), f"{dev_only} (a dev tool) is in the image lock"


def _uv() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        pytest.skip("uv (installed by `make install`) is needed to build the wheel")
    return found


def test_the_wheel_of_the_dockerfiles_files_serves_the_code_location(tmp_path: Path):
    source = tmp_path / "src"
    for copied, destination in _build_stage_copies():
        for name in copied:
            target = source / (
                name if destination in ("./", ".") else destination.removeprefix("./")
            )
            if (REPO / name).is_dir():
                shutil.copytree(
                    REPO / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(REPO / name, target)
    build = subprocess.run(
        [_uv(), "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        env=subprocess_env(),
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("platform_assets-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for bundled in (
        "platform_assets/_bundled/contracts/fct_transactions.odcs.yaml",
        "platform_assets/_bundled/runbooks/allowlist.yaml",
        "platform_assets/_bundled/dagster.yaml",
        "platform_assets/_bundled/pyproject.toml",
        "platform_assets/definitions.py",
        "platform_assets/instance.py",
    ):
        assert bundled in names

    # The wheel alone, first on the path (its dependencies are this environment's), run from an
    # empty folder: nothing of the checkout can be picked up.
    site = tmp_path / "site"
    install = subprocess.run(
        [_uv(), "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(),
    )
    assert install.returncode == 0, install.stderr[-3000:]
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    env = subprocess_env(
        PYTHONPATH=str(site),
        PLATFORM_ASSETS_HOME=str(tmp_path / "data"),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    env.pop("PLATFORM_ASSETS_CONTRACTS_DIR", None)
    (tmp_path / "dagster_home").mkdir()
    where = subprocess.run(
        [sys.executable, "-c", "import platform_assets.definitions as d; print(d.__file__)"],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
        timeout=120,
    )
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr

    port = free_port()
    # The image's own role script, with this environment's dagster first on the path.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PLATFORM_ASSETS_CODE_SERVER_PORT"] = str(port)
    command = ["sh", str(ROLE_SCRIPT), *_exec_form("CMD")]
    health = ["sh", str(ROLE_SCRIPT), "health", *_exec_form("CMD")]
    server = subprocess.Popen(
        command,
        start_new_session=True,
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def healthy() -> bool:
            if server.poll() is not None:
                raise AssertionError(
                    f"the code server exited {server.returncode}: {server.stdout.read()[-3000:]}"
                )
            check = subprocess.run(
                health,
                cwd=workdir,
                env=env,
                capture_output=True,
                timeout=60,
            )
            return check.returncode == 0

        wait_for(
            healthy, timeout=180, what="the code server answering its health check", interval=1.0
        )
        from dagster._grpc.client import DagsterGrpcClient
        from dagster._serdes import deserialize_value

        def loaded():
            response = deserialize_value(
                DagsterGrpcClient(port=port, host="127.0.0.1").list_repositories()
            )
            return response if hasattr(response, "repository_symbols") else None

        repositories = wait_for(loaded, timeout=180, what="the code location loaded", interval=1.0)
        assert repositories.repository_symbols, repositories
        assert not list(
            (tmp_path / "data").glob("**/*.duckdb")
        )  # loading the code location writes nothing
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)


@pytest.fixture(scope="module")
def built_image():
    """The image, built once for this module (cached base, wheels and layers: see
    ``support/image.py``)."""
    if os.geteuid() != 0:
        pytest.skip("buildah --isolation chroot builds as root (CI runs as root)")
    missing = image_support.missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} missing (.ci/run installs buildah podman debootstrap)")
    built = image_support.build()
    print(
        f"\nimage {built.name}: base {built.base_seconds:.0f} s,"
        f" wheels {built.wheels_seconds:.0f} s, build {built.seconds:.0f} s,"
        f" size {built.size_bytes() / 1e9:.2f} GB"
    )
    return built


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def test_the_built_image_starts_the_webserver_code_server_and_daemon_healthy(
    built_image, production, tmp_path: Path
):
    """Each role from the built image, on the real Postgres and moto S3 of the production
    fixtures, with the compose instance (the ECS one but for its run launcher): the code server
    passes ``dagster api grpc-health-check``, the webserver answers ``/server_info`` and loads
    the code location over gRPC, the daemon passes ``dagster-daemon liveness-check``."""
    dagster_home = tmp_path / "image_dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.compose.yaml", dagster_home / "dagster.yaml")
    os.chown(dagster_home, 10001, 10001)  # the image's unprivileged user writes its home
    code_port, web_port = free_port(), free_port()
    env = {
        **{
            name: value
            for name, value in production.env.items()
            # The image's own home, contracts and DAGSTER_HOME, not this checkout's.
            if name not in ("PLATFORM_ASSETS_HOME", "PLATFORM_ASSETS_CONTRACTS_DIR", "DAGSTER_HOME")
        },
        "PLATFORM_ASSETS_CODE_SERVER_HOST": "127.0.0.1",
        "PLATFORM_ASSETS_CODE_SERVER_PORT": str(code_port),
        "PLATFORM_ASSETS_WEBSERVER_PORT": str(web_port),
    }
    volumes = {str(dagster_home): "/opt/dagster/home"}
    containers: dict[str, image_support.Container] = {}
    healthy_after: dict[str, float] = {}
    try:

        def start(role: str, timeout: float, healthy=None) -> None:
            container = containers[role] = image_support.Container(built_image.name, volumes)
            log = tmp_path / f"{role}.log"
            process = container.start(env, "platform-role", role, log=log)
            started = time.monotonic()

            def passes() -> bool:
                if process.poll() is not None:
                    raise AssertionError(
                        f"the {role} exited {process.returncode}: {log.read_text()[-3000:]}"
                    )
                return container.run(env, "platform-role", "health", role).returncode == 0

            try:
                wait_for(healthy or passes, timeout=timeout, what=f"the {role} healthy", interval=2)
            except TimeoutError as error:
                raise AssertionError(f"{error}: {log.read_text()[-3000:]}") from None
            if healthy:  # the role's own check passes too, from inside its container
                assert container.run(env, "platform-role", "health", role).returncode == 0
            healthy_after[role] = time.monotonic() - started

        start("code-server", timeout=240)
        start("webserver", timeout=240)
        # The daemon's check means something: with no daemon running it fails.
        not_yet = containers["code-server"].run(env, "platform-role", "health", "daemon")
        assert not_yet.returncode == 1 and "not running" in not_yet.stdout, not_yet
        start("daemon", timeout=300)

        # The webserver reached the code server and loaded its definitions.
        def location_loaded():
            query = json.dumps(
                {
                    "query": "{ workspaceOrError { ... on Workspace { locationEntries {"
                    " name locationOrLoadError { __typename } } } } }"
                }
            ).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{web_port}/graphql",
                data=query,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
            return [
                (entry["name"], entry["locationOrLoadError"]["__typename"]) for entry in entries
            ]

        assert _http_ok(f"http://127.0.0.1:{web_port}/server_info")
        assert location_loaded() == [("platform_assets", "RepositoryLocation")]
        print(
            f"\nstart to healthy: {', '.join(f'{r} {s:.0f} s' for r, s in healthy_after.items())}"
        )
    finally:
        for container in containers.values():
            container.remove()
