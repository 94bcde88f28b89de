"""The narrow iptables exception the lab needs: with Docker's FORWARD policy DROP and br_netfilter loaded,
frames crossing the lab's underlay bridge are filtered by the root netns' FORWARD chain. The lab inserts
one ACCEPT for its own bridge (in DOCKER-USER when Docker made it) and deletes exactly that on teardown.

iptables has no stable library interface; its binary is run with an argument list, never through a shell.
"""

from __future__ import annotations

import shutil
import subprocess

from netcon.core.errors import NetconError


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("iptables")
    if not binary:
        raise NetconError("iptables is not installed (Debian package iptables).")
    return subprocess.run([binary, "-w", *args], capture_output=True, text=True)


def chain_exists(chain: str) -> bool:
    return _iptables("-S", chain).returncode == 0


def bridge_rule(bridge: str) -> list[str]:
    chain = "DOCKER-USER" if chain_exists("DOCKER-USER") else "FORWARD"
    return [chain, "-i", bridge, "-o", bridge, "-j", "ACCEPT", "-m", "comment", "--comment", f"netcon lab {bridge}"]


def present(rule: list[str]) -> bool:
    return _iptables("-C", *rule).returncode == 0


def insert(rule: list[str]) -> None:
    if present(rule):
        return
    result = _iptables("-I", *rule)
    if result.returncode != 0:
        raise NetconError(f"iptables refused the lab's ACCEPT rule: {result.stderr.strip()}.")


def delete(rule: list[str]) -> None:
    while present(rule):
        if _iptables("-D", *rule).returncode != 0:
            break


def accept_forwarding(netns_path: str) -> None:
    """The seed's ``iptables -P FORWARD ACCEPT`` on a lab host (its own netns, gone with the lab): dockerd
    set the policy to DROP, which drops containers' cross-host traffic arriving over flannel.1."""
    nsenter = shutil.which("nsenter") or "nsenter"
    result = subprocess.run(
        [nsenter, f"--net={netns_path}", shutil.which("iptables") or "iptables", "-w", "-P", "FORWARD", "ACCEPT"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise NetconError(f"iptables -P FORWARD ACCEPT failed in {netns_path}: {result.stderr.strip()}.")
