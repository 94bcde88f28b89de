"""The whole trace: read the hosts, walk the request and the reply (the prediction), then — unless told not
to — send one probe, captured on every predicted hop at once and traced by nftables, and name the first hop
where it died."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from netcon.core.context import HostContext
from netcon.core.doctor.facts import read_flannel
from netcon.core.errors import NetconError, PermissionDenied
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel.lease import Lease
from netcon.core.model import Container
from netcon.core.trace import question
from netcon.core.trace.firewall import Packet
from netcon.core.trace.hosts import Hosts, HostView, Lab, lab_of
from netcon.core.trace.model import REPLY, REQUEST, FailedHop, Hop, Trace
from netcon.core.trace.proof import conclude, prove
from netcon.core.trace.remote import RemoteView, open_remotes, start_there
from netcon.core.trace.walk import Walker

if TYPE_CHECKING:
    from netcon.core.hosts.remote import RemoteHost

MAX_WAIT_S = 10.0


@dataclass(frozen=True)
class Options:
    proto: str | None = None
    port: int | None = None
    probe: bool = True
    wait: float = 1.0  # seconds to wait for the reply
    lab: str | None = None  # a lab prefix: read every host of that lab
    etcd: EtcdOptions | None = None  # where flannel's leases are (the lab's when tracing in a lab)
    etcd_prefix: str | None = None
    stop: threading.Event | None = None  # set by a console quitting: the probe stops waiting at once
    via: tuple[str, ...] = ()  # ssh://... hosts read over SSH: their netcon walks their part
    ssh_config: str | None = None  # the ssh config file those are reached with (ssh -F)


@dataclass(frozen=True)
class Prediction:
    """Both walks. ``packet``: the request as it leaves the source; ``arrived``: as the destination sees it."""

    hops: tuple[Hop, ...]
    packet: Packet
    reached: bool
    answered: bool
    notes: tuple[str, ...]


LeasesRead = tuple[tuple[Lease, ...] | None, str | None]  # the leases (None: not read) and why not


def _leases(lab: Lab | None, options: Options) -> LeasesRead:
    etcd = options.etcd or (lab.state.etcd_options() if lab else None)
    if etcd is None:
        return None, None
    prefix = options.etcd_prefix or (lab.state.flannel_prefix if lab else None)
    view = read_flannel(etcd, prefix)
    if view.error:
        return None, f"flannel's leases were not read: {view.error}"
    return view.leases, None


def predict(hosts: Hosts, origin: question.Origin, packet: Packet, leases: tuple[Lease, ...] | None) -> Prediction:
    request = Walker(hosts, REQUEST, leases)
    request.source_container = origin.container.name if origin.container else None
    owner = hosts.owner(packet.dst)
    request.dest_networks = owner[1].networks if owner and owner[1] else ()
    outcome = request.run(origin.netns, packet)
    sent = replace(packet, src=request.source_ip)
    if outcome.kind != "delivered" or (outcome.netns is None and outcome.remote is None):
        return Prediction(tuple(request.hops), sent, False, False, ())
    reply = Walker(hosts, REPLY, leases, tuple(request.records))
    if outcome.remote is not None:
        back = start_there(reply, outcome.remote, outcome.place, outcome.packet.reply())
    else:
        assert outcome.netns is not None
        back = reply.run(outcome.netns, outcome.packet.reply())
    answered = back.kind == "delivered" and back.netns is origin.netns
    return Prediction(tuple(request.hops + reply.hops), sent, True, answered, ())


def trace(ctx: HostContext, src: str, dst: str, options: Options = Options()) -> Trace:
    """Trace from ``src`` to ``dst``; bad input raises UsageError/NotFound before anything is sent."""
    started = time.perf_counter()
    destination = question.destination(dst, options.proto, options.port)
    if os.geteuid() != 0:
        raise PermissionDenied(
            "netcon trace reads other network namespaces and their firewall rules and sends a probe from the "
            "source's namespace: run it as root."
        )
    lab = lab_of(ctx, options.lab)
    hosts, leases_future = _read(ctx, lab, options)
    try:
        leases, lease_note = leases_future.result()
        origin = question.origin(hosts, ctx, src)
        dst_ip, note = question.address(hosts, origin, destination)
        packet = Packet(None, dst_ip, destination.proto, None, destination.port)
        prediction = predict(hosts, origin, packet, leases)
        predict_s = time.perf_counter() - started
        if options.stop is not None and options.stop.is_set():
            raise NetconError("The trace was stopped.")
        notes = tuple(n for n in (note, lease_note) if n)
        hops = prediction.hops
        failed = _failed(next((h for h in hops if h.fails), None))
        reached, replied, refused = prediction.reached, False, None
        if options.probe:
            target = (dst_ip, destination.proto, destination.port)
            wait = min(options.wait, MAX_WAIT_S)
            proof = prove(ctx, hosts, origin.netns, hops, target, wait, options.stop)
            hops = proof.hops
            owner = hosts.owner(dst_ip)
            where = (owner[0].name, _label(*owner)) if owner else None
            failed, reached, replied = conclude(hops, proof.answer, where)
            refused = proof.answer.detail if proof.answer.kind in ("reset", "unreachable") else None
            notes += (f"the probe's socket: {proof.answer.detail}", *proof.notes)
        return Trace(
            src=src,
            dst=dst,
            proto=destination.proto,
            port=destination.port,
            src_ip=prediction.packet.src,
            dst_ip=dst_ip,
            hops=hops,
            reached=reached,
            reply_seen=replied,
            failed_hop=failed,
            probed=options.probe,
            notes=notes + prediction.notes,
            predict_s=predict_s,
            total_s=time.perf_counter() - started,
            refused=refused,
        )
    finally:
        hosts.close()


def _read(ctx: HostContext, lab: Lab | None, options: Options) -> tuple[Hosts, Future[LeasesRead]]:
    """The hosts, in-process and over SSH, and flannel's leases, read at once; nothing stays open on failure."""
    over_ssh = remote_hosts(ctx, lab, options)
    with ThreadPoolExecutor(max_workers=3) as pool:
        leases_future = pool.submit(_leases, lab, options)
        remotes_future = pool.submit(open_remotes, over_ssh) if over_ssh else None
        try:
            hosts = Hosts.read(ctx, lab, skip=frozenset(name for name, _ in over_ssh))
        except NetconError:
            if remotes_future is not None:
                _closed(remotes_future.result)
            raise
        if remotes_future is not None:
            try:
                hosts.remotes = remotes_future.result()
            except NetconError:
                hosts.close()
                raise
    return hosts, leases_future


