"""The kernel's own account of the probe's netfilter path: in every namespace of the predicted path a
temporary nf_tables table sets ``meta nftrace`` on the probe's packets (and nothing else), and the trace
events (NFNLGRP_NFTRACE, what ``nft monitor trace`` shows) name each chain, rule and verdict. A rule handle
becomes the ``-A CHAIN ...`` line iptables-save prints by its position in the chain.

Adding the table is a change to the host's firewall, however brief: it is a ``@mutation`` (refused in
read-only mode, where the trace goes on without it; audited with the namespaces it touched). The tables are
created with NFT_TABLE_F_OWNER, so the kernel removes them when their socket closes — even if netcon is
killed — and ``close`` deletes them explicitly first.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import struct
from collections.abc import Callable
from typing import TypeVar

from netcon.core.audit import mutation
from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.netlink import nftables
from netcon.core.netlink.nftables import Match, TraceEvent
from netcon.core.netns import OWN_NETNS, run_in_each_netns
from netcon.core.trace.probe import PROTOCOLS, Identity

T = TypeVar("T")
TABLE_PREFIX = "netcon-trace-"


def matches(identity: Identity) -> tuple[Match, ...]:
    """The probe's packets both ways: the ICMP echo id (request and reply carry it at offset 4), or the
    source port of the request and the destination port of the reply."""
    number = PROTOCOLS[identity.proto]
    if identity.proto == "icmp":
        return (Match(number, 4, identity.ident),)
    return (Match(number, 0, identity.ident), Match(number, 2, identity.ident))


class NftraceUnavailable(NetconError):
    """The trace rules could not be added (an old kernel, nf_tables missing): the trace goes on without them."""


class TraceRules:
    """The trace tables and their sockets in several namespaces (paths; None: netcon's own)."""

    def __init__(self, paths: list[str | None]) -> None:
        self.paths = list(dict.fromkeys(paths))
        self.table = f"{TABLE_PREFIX}{os.getpid()}-{os.urandom(3).hex()}"
        self.sockets: dict[str | None, tuple[socket.socket, socket.socket]] = {}
        self.seq = itertools.count(1)
        self.handles: dict[str | None, dict[tuple[str, str], tuple[int, ...]]] = {}

    def add(self, identity: Identity) -> None:
        """Open the sockets in every namespace and add the table there; a failure removes what was added."""

        def open_pair() -> tuple[socket.socket, socket.socket]:
            control = nftables.open_nfnetlink()
            try:
                events = nftables.trace_socket()
            except BaseException:
                control.close()
                raise
            events.setblocking(False)
            return control, events

        where = {path or OWN_NETNS: path for path in self.paths}
        try:
            for real, result in run_in_each_netns(list(where), open_pair).items():
                if isinstance(result, BaseException):
                    raise result if isinstance(result, NetconError) else NetconError(str(result))
                self.sockets[where[real]] = result
            for path, (control, _events) in self.sockets.items():
                nftables.add_trace_table(control, self.table, matches(identity), self.seq)
                self.handles[path] = nftables.rule_handles(control)
        except BaseException:
            self.close()
            raise

    def events(self) -> dict[str | None, list[TraceEvent]]:
        """Every event queued so far, per namespace (events of other traces are left out)."""
        found: dict[str | None, list[TraceEvent]] = {}
        for path, (_control, events) in self.sockets.items():
            found[path] = [e for e in nftables.read_events(events) if not e.table.startswith(TABLE_PREFIX)]
        return found

    def close(self) -> None:
        for control, events in self.sockets.values():
            with contextlib.suppress(NetconError, OSError):
                nftables.delete_table(control, self.table, self.seq)
            control.close()
            events.close()
        self.sockets.clear()


@mutation("trace.nftrace", "add temporary nftrace rules in {namespaces}")
def traced(
    ctx: HostContext, namespaces: list[str], paths: list[str | None], identity: Identity, body: Callable[[], T]
) -> tuple[T, Traced]:
    """Run ``body`` (the probe) with trace rules in ``paths`` (``namespaces``: how the audit log names them);
    the rules are removed before this returns, whatever happened."""
    rules = TraceRules(paths)
    try:
        rules.add(identity)
    except NetconError as error:
        raise NftraceUnavailable(str(error), target=error.target) from error
    try:
        result = body()
        return result, Traced(rules.events(), rules.handles)
    finally:
        rules.close()


class Traced:
    """What the trace rules brought: the events per namespace, and each namespace's rule handles by chain."""

    def __init__(
        self,
        events: dict[str | None, list[TraceEvent]],
        handles: dict[str | None, dict[tuple[str, str], tuple[int, ...]]],
    ) -> None:
        self.events = events
        self.handles = handles


def packet_of(event: TraceEvent) -> tuple[int, str, str, int | None, int | None, int | None]:
    """(protocol, src, dst, ICMP type, source port, destination port) of a traced packet's headers."""
    net = event.network
    if len(net) < 20:
        return 0, "", "", None, None, None
    proto, src, dst = net[9], socket.inet_ntoa(net[12:16]), socket.inet_ntoa(net[16:20])
    head = event.transport
    if proto == 1 and head:
        return proto, src, dst, head[0], None, None
    if proto in (6, 17) and len(head) >= 4:
        sport, dport = struct.unpack("!HH", head[:4])
        return proto, src, dst, None, sport, dport
    return proto, src, dst, None, None, None
