"""flannel checks: etcd, this host's lease, the ``flannel.<VNI>`` device, per remote lease the neighbour, FDB
and route entries flanneld programs, stale entries, docker0 inside the lease, and the VXLAN port's firewall.

The checks live by what they examine (``flannel_leases``, ``flannel_device``, ``flannel_entries``, sharing
``flannel_overlay``); this table is their order."""

from __future__ import annotations

from netcon.core.doctor.flannel_device import vxlan_device, vxlan_port_blocked
from netcon.core.doctor.flannel_entries import remote_entries, stale_entries
from netcon.core.doctor.flannel_leases import (
    docker0_outside_lease,
    lease_expiring,
    lease_missing,
    lease_publicip_mismatch,
)

CHECKS = (
    (("lease-missing",), lease_missing),
    (("lease-publicip-mismatch",), lease_publicip_mismatch),
    (("lease-expiring",), lease_expiring),
    (("vxlan-device",), vxlan_device),
    (("vxlan-neigh-missing", "vxlan-fdb-missing", "vxlan-route-missing"), remote_entries),
    (("vxlan-stale-entry",), stale_entries),
    (("docker0-outside-lease",), docker0_outside_lease),
    (("vxlan-port-blocked",), vxlan_port_blocked),
)
