"""The project's image, built and run here without a registry or a Docker daemon.

Debian's ``buildah`` builds the Dockerfile with ``--isolation chroot`` (as root), on a base made
by ``debootstrap`` from Debian packages (bookworm: Python 3.11, the lock's version) and imported
with ``podman import``. The wheels come from the hashed image lock, fetched on the host by pip
and served to the build over loopback (inside the build, pip would not trust this machine's
TLS proxy); pip in the build checks every hash again. ``podman run`` cannot set rlimits here,
so a role runs in a working container with ``buildah run --isolation chroot``, which shares
the host's network: a role's port is a loopback port of this machine.

Both slow inputs are cached under :data:`CACHE` (``$XDG_CACHE_HOME`` or ``~/.cache``, then
``platform_assets/image``), keyed by what makes them: the base's rootfs by suite, variant,
packages and mirror; the wheels by the lock's hash. buildah's own layer cache (``--layers``)
keeps the built layers, so a second build of the same files takes seconds.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from platform_assets_tests.support.paths import REPO

CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "platform_assets" / "image"
)
IMAGE_LOCK = REPO / "requirements.image.lock"
SUITE = "bookworm"
DEBOOTSTRAP = [
    "--variant=minbase",
    "--include=python3,python3-venv,ca-certificates",
]
TOOLS = ("buildah", "podman", "debootstrap")


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def debian_mirror() -> str:
    """The first Debian archive URI of this machine's apt sources (deb822 or one-line)."""
    sources = [
        *sorted(Path("/etc/apt").glob("sources.list.d/*.sources")),
        Path("/etc/apt/sources.list"),
        *sorted(Path("/etc/apt").glob("sources.list.d/*.list")),
    ]
    for source in sources:
        if not source.is_file():
            continue
        text = source.read_text()
        for uri in re.findall(r"^URIs:\s*(\S+)", text, re.MULTILINE) + re.findall(
            r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.MULTILINE
        ):
            if "security" not in uri and uri.rstrip("/").endswith("/debian"):
                return uri
    return "http://deb.debian.org/debian"


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _run(command: Sequence[str], timeout: float, **kwargs) -> str:
    done = subprocess.run(
        list(command), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:3])} ... exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


def base_image() -> str:
    """``localhost/platform-assets-base:<key>``: a debootstrap bookworm, made once per key (the
    rootfs tarball is cached, then imported again if the local image store lost it)."""
    mirror = debian_mirror()
    key = _key(SUITE, *DEBOOTSTRAP, mirror)
    name = f"localhost/platform-assets-base:{key}"
    if subprocess.run(["podman", "image", "exists", name], check=False).returncode == 0:
        return name
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"{SUITE}-{key}.tar"
    if not tarball.exists():
        rootfs = CACHE / f"{SUITE}-{key}.rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        _run(["debootstrap", *DEBOOTSTRAP, SUITE, str(rootfs), mirror], timeout=1800)
        partial = tarball.with_suffix(".tar.partial")
        _run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], timeout=600)
        partial.rename(tarball)
        shutil.rmtree(rootfs, ignore_errors=True)
    _run(["podman", "import", str(tarball), name], timeout=600)
    return name


def wheels() -> Path:
    """A folder with every wheel of the image lock, fetched (hashes checked) once per lock."""
    folder = CACHE / "wheels" / _key(IMAGE_LOCK.read_text())
    complete = folder / ".complete"
    if not complete.exists():
        folder.mkdir(parents=True, exist_ok=True)
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--require-hashes",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.11",
                "-r",
                str(IMAGE_LOCK),
                "-d",
                str(folder),
            ],
            timeout=1800,
        )
        complete.touch()
    return folder


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on loopback (a flat index pip reads with find-links). The port is
    the same for the same folder when it is free: the URL is a build argument, and a new one
    would miss buildah's layer cache."""
    handler = functools.partial(_QuietFiles, directory=str(folder))
    try:
        stable = 20000 + int(_key(str(folder)), 16) % 20000
        server = http.server.ThreadingHTTPServer(("127.0.0.1", stable), handler)
    except OSError:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class BuiltImage:
    name: str
    base: str
    seconds: float
    base_seconds: float
    wheels_seconds: float

    def size_bytes(self) -> int:
        return int(_run(["podman", "image", "inspect", "--format", "{{.Size}}", self.name], 60))


def build(tag: str = "localhost/platform-assets:test") -> BuiltImage:
    """The Dockerfile built from this checkout on the debootstrap base, from the hashed lock."""
    started = time.monotonic()
    base = base_image()
    base_done = time.monotonic()
    folder = wheels()
    wheels_done = time.monotonic()
    with serve_folder(folder) as url:
        _run(
            [
                "buildah",
                "bud",
                "--isolation",
                "chroot",
                "--layers",
                "--build-arg",
                f"BASE_IMAGE={base}",
                "--build-arg",
                f"PIP_FIND_LINKS={url}",
                "--build-arg",
                "PIP_NO_INDEX=1",
                "-t",
                tag,
                str(REPO),
            ],
            timeout=3600,
        )
    return BuiltImage(
        tag, base, time.monotonic() - wheels_done, base_done - started, wheels_done - base_done
    )


class Container:
    """A working container of an image: its roles run with ``buildah run``, each in its own
    process group so that stopping one stops every process it started."""

    def __init__(self, image: str, volumes: Mapping[str, str] | None = None):
        self.id = _run(["buildah", "from", image], timeout=300).strip()
        self.volumes = dict(volumes or {})
        self.processes: list[subprocess.Popen] = []

    def _command(self, env: Mapping[str, str], *args: str) -> list[str]:
        command = ["buildah", "run", "--isolation", "chroot", "--user", "platform"]
        for host, inside in self.volumes.items():
            command += ["--volume", f"{host}:{inside}"]
        for name, value in env.items():
            command += ["--env", f"{name}={value}"]
        return [*command, self.id, "--", *args]

    def start(self, env: Mapping[str, str], *args: str, log: Path) -> subprocess.Popen:
        with log.open("w") as output:
            process = subprocess.Popen(
                self._command(env, *args),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def run(self, env: Mapping[str, str], *args: str, timeout: float = 120):
        return subprocess.run(
            self._command(env, *args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def remove(self) -> None:
        for process in self.processes:
            for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
                try:
                    os.killpg(process.pid, sig)  # the whole group: buildah and the role's tree
                except ProcessLookupError:
                    continue
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=wait)
        subprocess.run(["buildah", "rm", self.id], capture_output=True, check=False, timeout=120)
