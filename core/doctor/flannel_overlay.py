"""What the flannel checks share: the overlay as read (etcd's view, the config, this host's flannel device),
the remote leases this host must reach, and the device's underlay."""

from __future__ import annotations

from dataclasses import dataclass

from netcon.core.doctor.facts import FlannelView, HostEvidence
from netcon.core.flannel.agent import remote_of
from netcon.core.flannel.config import FlannelConfig
from netcon.core.flannel.vxlan import Remote, VxlanState, device_name


@dataclass(frozen=True)
class Overlay:
    """What the flannel checks need, all read: etcd's view with its config, and this host's flannel device."""

    view: FlannelView
    config: FlannelConfig
    state: VxlanState
    name: str  # flannel.<VNI>


def checked(facts: HostEvidence) -> Overlay | None:
    """The overlay when flannel is checked on this host (etcd read, a config, the kernel side read), else None."""
    view, state = facts.flannel, facts.vxlan
    if view is None or view.config is None or state is None:
        return None
    return Overlay(view, view.config, state, device_name(view.config.vni))


def remotes_of(facts: HostEvidence, overlay: Overlay) -> list[Remote]:
    """The vxlan leases of the other hosts: each needs its neighbour, FDB and route entry here."""
    own = facts.own_lease
    return [
        r
        for r in map(remote_of, overlay.view.leases)
        if r is not None and (own is None or r.subnet != own.canonical_subnet)
    ]


def underlay_of(facts: HostEvidence) -> tuple[str, tuple[str, ...]] | None:
    """(name, addresses) of the device the flannel device sends through, if known."""
    device = facts.vxlan.device if facts.vxlan else None
    if device is None or device.link_index is None or facts.snapshot is None:
        return None
    link = next((i for i in facts.snapshot.interfaces if i.ifindex == device.link_index), None)
    if link is None:
        return None
    return link.ifname, tuple(a.split("/")[0] for a in link.addresses)
