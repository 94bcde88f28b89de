"""``netcon lab up --ssh``: a real sshd (Debian's openssh-server) inside each lab host's namespace, on its
underlay address, so netcon's remote hosts are tested over real SSH on one machine.

Everything lives under the lab's directory and goes with ``lab down``: each host's host key and sshd config
(``<host>/sshd/``), one lab key pair, the lab's known_hosts (each host's key under its name and address) and
the lab's ssh config (one ``Host`` entry per lab host: address, user, identity, known_hosts), which
``netcon --ssh-config FILE`` and ``ssh -F FILE`` read. No system sshd is started or touched: each lab sshd is
started by netcon with ``nsenter --net=`` and its own config, and runs ``netcon`` from this netcon's own
installation (``SetEnv PATH``), so ``netcon serve --stdio`` there is this checkout's, and writes the audit
log of that lab host (``<host>/audit.jsonl``, ``audit_log``), as a machine of its own would: the changes and
refusals asked over SSH are recorded there, not in the log of whoever runs the lab.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import asyncssh

from netcon.core.errors import NetconError
from netcon.core.flannel.subnet_file import SUBNET_FILE_ENV
from netcon.core.lab import overlay, procs
from netcon.core.lab.state import LabHost, LabState
from netcon.core.netns import OWN_NETNS, bind_netns, netns_inode

USER = "root"
SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = "/run/sshd"  # sshd's privilege separation directory; Debian's service creates it on start


def ssh_dir(state: LabState) -> str:
    return os.path.join(state.directory, "ssh")


def config_path(state: LabState) -> str:
    return os.path.join(ssh_dir(state), "config")


def key_path(state: LabState) -> str:
    return os.path.join(ssh_dir(state), "id_ed25519")


def known_hosts_path(state: LabState) -> str:
    return os.path.join(ssh_dir(state), "known_hosts")


def root_netns_path(state: LabState) -> str:
    """The machine's root netns, bind-mounted where a netcon started by a lab sshd finds it (NETCON_ROOT_NETNS),
    so it names veth peers there "root" as netcon in the root namespace does. Unmounted by lab down."""
    return os.path.join(ssh_dir(state), "root-netns")


def host_dir(host: LabHost) -> str:
    return os.path.join(host.directory, "sshd")


def audit_log(host: LabHost) -> str:
    """Where the netcon a lab sshd starts records changes and refusals (NETCON_AUDIT_LOG of its sessions)."""
    return os.path.join(host.directory, "audit.jsonl")


def target(host: LabHost) -> str:
    return f"ssh://{USER}@{host.netns}"


def _write(path: str, text: str, mode: int = 0o644) -> None:
    fd = os.open(f"{path}.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(f"{path}.tmp", path)


def _key(path: str) -> asyncssh.SSHKey:
    """The ed25519 key at ``path``, made (with its .pub) when missing."""
    if os.path.exists(path):
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key("ssh-ed25519", comment=f"netcon lab {os.path.basename(path)}")
    _write(path, key.export_private_key().decode(), 0o600)
    _write(f"{path}.pub", key.export_public_key().decode())
    return key


def host_key(host: LabHost) -> asyncssh.SSHKey:
    return _key(os.path.join(host_dir(host), "ssh_host_ed25519_key"))


def write_files(state: LabState) -> None:
    """The lab key pair, each host's host key and sshd config, the known_hosts file and the ssh config."""
    os.makedirs(ssh_dir(state), mode=0o700, exist_ok=True)
    bind_netns(OWN_NETNS, root_netns_path(state))
    client = _key(key_path(state))
    authorized = client.export_public_key().decode()
    known, entries = [], []
    netcon_dir = os.path.dirname(sys.executable)  # this netcon's installation: its venv's bin holds netcon
    for host in state.hosts:
        os.makedirs(host_dir(host), mode=0o700, exist_ok=True)
        key = host_key(host)
        _write(os.path.join(host_dir(host), "authorized_keys"), authorized, 0o600)
        _write(os.path.join(host_dir(host), "sshd_config"), _sshd_config(state, host, netcon_dir))
        known.append(f"{host.netns},{host.address} {key.export_public_key().decode().split(' #')[0].strip()}")
        entries.append(
            f"Host {host.netns} {host.name}\n"
            f"    HostName {host.address}\n"
            f"    User {USER}\n"
            f"    Port 22\n"
            f"    IdentityFile {key_path(state)}\n"
            f"    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {known_hosts_path(state)}\n"
            f"    HostKeyAlias {host.netns}\n"
            f"    StrictHostKeyChecking yes\n"
            f"    BatchMode yes\n"
        )
    _write(known_hosts_path(state), "\n".join(known) + "\n")
    _write(config_path(state), f"# netcon lab {state.prefix}: removed by netcon lab down\n" + "\n".join(entries))


def _sshd_config(state: LabState, host: LabHost, netcon_dir: str) -> str:
    """Its address, keys and logins only; the session gets this netcon on its PATH, the host's own dockerd as
    DOCKER_HOST, the machine's root netns, the host's own audit log and its flannel agent's subnet.env (what a
    netcon on a machine of its own would see)."""
    d = host_dir(host)
    path = f"{netcon_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env = " ".join(
        (
            f"PATH={path}",
            f"DOCKER_HOST={host.docker_host}",
            f"NETCON_ROOT_NETNS={root_netns_path(state)}",
            f"NETCON_AUDIT_LOG={audit_log(host)}",
            f"{SUBNET_FILE_ENV}={overlay.subnet_file(host)}",
        )
    )
    return f"""# netcon lab host {host.name}: its own sshd, in its netns, on its underlay address
ListenAddress {host.address}
Port 22
HostKey {d}/ssh_host_ed25519_key
AuthorizedKeysFile {d}/authorized_keys
PidFile {d}/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
MaxStartups 64
ClientAliveInterval 5
SetEnv {env}
"""


def start_sshd(host: LabHost, timeout: float = 15) -> int:
    """sshd in the host's netns, in the foreground of its own session (so its pid is the daemon's)."""
    nsenter = procs.require_binary("nsenter", "util-linux")
    if not os.path.exists(SSHD):
        raise NetconError(f"{SSHD} is not installed (Debian package openssh-server): lab up --ssh needs it.")
    os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
    proc = procs.spawn(
        [nsenter, f"--net={host.netns_path}", SSHD, "-D", "-e", "-f", os.path.join(host_dir(host), "sshd_config")],
        os.path.join(host_dir(host), "sshd.log"),
    )
    return procs.wait_ready(
        proc,
        lambda: os.path.exists(os.path.join(host_dir(host), "sshd.pid")),
        timeout,
        f"sshd for lab host {host.name} did not start; see {host_dir(host)}/sshd.log.",
    )


def sshd_up(host: LabHost) -> bool:
    return procs.owned(host.sshd_pid, host_dir(host))


def session_pids(host: LabHost) -> list[int]:
    """The host's sshd and every sshd of its sessions (whose command line sshd rewrites, so they are found by
    their namespace): what ``stop_sshd`` ends, and what a test kills to cut the host off."""
    try:
        inode = netns_inode(host.netns_path)
    except OSError:
        return procs.processes_mentioning(host_dir(host))
    return sorted(set(procs.processes_mentioning(host_dir(host))) | set(_sshd_in(inode)))


def _sshd_in(inode: int) -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() != "sshd":
                    continue
            if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                yield int(entry)
        except OSError:
            continue


def stop_sshd(host: LabHost) -> None:
    procs.stop(session_pids(host))
