"""The proof: one probe, captured on every interface of the predicted path at once (``core.capture``, one
filter for the probe's own packets and the VXLAN that carries them), its netfilter path traced by the kernel
(``trace.nftrace``) where that is allowed, then each hop marked seen or not — and the first hop where the
probe was predicted but not seen is where it died, with the prediction's reason (or nftrace's verdict)
beside it.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass

from netcon.core.capture.bpf import compile_filter
from netcon.core.capture.layers import Icmp, IPv4, Layer, Tcp, Udp, Vxlan
from netcon.core.capture.ring import Endpoint
from netcon.core.capture.session import Capture, Packet
from netcon.core.context import HostContext
from netcon.core.errors import NetconError, ReadOnlyError
from netcon.core.netlink.nftables import TraceEvent
from netcon.core.trace import nftrace
from netcon.core.trace.hosts import Hosts, Netns
from netcon.core.trace.model import REPLY, REQUEST, FailedHop, Hop, Seen
from netcon.core.trace.probe import Answer, Identity, Probe
from netcon.core.trace.remote_proof import RemoteSightings, Sightings, remote_sightings

SETTLE_S = 0.15  # after the answer: the capture rings hand over their last blocks (50 ms) and late hops report


@dataclass(frozen=True)
class Proof:
    hops: tuple[Hop, ...]
    answer: Answer
    notes: tuple[str, ...]


def namespaces(hosts: Hosts) -> dict[tuple[str, str], Netns]:
    return {(view.name, ns.label): ns for view in hosts.views for ns in view.namespaces()}


def prove(
    ctx: HostContext,
    hosts: Hosts,
    source: Netns,
    hops: tuple[Hop, ...],
    target: tuple[str, str, int | None],
    wait: float,
    stop: threading.Event | None = None,
) -> Proof:
    """Send the probe to ``target`` (address, protocol, port) from ``source`` and mark every hop."""
    dst, proto, port = target
    endpoints = {
        (h.capture.netns, h.capture.ifname): Endpoint(h.capture.ifname, h.capture.netns, h.capture.label)
        for h in hops
        if h.capture is not None and h.over is None
    }
    probe = Probe.open(source.path, proto, dst, port)
    notes: list[str] = []
    remote: RemoteSightings = {}
    try:
        program = compile_filter(probe.identity.bpf)

        def send_and_capture() -> list[Packet]:
            with (
                Capture(list(endpoints.values()), program) as cap,
                remote_sightings(hosts, hops, probe.identity) as far,
            ):
                packets = _run(cap, probe, wait, stop)
            remote.update(far.seen)
            notes.extend(far.notes)
            return packets

        known = namespaces(hosts)
        visited = [known[(h.host, h.netns)] for h in hops if (h.host, h.netns) in known]
        paths = list(dict.fromkeys(ns.path for ns in visited))
        labels = list(dict.fromkeys(f"{ns.host.name} {ns.label}" for ns in visited))
        traced = nftrace.Traced({}, {})
        try:
            packets, traced = nftrace.traced(ctx, labels, paths, probe.identity, send_and_capture)
        except ReadOnlyError:
            notes.append("nftrace not used: adding its temporary rule is a change, refused in read-only mode")
            packets = send_and_capture()
        except nftrace.NftraceUnavailable as error:
            notes.append(f"nftrace not used: {error}")
            packets = send_and_capture()
    finally:
        probe.close()
    answer = probe.answer or Answer(False, "no reply", f"nothing came back within {wait:g} s")
    marked = _mark(hops, packets, probe.identity, remote)
    steps = _traced(known, traced, probe.identity)
    marked = tuple(
        dataclasses.replace(h, traced=steps.get((h.host, h.netns, h.direction))) if h.stage == "firewall" else h
        for h in marked
    )
    return Proof(marked, answer, tuple(notes))


def _run(cap: Capture, probe: Probe, wait: float, stop: threading.Event | None) -> list[Packet]:
    packets: list[Packet] = []
    probe.send()
    deadline = time.monotonic() + wait
    settle: float | None = None
    while time.monotonic() < (settle or deadline) and not (stop is not None and stop.is_set()):
        packets += cap.next(0.02)
        probe.poll(0)
        if probe.answer is not None and settle is None:
            settle = time.monotonic() + SETTLE_S
    return packets + drained(cap)


def drained(cap: Capture) -> list[Packet]:
    """What the capture's rings still hold."""
    return [
        Packet(s * 1_000_000_000 + ns, cap.sockets[i].endpoint, wire, data, out)
        for i, s, ns, wire, data, out in cap.drain()
    ]


