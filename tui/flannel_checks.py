"""The Flannel pane's two header blocks as text: the config with flanneld's defaults marked, and this host's
checks (its lease, ``flannel.<VNI>``'s VNI and MTU, Docker's bridge inside the lease). Pure functions of what
the pane has read; the rules themselves come from ``core.flannel.host_rules``."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text

from netcon.core.flannel import host_rules
from netcon.core.flannel.config import FlannelConfig
from netcon.core.flannel.lease import Lease
from netcon.core.flannel.vxlan import VxlanDevice
from netcon.tui.flannel_rows import stored_keys

OK, BAD = ("✓", "green"), ("✗", "bold red")


def config_text(config: FlannelConfig | None, error: str | None, key: str, where: str) -> Text:
    if config is None:
        return Text(f"{key} ({where}): {error}", style="bold red")
    stored = stored_keys(config.text)
    text = Text()
    text.append("Config ", style="bold")
    text.append(f"{key}  pool {config.pool_size} subnets  (* flanneld's default)\n", style="dim")
    effective = config.effective()
    backend = effective.pop("Backend")
    parts = [(name, value, name.lower() not in stored) for name, value in effective.items()]
    parts += [
        ("Backend" if name == "Type" else name, value, f"backend.{name.lower()}" not in stored)
        for name, value in backend.items()
    ]
    for index, (name, value, default) in enumerate(parts):
        text.append(("  " if index else "") + f"{name} ")
        text.append(json.dumps(value) if isinstance(value, bool) else str(value), style="bold")
        if default:
            text.append("*", style="dim")
    return text


def summary_text(total: int, broken: int, shown: int | None, complete: dict[str, bool]) -> Text:
    """``Leases N (M shown)  K broken keys  remote entries complete for …`` and the legend, then ``This host``."""
    text = Text()
    text.append("Leases ", style="bold")
    text.append(f"{total}" + (f" ({shown} shown)" if shown is not None else ""))
    if broken:
        text.append(f"  {broken} broken key{'s' if broken > 1 else ''}", style="bold red")
    if complete:
        text.append(f"  remote entries complete for {sum(complete.values())} of {len(complete)}")
    text.append("   ● this host  R reservation  ! broken\n", style="dim")
    text.append("This host ", style="bold")
    return text


def device_text(
    read: bool, device: VxlanDevice | None, ifname: str, config: FlannelConfig | None, want_mtu: int | None
) -> Text:
    """flannel.<VNI>: missing, or its VNI against the config's and its MTU against ``host_rules.expected_mtu``."""
    if not read:
        return Text(f"{ifname} …")
    if device is None:
        return Text(f"✗ {ifname} missing", style="bold red")
    want_vni = config.vni if config else device.vni
    text = Text(f"{ifname} VNI {device.vni} ")
    text.append(*(OK if device.vni == want_vni else BAD))
    if device.vni != want_vni:
        text.append(f" (config says {want_vni})", style="red")
    text.append(f" MTU {device.mtu} ")
    if want_mtu is None:
        text.append("?", style="dim")
    else:
        text.append(*(OK if device.mtu == want_mtu else BAD))
        if device.mtu != want_mtu:
            text.append(f" (want {want_mtu})", style="red")
    return text


def bridge_text(snapshot: Any, lease: Lease) -> Text:
    """Docker's bridge (``host_rules.docker_bridge``) and whether its address is inside the lease."""
    name = host_rules.docker_bridge(snapshot.networks if snapshot else ())
    bridge = next((i for i in snapshot.interfaces if i.ifname == name), None) if snapshot else None
    addresses = [a for a in bridge.addresses if ":" not in a] if bridge else []
    if not addresses:
        return Text(f"{name} has no IPv4 address", style="yellow")
    if host_rules.bridge_in_lease(addresses, lease):
        return Text.assemble(f"{name} {addresses[0]} inside the lease ", OK)
    return Text.assemble(f"{name} {addresses[0]} ", ("✗ not inside the lease", "bold red"))