def remote_hosts(ctx: HostContext, lab: Lab | None, options: Options) -> list[tuple[str, RemoteHost]]:
    """The hosts ``--via`` names, each with its name in the trace: a lab host's own (``h2``) when the target is
    that lab host's, else the target's host name. Nothing is connected yet."""
    if not options.via:
        return []
    from netcon.core.hosts.remote import RemoteHost
    from netcon.core.hosts.ssh import SshSettings
    from netcon.core.hosts.target import parse_target
    from netcon.core.lab import ssh as lab_ssh

    named = {lab_ssh.target(h): h.name for h in lab.state.hosts} if lab else {}
    found: dict[str, tuple[str, RemoteHost]] = {}
    for given in options.via:
        target = parse_target(given, "via", "--via")
        name = named.get(str(target), target.host)
        settings = SshSettings(options.ssh_config)
        found.setdefault(name, (name, RemoteHost(target, name, settings=settings, read_only=ctx.read_only)))
    return list(found.values())


def _closed(result: Callable[[], tuple[RemoteView, ...]]) -> None:
    """The remote hosts an aborted trace opened, closed again."""
    with contextlib.suppress(NetconError):
        for view in result():
            view.host.close()


def _label(view: HostView | RemoteView, c: Container | None) -> str:
    if c is not None:
        return f"container {c.name}"
    return view.root.label if isinstance(view, HostView) else view.name


def _failed(hop: Hop | None, reason: str | None = None) -> FailedHop | None:
    if hop is None:
        return None
    return FailedHop(hop.host, hop.netns, hop.device, hop.stage, hop.direction, reason or hop.reason, hop.rule, hop.fix)