def _inner(layers: tuple[Layer, ...], outer: bool) -> tuple[Layer, ...]:
    if outer:
        at = next((i for i, layer in enumerate(layers) if isinstance(layer, Vxlan)), None)
        return layers[at + 1 :] if at is not None else ()
    return layers


def _identify(layers: tuple[Layer, ...], identity: Identity) -> tuple[str, Seen] | None:
    """(request or reply, what was seen) when ``layers`` are the probe's packet, or an ICMP error quoting it
    (the answer to a UDP probe to a closed port: a reply)."""
    ip = next((x for x in layers if isinstance(x, IPv4)), None)
    if ip is None:
        return None
    error: Icmp | None = None
    for layer in layers:
        if isinstance(layer, Icmp) and layer.is_error:
            error = layer
            continue
        echo = isinstance(layer, Icmp) and layer.kind in ("echo request", "echo reply")
        if isinstance(layer, Icmp) and echo and identity.proto == "icmp" and layer.ident == identity.ident:
            direction = REPLY if error or layer.kind == "echo reply" else REQUEST
            return direction, Seen(0.0, ip.src, ip.dst, ip.ttl, f"icmp {layer.kind} id {layer.ident}", False)
        if (
            isinstance(layer, Tcp | Udp)
            and layer.proto == identity.proto
            and identity.ident in (layer.sport, layer.dport)
        ):
            if error is not None:
                return REPLY, Seen(0.0, ip.src, ip.dst, ip.ttl, f"icmp {error.detail or error.kind}", False)
            direction = REQUEST if layer.sport == identity.ident else REPLY
            flags = f" [{layer.flags}]" if isinstance(layer, Tcp) else ""
            text = f"{layer.proto} {ip.src}:{layer.sport} > {ip.dst}:{layer.dport}{flags}"
            return direction, Seen(0.0, ip.src, ip.dst, ip.ttl, text, False)
    return None


def sightings(packets: list[Packet], outer: dict[tuple[str | None, str], bool], identity: Identity) -> Sightings:
    """The first sighting of the probe on each interface in each direction; ``outer``: where it travels inside
    VXLAN."""
    first: Sightings = {}
    for packet in sorted(packets, key=lambda p: p.ts_ns):
        where = (packet.endpoint.netns, packet.endpoint.ifname)
        found = _identify(_inner(packet.layers(), outer.get(where, False)), identity)
        if found is None:
            continue
        direction, seen = found
        first.setdefault((*where, direction), dataclasses.replace(seen, at=packet.ts, outgoing=packet.outgoing))
    return first


def _mark(hops: tuple[Hop, ...], packets: list[Packet], identity: Identity, remote: RemoteSightings) -> tuple[Hop, ...]:
    """Every hop with the first sighting of the probe on its interface in its direction: captured here, or
    by the netcon of a host read over SSH (a hop whose host could not capture keeps no capture)."""
    outer = {(h.capture.netns, h.capture.ifname): h.capture.outer for h in hops if h.capture and h.over is None}
    first = sightings(packets, outer, identity)

    def seen(h: Hop) -> Hop:
        if h.capture is None:
            return dataclasses.replace(h, probed=True)
        key = (h.capture.netns, h.capture.ifname, h.direction)
        if h.over is None:
            return dataclasses.replace(h, probed=True, seen=first.get(key))
        there = remote.get(h.host)
        if there is None:
            return dataclasses.replace(h, probed=True, capture=None, not_captured="read over SSH")
        return dataclasses.replace(h, probed=True, seen=there.get(key))

    return tuple(seen(h) for h in hops)


