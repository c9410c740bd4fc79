"""The image, without a container engine: a wheel built from exactly the files the
Dockerfile copies, installed on its own, serves the code location with the Dockerfile's
command and answers the Dockerfile's health check."""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.servers import free_port, wait_for
from platform_assets_tests.support.typed import present

pytestmark = pytest.mark.slow

DOCKERFILE = (REPO / "Dockerfile").read_text()


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
    if instruction == "HEALTHCHECK":
        arguments = arguments[arguments.index("CMD") + len("CMD") :].strip()
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


def test_the_image_is_unprivileged_checks_its_health_and_copies_only_what_it_needs():
    users = [args for name, args in _instructions() if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert _exec_form("HEALTHCHECK")[:3] == ["dagster", "api", "grpc-health-check"]
    assert _exec_form("CMD")[:3] == ["dagster", "code-server", "start"]
    sources = [source for copied, _ in _build_stage_copies() for source in copied]
    assert sorted(sources) == sorted(
        [
            "pyproject.toml",
            "requirements.lock",
            "README.md",
            "dagster.yaml",
            "platform_assets",
            "contracts",
            "runbooks",
            "evals",
            "deploy/dagster.yaml",
        ]
    )
    for source in sources:
        assert _docker_context_allows(source), (
            f".dockerignore keeps {source} out of the build context"
        )
    for left_out in ("platform_assets_tests", "benchmarks", ".git", "deploy/docker-compose.yml"):
        assert not _docker_context_allows(left_out), f"{left_out} is sent to the build"
    assert "-c requirements.lock" in DOCKERFILE  # every dependency at the locked version


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
    command = [
        arg.replace("0.0.0.0", "127.0.0.1").replace("4000", str(port)) for arg in _exec_form("CMD")
    ]
    health = [arg.replace("4000", str(port)) for arg in _exec_form("HEALTHCHECK")]
    server = subprocess.Popen(
        [sys.executable, "-m", *command],
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
                    f"the code server exited {server.returncode}: "
                    f"{present(server.stdout).read()[-3000:]}"
                )
            check = subprocess.run(
                [sys.executable, "-m", *health],
                cwd=workdir,
                env=env,
                capture_output=True,
                timeout=60,
            )
            return check.returncode == 0

        wait_for(
            healthy, timeout=180, what="the code server answering its health check", interval=1.0
        )
        import dagster as dg

        from platform_assets.dagster_internals import DagsterGrpcClient

        def loaded() -> Any:
            response = dg.deserialize_value(
                DagsterGrpcClient(port=port, host="127.0.0.1").list_repositories()
            )
            return response if hasattr(response, "repository_symbols") else None

        repositories = wait_for(loaded, timeout=180, what="the code location loaded", interval=1.0)
        assert repositories.repository_symbols, repositories
        assert not list(
            (tmp_path / "data").glob("**/*.duckdb")
        )  # loading the code location writes nothing
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, 9)
