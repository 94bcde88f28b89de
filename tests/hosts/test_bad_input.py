"""A host that cannot be read over SSH is one sentence naming it and the cause, a non-zero exit, no thread or
process left behind, and no other host affected. Every case is produced by the real thing: an address nobody
has, a port nobody listens on, a key sshd does not know, known_hosts files without or with another key, a
remote command that is missing or prints noise."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from netcon.core.aioloop import stop_loop
from netcon.core.hosts.base import HostUnreachable
from netcon.core.hosts.protocol import PROTOCOL
from netcon.core.hosts.remote import RemoteHost
from netcon.core.hosts.session import NOISE_LINES
from netcon.core.hosts.ssh import SshSettings
from netcon.core.hosts.target import parse_target
from netcon.core.lab import ssh as lab_ssh
from netcon.core.lab.state import LabState
from tests.hosts.lab_ssh import eventually, netcon, settled, sshd_stopped


@dataclass(frozen=True)
class Case:
    target: str
    config: str
    said: str  # the whole sentence, after "netcon: "
    netcon: str = "netcon"


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def cases(ssh_lab: LabState, tmp_path_factory) -> dict[str, Case]:
    """The lab's ssh config with one thing wrong in each copy, and remote commands that are not netcon."""
    files = tmp_path_factory.mktemp("ssh")
    config = Path(lab_ssh.config_path(ssh_lab)).read_text()
    known = lab_ssh.known_hosts_path(ssh_lab)
    h2 = ssh_lab.hosts[1]
    target = lab_ssh.target(h2)

    def variant(name: str, old: str, new: str) -> str:
        assert old in config
        (files / name).write_text(config.replace(old, new))
        return str(files / name)

    other_key = keygen(files / "not_authorized")
    (files / "empty_known_hosts").write_text("")
    other_host_key = keygen(files / "other_host_key").with_suffix(".pub").read_text().split()[:2]
    (files / "changed_known_hosts").write_text(f"{h2.netns},{h2.address} {' '.join(other_host_key)}\n")
    # a remote that prints noise and never greets (what a chatty login script or another program does); the
    # lab's sshd runs no login script of the user's, so the hosts.toml way to name the remote command is used
    garbage = files / "garbage"
    garbage.write_text("#!/bin/sh\nwhile :; do echo 'Welcome to h2!'; done\n")
    garbage.chmod(0o755)
    # a netcon of another protocol: only one netcon exists, so a script stands in for a future one's greeting
    future = files / "future-netcon"
    future.write_text(
        '#!/bin/sh\necho \'{"netcon": "netcon-stdio", "protocol": 99, "version": "9.0"}\'\nexec cat >/dev/null\n'
    )
    future.chmod(0o755)
    unused = str(ipaddress.ip_network(ssh_lab.underlay)[250])
    lab = lab_ssh.config_path(ssh_lab)
    return {
        "unreachable": Case(
            f"ssh://root@{unused}", lab, f"ssh://root@{unused}: no route to it (nothing answers at its address)."
        ),
        "wrong port": Case(
            f"{target}:2222", lab, f"{target}:2222: nothing accepts SSH connections on port 2222 (connection refused)."
        ),
        "auth failure": Case(
            target,
            variant("auth", f"IdentityFile {lab_ssh.key_path(ssh_lab)}", f"IdentityFile {other_key}"),
            f"{target} refused the login: no key offered was accepted (netcon asks for no password: load the key "
            "into ssh-agent or name it with IdentityFile in the ssh config).",
        ),
        "unknown host key": Case(
            target,
            variant("unknown", f"UserKnownHostsFile {known}", f"UserKnownHostsFile {files}/empty_known_hosts"),
            f"{target}: its host key is not in {files}/empty_known_hosts; netcon never accepts an unknown key by "
            "itself: check it and add it (ssh to the host once, or ssh-keyscan into known_hosts).",
        ),
        "changed host key": Case(
            target,
            variant("changed", f"UserKnownHostsFile {known}", f"UserKnownHostsFile {files}/changed_known_hosts"),
            f"{target}: its host key has CHANGED since it was recorded in {files}/changed_known_hosts; netcon "
            "refuses it (the host was reinstalled, or someone is in the middle): check it, then replace the line "
            "with ssh-keygen -R.",
        ),
        "no netcon": Case(
            target,
            lab,
            f"netcon is not installed on {target} (the command /nonexistent/netcon was not found there): install "
            "netcon",
            netcon="/nonexistent/netcon",
        ),
        "other protocol": Case(
            target,
            lab,
            f"{target} runs netcon 9.0 speaking protocol 99, this one speaks {PROTOCOL}: install netcon",
            netcon=str(future),
        ),
        "garbage": Case(
            target,
            lab,
            f"{target} printed {NOISE_LINES} lines that are not netcon's greeting (first: 'Welcome to h2!'): a "
            "login script writing to stdout, or not netcon.",
            netcon=str(garbage),
        ),
    }


