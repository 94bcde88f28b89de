"""Plain reads of /proc for the ports view: socket owners, processes and their ancestry, socket tables.

/proc is cheaper than psutil here (``tests/perf/bench_procfs.py``: psutil takes ~2.8x the CPU per process,
and names a process by its full name where ``ss`` and ``ps`` show the kernel's 15-character comm): one pass
over ``/proc/*/fd`` maps socket inodes to processes, and ``/proc/PID/...`` files give a process's parent,
user, command line and cgroup. ``/proc/PID/net/tcp`` shows the sockets of PID's network namespace without
entering it, but costs ~10 ms per namespace (see ``core.netlink.sockdiag``), so it only stands in when
sock_diag is not available. Processes come and go while this runs; a vanished process or an unreadable
entry is skipped and counted in a ``Skipped``, never raised.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import os
import pwd
import re
from dataclasses import dataclass, field

from netcon.core.errors import NotFound

# Kernel TCP states (include/net/tcp_states.h), the "st" column of /proc/net/{tcp,udp}[6] and what sock_diag
# filters on. ``ss -l`` shows TCP LISTEN and unconnected UDP, which is in TCP_CLOSE.
TCP_LISTEN, TCP_CLOSE = 0x0A, 0x07
TABLES = (
    ("tcp", 4, "tcp", TCP_LISTEN),
    ("tcp", 6, "tcp6", TCP_LISTEN),
    ("udp", 4, "udp", TCP_CLOSE),
    ("udp", 6, "udp6", TCP_CLOSE),
)
STATE_NAMES = {TCP_LISTEN: "LISTEN", TCP_CLOSE: "UNCONN"}
_CONTAINER_ID = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")
SHIM_PREFIX = "containerd-shim"


@dataclass
class Skipped:
    """How many /proc entries were passed over: processes that vanished mid-read, entries we may not read."""

    vanished: int = 0
    unreadable: int = 0

    def count(self, error: BaseException) -> None:
        if (
            isinstance(error, (FileNotFoundError, ProcessLookupError, NotFound))
            or getattr(error, "errno", None) == errno.ESRCH
        ):
            self.vanished += 1
        else:
            self.unreadable += 1


@dataclass(frozen=True)
class RawSocket:
    """One row of /proc/PID/net/{tcp,udp}[6] in a listening state."""

    proto: str  # tcp or udp
    version: int  # 4 or 6
    address: str  # canonical text form ("0.0.0.0", "::", "::ffff:127.0.0.1")
    port: int
    state: str  # LISTEN or UNCONN
    inode: int
    v6only: bool | None = None  # IPV6_V6ONLY of an IPv6 socket; None when unknown (/proc does not show it)


@dataclass(frozen=True)
class ProcessInfo:
    """What ``ps`` shows of one process."""

    pid: int
    ppid: int
    name: str  # comm, as ss and ps -o comm show it
    cmdline: str  # argv joined by spaces; empty for kernel threads
    user: str
    uid: int = field(default=0, compare=False)


def _address(hex_addr: str, version: int) -> str:
    """/proc prints addresses as 32-bit words in host (little-endian) byte order."""
    raw = bytes.fromhex(hex_addr)
    if version == 4:
        return ".".join(str(b) for b in raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))


def parse_socket_table(text: str, proto: str, version: int, state: int) -> list[RawSocket]:
    out = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10 or int(parts[3], 16) != state:
            continue
        addr, port = parts[1].split(":")
        out.append(RawSocket(proto, version, _address(addr, version), int(port, 16), STATE_NAMES[state], int(parts[9])))
    return out


def listening_sockets(net_dir: str) -> list[RawSocket]:
    """Listening TCP and bound, unconnected UDP sockets of the netns whose ``/proc/.../net`` is ``net_dir``.

    Raises OSError (FileNotFoundError when the process behind ``net_dir`` is gone)."""
    out: list[RawSocket] = []
    for proto, version, table, state in TABLES:
        try:
            with open(f"{net_dir}/{table}", "rb") as f:
                text = f.read().decode("ascii", "replace")
        except FileNotFoundError:
            if version == 6 and os.path.exists(net_dir):  # IPv6 disabled: no tcp6/udp6 files
                continue
            raise
        out.extend(parse_socket_table(text, proto, version, state))
    return out


def pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def socket_owners(skipped: Skipped) -> dict[int, list[int]]:
    """Socket inode -> pids holding it open (ascending): one pass over every process's fd table."""
    owners: dict[int, list[int]] = {}
    readlink = os.readlink
    for pid in sorted(pids()):
        fd_dir = f"/proc/{pid}/fd"
        try:
            names = os.listdir(fd_dir)
        except OSError as error:
            skipped.count(error)
            continue
        for fd in names:
            try:
                target = readlink(f"{fd_dir}/{fd}")
            except OSError:  # the fd was closed meanwhile: not a skipped process
                continue
            if target.startswith("socket:["):
                holders = owners.setdefault(int(target[8:-1]), [])
                if not holders or holders[-1] != pid:
                    holders.append(pid)
    return owners


