"""flannel checks of the ``flannel.<VNI>`` device: it exists, agrees with the config and the lease, is up, and
the firewall lets VXLAN packets reach it."""

from __future__ import annotations

from netcon.core.doctor import iptables
from netcon.core.doctor.facts import HostEvidence
from netcon.core.doctor.findings import ERROR, Finding
from netcon.core.doctor.fixes import delete_rule, in_netns, restart_flannel
from netcon.core.doctor.flannel_overlay import checked, remotes_of, underlay_of
from netcon.core.flannel.config import FlannelConfig
from netcon.core.flannel.vxlan import VxlanDevice


def vxlan_device(facts: HostEvidence) -> list[Finding]:
    overlay = checked(facts)
    if overlay is None:
        return []
    config, name, device = overlay.config, overlay.name, overlay.state.device
    if device is None:
        return [
            Finding(
                "vxlan-device",
                ERROR,
                name,
                (("device", "missing"), ("VNI in config", str(config.vni))),
                f"{name} does not exist: this host has no VXLAN endpoint, so nothing reaches or leaves its containers "
                f"across hosts. The flannel agent creates it when it starts.",
                restart_flannel(facts.target),
            )
        ]
    evidence = (
        ("VNI", str(device.vni)),
        ("local", device.local or "-"),
        ("port", str(device.port)),
        ("up", "yes" if device.up else "no"),
        ("MAC", device.mac),
    )
    wrong = _disagreements(facts, config, device)
    if wrong:
        return [
            Finding(
                "vxlan-device",
                ERROR,
                name,
                (*evidence, ("disagrees", "; ".join(wrong))),
                f"{name} disagrees with the flannel config or this host's lease ({'; '.join(wrong)}): the other hosts "
                f"send to what the lease says, so packets are dropped or never leave. Restarting the agent recreates "
                f"the device to match.",
                (in_netns(facts.target, "ip", "link", "del", name), *restart_flannel(facts.target)),
            )
        ]
    if not device.up:
        return [
            Finding(
                "vxlan-device",
                ERROR,
                name,
                evidence,
                f"{name} is administratively down: the routes through it are unusable, so containers on this host "
                f"reach no container on another host, and VXLAN packets arriving for it are dropped.",
                (in_netns(facts.target, "ip", "link", "set", name, "up"),),
            )
        ]
    return []


def _disagreements(facts: HostEvidence, config: FlannelConfig, device: VxlanDevice) -> list[str]:
    """Where the device differs from the config, the lease, or its underlay's addresses, one phrase each."""
    lease, wrong = facts.own_lease, []
    if device.vni != config.vni:
        wrong.append(f"VNI {device.vni} is not the config's {config.vni}")
    if device.port != config.port:
        wrong.append(f"port {device.port} is not the config's {config.port}")
    if lease is not None and device.local != lease.attrs.public_ip:
        wrong.append(f"local {device.local} is not the lease's PublicIP {lease.attrs.public_ip}")
    if lease is not None and lease.attrs.vtep_mac and device.mac != lease.attrs.vtep_mac:
        wrong.append(f"MAC {device.mac} is not the lease's VtepMAC {lease.attrs.vtep_mac}")
    underlay = underlay_of(facts)
    if lease is not None and underlay and device.local not in underlay[1]:
        wrong.append(f"local {device.local} is not an address of its underlay device {underlay[0]}")
    return wrong


def vxlan_port_blocked(facts: HostEvidence) -> list[Finding]:
    overlay = checked(facts)
    device = overlay.state.device if overlay else None
    if overlay is None or facts.firewall is None or device is None:
        return []
    port, underlay = overlay.config.port, underlay_of(facts)
    remotes = remotes_of(facts, overlay)
    packet = iptables.Packet(
        in_iface=underlay[0] if underlay else None,
        proto="udp",
        dport=port,
        src=remotes[0].public_ip if remotes else None,
        dst=device.local,
    )
    v = iptables.verdict(facts.firewall, "INPUT", packet)
    if v.passes:
        return []
    if v.decided_by.startswith("policy"):
        fix = in_netns(facts.target, "iptables", "-I", "INPUT", "-p", "udp", "--dport", str(port), "-j", "ACCEPT")
    else:
        fix = delete_rule(facts.target, v.decided_by)
    return [
        Finding(
            "vxlan-port-blocked",
            ERROR,
            f"iptables INPUT udp/{port}",
            (
                ("VXLAN port", str(port)),
                ("packet", f"udp {packet.src or 'any'} -> {packet.dst}:{port} in {packet.in_iface or 'any'}"),
                ("verdict", f"{v.action} by {v.decided_by}"),
            ),
            f"The INPUT chain drops VXLAN packets (UDP port {port}) arriving from the other hosts: everything they "
            f"send to this host's containers over the overlay is discarded, while this host's own packets still "
            f"leave, so connections look one-sided.",
            (fix,),
        )
    ]