SSH_CASES = ("unreachable", "wrong port", "auth failure", "unknown host key", "changed host key")


@pytest.mark.parametrize("name", SSH_CASES)
def test_the_command_line_says_which_host_and_why(name, cases, ssh_lab):
    case = cases[name]
    known = {p: p.read_text() for p in Path(case.config).parent.glob("*known_hosts")}
    shown = netcon("--ssh-config", case.config, "--host", case.target, "show", "veths", "--json")
    assert (shown.returncode, shown.stdout, shown.stderr) == (1, "", f"netcon: {case.said}\n")
    assert {p: p.read_text() for p in known} == known  # a refused key is never written down
    assert settled(ssh_lab) == []


@pytest.mark.parametrize("name", [*SSH_CASES, "no netcon", "other protocol", "garbage"])
def test_the_core_says_which_host_and_why_and_leaves_no_thread(name, cases, ssh_lab):
    case = cases[name]
    before = set(threading.enumerate())
    host = RemoteHost(parse_target(case.target), settings=SshSettings(case.config), netcon=case.netcon)
    try:
        with pytest.raises(HostUnreachable) as raised:
            host.snapshot()
        assert str(raised.value).startswith(case.said), str(raised.value)
        assert host.error == str(raised.value) and host.down_since is not None
    finally:
        host.close()
        stop_loop()
    assert eventually(lambda: set(threading.enumerate()) - before, lambda extra: not extra, 5) == set()
    assert settled(ssh_lab, also=case.netcon if case.netcon.startswith("/") else None) == []


def test_one_bad_host_leaves_the_others_readable(cases, ssh_lab, tmp_path):
    """hosts.toml adds h1 through a command printing a banner first (skipped: it then runs netcon), h2 with no
    netcon there and h2 through a command that only prints noise; the lab's own h1 and h2 stay readable."""
    h2 = ssh_lab.hosts[1]
    noisy = tmp_path / "noisy"
    noisy.write_text("#!/bin/sh\necho 'Last login: today'\necho '{\"motd\": 1}'\nexec netcon \"$@\"\n")
    noisy.chmod(0o755)
    (tmp_path / "netcon").mkdir()
    (tmp_path / "netcon" / "hosts.toml").write_text(
        # targets by the config's other alias (h1, h2), so they are not merged with the lab's own entries
        f'[[host]]\nname = "noisy"\nssh = "ssh://root@h1"\nnetcon = "{noisy}"\n\n'
        f'[[host]]\nname = "bare"\nssh = "ssh://root@h2"\nnetcon = "/nonexistent/netcon"\n\n'
        f'[[host]]\nname = "chatty"\nssh = "ssh://root@{h2.netns}:22"\nnetcon = "{cases["garbage"].netcon}"\n'
    )
    config = lab_ssh.config_path(ssh_lab)
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    shown = netcon("--ssh-config", config, "cluster", "status", "--lab", ssh_lab.prefix, "--json", env=env)
    assert shown.returncode == 1, shown.stderr
    table = {r["name"]: r for r in json.loads(shown.stdout)}
    assert [name for name, r in table.items() if r["reachable"]] == ["h1", "h2", "noisy"]
    assert (
        table["noisy"]["containers"] == table["h1"]["containers"] and table["noisy"]["subnet"] == table["h1"]["subnet"]
    )
    assert table["bare"]["error"].startswith(
        "netcon is not installed on ssh://root@h2 (the command /nonexistent/netcon was not found there)"
    )
    assert table["chatty"]["error"] == cases["garbage"].said.replace(lab_ssh.target(h2), f"ssh://root@{h2.netns}:22")
    assert shown.stderr == ""  # with --json the rows say it (the table prints their errors on stderr)
    assert settled(ssh_lab, also=str(tmp_path)) == []


def test_a_host_cut_off_is_a_row_and_a_finding_the_others_answer(ssh_lab):
    h2 = ssh_lab.hosts[1]
    with sshd_stopped(ssh_lab, h2):
        status = netcon("cluster", "status", "--lab", ssh_lab.prefix, "--json")
        doctor = netcon("cluster", "doctor", "--lab", ssh_lab.prefix, "--json")
    assert status.returncode == 1, status.stderr
    first, second = json.loads(status.stdout)
    assert first["reachable"] and first["subnet"] and first["vtep_mac"] and first["errors"] == 0
    assert (second["name"], second["reachable"], second["containers"], second["subnet"]) == ("h2", False, None, None)
    assert second["error"] == (
        f"{lab_ssh.target(h2)}: nothing accepts SSH connections on port 22 (connection refused)."
    )
    assert doctor.returncode == 1
    report = json.loads(doctor.stdout)
    hosts = {h["host"]: h for h in report["hosts"]}
    (finding,) = hosts["h2"]["findings"]
    assert (finding["id"], finding["severity"], finding["host"]) == ("host-unreachable", "error", "h2")
    assert not [f for f in hosts["h1"]["findings"] if f["severity"] == "error"]
    assert settled(ssh_lab) == []
