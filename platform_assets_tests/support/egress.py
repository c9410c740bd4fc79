"""Zero egress, watched where it happens: a command run under ``strace -f`` (every process and
thread it starts, native code included), and each outbound attempt it made.

An attempt is a ``connect`` or ``sendto`` to an IPv4/IPv6 address that is not loopback, or
anything to port 53 (a DNS lookup, whichever resolver sent it). Unix sockets are local.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

_CALL = re.compile(r"^(?P<pid>\d+)\s+(?P<call>connect|sendto)\((?P<args>.*)$")
_INET = re.compile(r'sin_port=htons\((?P<port>\d+)\), sin_addr=inet_addr\("(?P<addr>[^"]+)"\)')
_INET6 = re.compile(
    r'sin6_port=htons\((?P<port>\d+)\).*?inet_pton\(AF_INET6, "(?P<addr>[^"]+)"', re.DOTALL
)
_DNS_QUERY = re.compile(r"\\1\\0\\0\\1\\0\\0\\0\\0\\0\\0")  # a DNS header: RD, one question


def _loopback(addr: str) -> bool:
    return (
        addr.startswith("127.")
        or addr in ("0.0.0.0", "::", "::1")
        or addr.startswith("::ffff:127.")
    )


def outbound_attempts(log: Path) -> list[str]:
    """The lines of an ``strace -f -e trace=connect,sendto`` log that left the machine (or
    tried to), one per attempt."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        match = _CALL.match(line)
        if not match:
            continue
        args = match["args"]
        address = _INET.search(args) or _INET6.search(args)
        if address and (address["port"] == "53" or not _loopback(address["addr"])):
            found.append(line)
        elif match["call"] == "sendto" and _DNS_QUERY.search(args) and "AF_UNIX" not in args:
            found.append(line)  # a query on a connected UDP socket (no address in the call)
    return found


def strace_command(log: Path) -> list[str]:
    """The prefix that runs a command under the watch, writing ``log``."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.fail("strace is not installed (.ci/run installs it: apt-get install -y strace)")
    return [strace, "-f", "-qq", "-e", "trace=connect,sendto", "-o", str(log)]


def run_watched(args: list[str], log: Path, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(args, **kwargs)`` under the watch; read the attempts with
    :func:`outbound_attempts`."""
    return subprocess.run([*strace_command(log), *args], **kwargs)