def _traced(
    known: dict[tuple[str, str], Netns], traced: nftrace.Traced, identity: Identity
) -> dict[tuple[str, str, str], str]:
    """Per (host, namespace, direction): the decisive steps nftrace reported, as iptables prints the rules."""
    by_path = {ns.path: ns for ns in known.values()}
    found: dict[tuple[str, str, str], list[str]] = {}
    for path, got in traced.events.items():
        ns = by_path.get(path)
        if ns is None:
            continue
        direction_of: dict[int, str] = {}
        for event in got:
            if event.network and event.id not in direction_of:
                direction_of[event.id] = _direction(event, identity)
            if event.verdict not in ("accept", "drop") or event.id not in direction_of:
                continue
            if event.kind == "policy" and event.verdict == "accept" and event.table != "filter":
                continue  # nat/mangle chains without a matching rule: nothing happened there
            text = _step(ns, event, traced.handles.get(path, {}))
            key = (ns.host.name, ns.label, direction_of[event.id])
            if text not in found.setdefault(key, []):
                found[key].append(text)
    return {k: " · ".join(v) for k, v in found.items()}


def _direction(event: TraceEvent, identity: Identity) -> str:
    proto, _src, _dst, icmp_type, sport, _dport = nftrace.packet_of(event)
    if proto == 1:
        return REQUEST if icmp_type == 8 else REPLY
    return REQUEST if sport == identity.ident else REPLY


def _step(ns: Netns, event: TraceEvent, handles: dict[tuple[str, str], tuple[int, ...]]) -> str:
    where = f"{event.table} {event.chain}"
    if event.kind == "policy":
        return f"{where} policy {event.verdict}"
    rule = None
    if event.handle is not None:
        try:
            order = handles.get((event.table, event.chain), ())
            rules = ns.ruleset().table(event.table).chain(event.chain)
            if event.handle in order and order.index(event.handle) < len(rules):
                rule = rules[order.index(event.handle)].text
        except NetconError:
            rule = None
    return f"{where}: {rule or f'rule handle {event.handle}'} {event.verdict}"


def conclude(
    hops: tuple[Hop, ...], answer: Answer, destination: tuple[str, str] | None
) -> tuple[FailedHop | None, bool, bool]:
    """(the failing hop, whether the request reached, whether the reply came back) from the marked hops.

    The probe died between the last hop it was seen on and the first predicted hop it was not seen on: the
    failing hop is the first hop in that stretch the prediction says fails (or that nftrace saw drop it);
    when the prediction expected it to pass there, the first unseen hop, saying so."""
    ordered = [h for h in hops if h.direction == REQUEST] + [h for h in hops if h.direction == REPLY]
    captured = [i for i, h in enumerate(ordered) if h.capture is not None]
    unseen = next((i for i in captured if ordered[i].seen is None), None)
    last_seen = max((i for i in captured if ordered[i].seen is not None and (unseen is None or i < unseen)), default=0)
    stretch = ordered[last_seen : unseen if unseen is not None else len(ordered)]
    request = [h for h in ordered if h.direction == REQUEST]
    arrived = any(h.seen and (h.host, h.netns) == destination for h in request)
    reached = arrived and all(h.seen for h in request if h.capture)
    if answer.replied and unseen is None:
        return None, True, True
    culprit = next((h for h in stretch if "drop" in (h.traced or "")), None) or next(
        (h for h in stretch if h.fails), None
    )
    if culprit is not None:
        reason = culprit.reason
        if culprit.traced and "drop" in culprit.traced:
            reason = f"{culprit.reason}; nftrace: {culprit.traced}"
        return _failed(culprit, reason), reached, answer.replied
    if unseen is not None:
        hop = ordered[unseen]
        why = f"not seen here, although the prediction expected it to pass ({hop.holds})"
        if answer.kind not in ("no reply", "echo reply", "syn-ack"):
            why += f"; the probe's socket got: {answer.detail}"
        return _failed(hop, why), reached, answer.replied
    if not answer.replied:
        last = ordered[-1]
        return _failed(last, f"no reply came back: {answer.detail}"), reached, False
    return None, reached, answer.replied


def _failed(hop: Hop, reason: str) -> FailedHop:
    return FailedHop(hop.host, hop.netns, hop.device, hop.stage, hop.direction, reason, hop.rule, hop.fix)