_users: dict[int, str] = {}


def _user(uid: int) -> str:
    if uid not in _users:
        try:
            _users[uid] = pwd.getpwuid(uid).pw_name
        except KeyError:
            _users[uid] = str(uid)
    return _users[uid]


def process_info(pid: int) -> ProcessInfo:
    """Name, parent, user and command line of ``pid``. Raises OSError when it is gone or unreadable."""
    with open(f"/proc/{pid}/status", "rb") as f:
        status = f.read().decode(errors="replace")
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        cmdline = f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    uid = int(fields["Uid"].split()[1])  # effective uid, as ps shows USER
    return ProcessInfo(
        pid=pid, ppid=int(fields["PPid"]), name=fields["Name"].strip(), cmdline=cmdline, user=_user(uid), uid=uid
    )


def ancestry(pid: int, known: dict[int, ProcessInfo] | None = None) -> tuple[ProcessInfo, ...]:
    """The chain from the oldest ancestor (pid 1 or a process reparented to 0) down to ``pid``, as the
    branches of ``ps -axf`` show it. Stops quietly where a process vanished; empty if ``pid`` itself is gone.
    ``known`` caches ProcessInfo across calls."""
    known = {} if known is None else known
    chain: list[ProcessInfo] = []
    while pid > 0 and len(chain) < 512:
        info = known.get(pid)
        if info is None:
            try:
                info = known[pid] = process_info(pid)
            except OSError:
                break
        chain.append(info)
        pid = info.ppid
    return tuple(reversed(chain))


def cgroup_container_ids(pid: int) -> set[str]:
    """64-hex ids in ``/proc/PID/cgroup`` (``/docker/<id>`` with cgroupfs, ``docker-<id>.scope`` with
    systemd). Raises OSError when the process is gone or unreadable."""
    with open(f"/proc/{pid}/cgroup", "rb") as f:
        return set(_CONTAINER_ID.findall(f.read().decode(errors="replace")))


def shim_container_id(chain: tuple[ProcessInfo, ...]) -> str | None:
    """The container id a ``containerd-shim`` ancestor serves (its ``-id`` argument), nearest first."""
    for info in reversed(chain[:-1]):
        if info.name.startswith(SHIM_PREFIX):
            args = info.cmdline.split()
            if "-id" in args and args.index("-id") + 1 < len(args):
                return args[args.index("-id") + 1]
    return None


def flag_values(cmdline: str) -> dict[str, str]:
    """``-name value`` pairs of a Go-style command line (docker-proxy's)."""
    args = cmdline.split()
    return {a.lstrip("-"): b for a, b in itertools.pairwise(args) if a.startswith("-") and not b.startswith("-")}
