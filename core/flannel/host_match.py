"""Whether this host's kernel matches its flannel lease, in one verdict per part: the lease found (by
``host_rules.own_lease``), ``flannel.<VNI>`` present with the config's VNI and the MTU ``host_rules.expected_mtu``
gives, Docker's bridge inside the lease (``host_rules.bridge_in_lease``). What the exporter exports; the rules
themselves stay in ``host_rules``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netcon.core.flannel import host_rules
from netcon.core.flannel.config import FlannelConfig
from netcon.core.flannel.lease import Lease
from netcon.core.flannel.subnet_file import SubnetEnv
from netcon.core.flannel.vxlan import VxlanDevice, device_name
from netcon.core.model import Snapshot


@dataclass(frozen=True)
class KernelMatch:
    lease: str | None  # this host's lease subnet, None when no lease is this host's
    device: str  # flannel.<VNI>
    device_present: bool
    vni_ok: bool
    mtu_ok: bool | None  # None: the expected MTU is not known (no underlay link, no subnet.env)
    bridge: str  # Docker's bridge (docker0 unless dockerd has --bridge)
    bridge_in_lease: bool

    @property
    def ok(self) -> bool:
        return (
            self.lease is not None
            and self.device_present
            and self.vni_ok
            and self.mtu_ok is not False
            and self.bridge_in_lease
        )


def kernel_match(
    config: FlannelConfig,
    leases: Iterable[Lease],
    snapshot: Snapshot,
    device: VxlanDevice | None,
    subnet_env: SubnetEnv | None = None,
) -> KernelMatch:
    """The verdicts for ``snapshot``'s host, ``device`` being what the kernel has as ``flannel.<VNI>``."""
    addresses = [a.split("/")[0] for i in snapshot.interfaces for a in i.addresses if ":" not in a]
    lease = host_rules.own_lease(leases, device.mac if device else None, addresses, subnet_env)
    underlay = next((i for i in snapshot.interfaces if device and i.ifindex == device.link_index), None)
    want_mtu = host_rules.expected_mtu(underlay.mtu if underlay else None, subnet_env)
    bridge = host_rules.docker_bridge(snapshot.networks)
    bridge_addresses = next((i.addresses for i in snapshot.interfaces if i.ifname == bridge), ())
    return KernelMatch(
        lease.subnet if lease else None,
        device_name(config.vni),
        device is not None,
        device is not None and device.vni == config.vni,
        None if want_mtu is None or device is None else device.mtu == want_mtu,
        bridge,
        lease is not None and host_rules.bridge_in_lease(bridge_addresses, lease),
    )
