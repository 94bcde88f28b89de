"""The rules that tie one host to flannel's data, each in one place: which lease is this host's, what MTU its
``flannel.<VNI>`` should have, which bridge is Docker's and whether it sits inside the lease. The agent, the
doctor and the Flannel pane all call these, so they cannot disagree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from netcon.core.flannel.lease import Lease
from netcon.core.flannel.subnet_file import SubnetEnv
from netcon.core.flannel.vxlan import ENCAP_OVERHEAD
from netcon.core.model import Container, Network, Snapshot

DEFAULT_BRIDGE_NETWORK = "bridge"  # Docker's default network; its bridge is docker0 unless dockerd has --bridge
DEFAULT_BRIDGE = "docker0"


def own_lease(
    leases: Iterable[Lease],
    device_mac: str | None,
    addresses: Iterable[str],
    subnet_env: SubnetEnv | None = None,
) -> Lease | None:
    """This host's lease: the one announcing its flannel device's MAC (what the agent wrote), else one whose
    PublicIP is an address of this host, else the one its subnet.env names."""
    candidates = tuple(leases)
    if device_mac:
        mac = device_mac.lower()
        mine = next((lease for lease in candidates if lease.attrs.vtep_mac == mac), None)
        if mine is not None:
            return mine
    own = {a.split("/")[0] for a in addresses}
    mine = next((lease for lease in candidates if lease.attrs.public_ip in own), None)
    if mine is not None or subnet_env is None or subnet_env.lease_subnet is None:
        return mine
    return next((lease for lease in candidates if lease.canonical_subnet == subnet_env.lease_subnet), None)


def expected_mtu(underlay_mtu: int | None, subnet_env: SubnetEnv | None = None) -> int | None:
    """flannel.<VNI>'s MTU as the agent (and flanneld) sets it: the underlay's MTU less the VXLAN overhead;
    without the underlay, what subnet.env recorded; None when neither is known."""
    if underlay_mtu:
        return underlay_mtu - ENCAP_OVERHEAD
    return subnet_env.mtu if subnet_env is not None and subnet_env.mtu else None


def docker_bridge(networks: Iterable[Network]) -> str:
    """The bridge of Docker's default network (the one flannel's --bip moves into the lease)."""
    default = next((n for n in networks if n.name == DEFAULT_BRIDGE_NETWORK and n.bridge), None)
    return default.bridge if default is not None and default.bridge else DEFAULT_BRIDGE


def bridge_in_lease(addresses: Iterable[str], lease: Lease) -> bool:
    """True when one of the bridge's IPv4 addresses has its subnet inside the lease (docker0 with --bip)."""
    return any(ipaddress.IPv4Interface(a).network.subnet_of(lease.network) for a in addresses if ":" not in a)


def overlay_address(snapshot: Snapshot, container: Container, lease: Lease | None) -> str | None:
    """Where a container on this host is reached from other hosts over the overlay: its IPv4 inside this host's
    lease (docker0 with --bip hands those out, and flannel routes the lease to this host); without a lease
    known, its address on Docker's default network (the one --bip moves into the lease). None: it has none."""
    if lease is not None:
        inside = lease.network
        return next((ip for ip in container.ipv4 if ipaddress.IPv4Address(ip) in inside), None)
    default = next((n for n in snapshot.networks if n.name == DEFAULT_BRIDGE_NETWORK), None)
    ids = {container.id, *(c.id for c in snapshot.containers if c.name == container.netns_owner)}
    found = (a.ipv4 for a in default.attachments if a.container_id in ids and a.ipv4) if default else iter(())
    return next(found, None)
