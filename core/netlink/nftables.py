"""nf_tables over nfnetlink, for the trace: which tables a namespace has, each rule's handle in its chain's
order (how a trace event's rule handle becomes the ``-A CHAIN ...`` line iptables-save prints), a temporary
trace table that sets ``meta nftrace`` on the probe's packets, and the trace events the kernel then sends to
NFNLGRP_NFTRACE (what ``nft monitor trace`` reads).

The trace table is created with NFT_TABLE_F_OWNER: it belongs to the netlink socket that made it, and the
kernel deletes it when that socket closes — also when netcon is killed — so no trace rule can outlive the
trace. netcon still deletes it explicitly when done.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count

from netcon.core.errors import NetlinkFailure
from netcon.core.netlink.framing import (
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    Message,
    attrs,
    messages,
    open_socket,
    request,
    transaction,
)

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 16, 17
NFT_MSG_NEWTABLE, NFT_MSG_GETTABLE, NFT_MSG_DELTABLE, NFT_MSG_NEWCHAIN = 0, 1, 2, 3
NFT_MSG_NEWRULE, NFT_MSG_GETRULE, NFT_MSG_TRACE = 6, 7, 17
NFNLGRP_NFTRACE = 9
NFPROTO_UNSPEC, NFPROTO_IPV4 = 0, 2
NLM_F_CREATE = 0x400
NLA_F_NESTED = 0x8000
NFT_TABLE_F_OWNER = 0x2
NFTA_TABLE_NAME, NFTA_TABLE_FLAGS = 1, 2
NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME, NFTA_CHAIN_HOOK, NFTA_CHAIN_TYPE = 1, 3, 4, 7
NFTA_HOOK_HOOKNUM, NFTA_HOOK_PRIORITY = 1, 2
NFTA_RULE_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_HANDLE, NFTA_RULE_EXPRESSIONS = 1, 2, 3, 4
NFTA_LIST_ELEM, NFTA_EXPR_NAME, NFTA_EXPR_DATA = 1, 1, 2
NFTA_DATA_VALUE = 1
NFT_REG_1 = 1
NFT_META_NFTRACE, NFT_META_L4PROTO = 12, 16
NFT_PAYLOAD_TRANSPORT_HEADER = 2
NF_INET_PRE_ROUTING, NF_INET_LOCAL_OUT = 0, 3
NFTA_TRACE_TABLE, NFTA_TRACE_CHAIN, NFTA_TRACE_RULE_HANDLE, NFTA_TRACE_TYPE, NFTA_TRACE_VERDICT = 1, 2, 3, 4, 5
NFTA_TRACE_ID, NFTA_TRACE_NETWORK_HEADER, NFTA_TRACE_TRANSPORT_HEADER = 6, 8, 9
NFTA_TRACE_IIF, NFTA_TRACE_OIF, NFTA_TRACE_NFPROTO, NFTA_TRACE_POLICY = 10, 12, 15, 16
NFTA_VERDICT_CODE, NFTA_VERDICT_CHAIN = 1, 2
TRACE_TYPES = {1: "policy", 2: "return", 3: "rule"}
VERDICTS = {0: "drop", 1: "accept", 2: "stolen", 3: "queue", 4: "repeat"}
VERDICTS |= {-1: "continue", -2: "break", -3: "jump", -4: "goto", -5: "return"}
TRACE_PRIORITY = -350  # before raw (-300) and conntrack (-200): the mark is set before anything else looks

_NFGEN = struct.Struct("=BBH")  # nfgenmsg: family, version, res_id (big-endian)
_ATTR = struct.Struct("=HH")
_BE32 = struct.Struct("!I")
_BE32S = struct.Struct("!i")
_BE64 = struct.Struct("!Q")


def _attr(kind: int, payload: bytes) -> bytes:
    data = _ATTR.pack(_ATTR.size + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def _nested(kind: int, *parts: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(parts))


def _str(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\0")


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, _BE32S.pack(value) if value < 0 else _BE32.pack(value))


def _text(raw: bytes | None) -> str:
    return (raw or b"").rstrip(b"\0").decode(errors="replace")


def _type(msg: int) -> int:
    return (NFNL_SUBSYS_NFTABLES << 8) | msg


def _gen(family: int, res_id: int = 0) -> bytes:
    return _NFGEN.pack(family, 0, socket.htons(res_id))


def open_nfnetlink(groups: int = 0) -> socket.socket:
    """An nfnetlink socket in the calling thread's namespace (``groups``: a multicast bit mask)."""
    return open_socket(NETLINK_NETFILTER, groups)


def trace_socket() -> socket.socket:
    """A socket subscribed to the namespace's nftrace events (needs CAP_NET_ADMIN)."""
    sock = open_nfnetlink(1 << (NFNLGRP_NFTRACE - 1))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    return sock


# -- reading ----------------------------------------------------------------------------------------------


def _dump(sock: socket.socket, seq: int, msg: int, family: int, what: str) -> Iterator[Message]:
    return request(sock, seq, _type(msg), NLM_F_REQUEST | NLM_F_DUMP, _gen(family), what)


def tables(sock: socket.socket) -> tuple[tuple[int, str], ...]:
    """(family, name) of every nf_tables table of the namespace (iptables-nft's are family 2, ip)."""
    found = []
    for msg in _dump(sock, 1, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, "nf_tables table dump"):
        family = _NFGEN.unpack_from(msg.data, msg.start)[0]
        found.append((family, _text(attrs(msg.data, msg.start + _NFGEN.size, msg.end).get(NFTA_TABLE_NAME))))
    return tuple(found)


def rule_handles(sock: socket.socket, family: int = NFPROTO_IPV4) -> dict[tuple[str, str], tuple[int, ...]]:
    """(table, chain) -> the handles of its rules in order: the n-th handle is the n-th ``-A CHAIN`` line."""
    found: dict[tuple[str, str], list[int]] = {}
    for msg in _dump(sock, 2, NFT_MSG_GETRULE, family, "nf_tables rule dump"):
        got = attrs(msg.data, msg.start + _NFGEN.size, msg.end)
        handle = got.get(NFTA_RULE_HANDLE)
        if handle and len(handle) == 8:
            key = (_text(got.get(NFTA_RULE_TABLE)), _text(got.get(NFTA_RULE_CHAIN)))
            found.setdefault(key, []).append(_BE64.unpack(handle)[0])
    return {k: tuple(v) for k, v in found.items()}


# -- the trace table --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """Packets to trace: layer-4 protocol ``proto`` with the 16-bit field at ``offset`` of the transport header
    equal to ``value`` (ICMP echo id at 4, TCP/UDP source port at 0, destination port at 2)."""

    proto: int
    offset: int
    value: int


def _expr(name: str, *data: bytes) -> bytes:
    return _nested(NFTA_LIST_ELEM, _str(NFTA_EXPR_NAME, name), _nested(NFTA_EXPR_DATA, *data))


def _rule_body(table: str, chain: str, match: Match) -> bytes:
    exprs = (
        _expr("meta", _u32(2, NFT_META_L4PROTO), _u32(1, NFT_REG_1)),  # NFTA_META_KEY, NFTA_META_DREG
        _expr("cmp", _u32(1, NFT_REG_1), _u32(2, 0), _nested(3, _attr(NFTA_DATA_VALUE, bytes([match.proto])))),
        _expr(
            "payload",
            _u32(1, NFT_REG_1),  # NFTA_PAYLOAD_DREG, BASE, OFFSET, LEN
            _u32(2, NFT_PAYLOAD_TRANSPORT_HEADER),
            _u32(3, match.offset),
            _u32(4, 2),
        ),
        _expr(
            "cmp", _u32(1, NFT_REG_1), _u32(2, 0), _nested(3, _attr(NFTA_DATA_VALUE, struct.pack("!H", match.value)))
        ),
        _expr("immediate", _u32(1, NFT_REG_1), _nested(2, _attr(NFTA_DATA_VALUE, b"\x01"))),  # DREG, DATA
        _expr("meta", _u32(2, NFT_META_NFTRACE), _u32(3, NFT_REG_1)),  # NFTA_META_KEY, NFTA_META_SREG
    )
    return (
        _gen(NFPROTO_IPV4)
        + _str(NFTA_RULE_TABLE, table)
        + _str(NFTA_RULE_CHAIN, chain)
        + _nested(NFTA_RULE_EXPRESSIONS, *exprs)
    )


def _chain_body(table: str, chain: str, hook: int) -> bytes:
    return (
        _gen(NFPROTO_IPV4)
        + _str(NFTA_CHAIN_TABLE, table)
        + _str(NFTA_CHAIN_NAME, chain)
        + _nested(NFTA_CHAIN_HOOK, _u32(NFTA_HOOK_HOOKNUM, hook), _u32(NFTA_HOOK_PRIORITY, TRACE_PRIORITY))
        + _str(NFTA_CHAIN_TYPE, "filter")
    )


def _batch(sock: socket.socket, seq: count[int], parts: list[tuple[int, int, bytes]], what: str) -> None:
    begin = (NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, next(seq), _gen(NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES))
    body = [(kind, flags, next(seq), data) for kind, flags, data in parts]
    end = (NFNL_MSG_BATCH_END, NLM_F_REQUEST, next(seq), _gen(NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES))
    transaction(sock, [begin, *body, end], what)


def add_trace_table(sock: socket.socket, table: str, matches: tuple[Match, ...], seq: count[int]) -> None:
    """Create ``table`` (family ip, owned by ``sock``) with a prerouting and an output chain that set nftrace
    on packets of ``matches``; all in one batch, so a failure leaves nothing."""
    create = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK
    parts = [(_type(NFT_MSG_NEWTABLE), create, _gen(NFPROTO_IPV4) + _str(NFTA_TABLE_NAME, table))]
    parts[0] = (parts[0][0], parts[0][1], parts[0][2] + _u32(NFTA_TABLE_FLAGS, NFT_TABLE_F_OWNER))
    for chain, hook in (("prerouting", NF_INET_PRE_ROUTING), ("output", NF_INET_LOCAL_OUT)):
        parts.append((_type(NFT_MSG_NEWCHAIN), create, _chain_body(table, chain, hook)))
        parts += [(_type(NFT_MSG_NEWRULE), create, _rule_body(table, chain, m)) for m in matches]
    _batch(sock, seq, parts, f"adding the trace table {table}")


def delete_table(sock: socket.socket, table: str, seq: count[int]) -> None:
    """Delete ``table`` (family ip); one that is already gone is fine."""
    body = _gen(NFPROTO_IPV4) + _str(NFTA_TABLE_NAME, table)
    try:
        _batch(sock, seq, [(_type(NFT_MSG_DELTABLE), NLM_F_REQUEST | NLM_F_ACK, body)], f"deleting {table}")
    except NetlinkFailure as error:
        if error.code != 2:  # ENOENT
            raise


# -- trace events -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceEvent:
    """One step of a traced packet through a chain: a rule that matched (with its verdict), a chain's end
    (return) or a base chain's policy. ``packet`` is the IPv4 header and the transport header's first bytes."""

    id: int  # the kernel's id of the packet's traversal
    table: str
    chain: str
    kind: str  # "rule", "return", "policy"
    handle: int | None
    verdict: str  # "accept", "drop", "jump", "continue", ...
    target: str | None  # the chain of a jump or goto
    iif: int | None
    oif: int | None
    network: bytes
    transport: bytes


def decode_trace(data: bytes) -> list[TraceEvent]:
    """The trace events in one datagram read from a ``trace_socket``."""
    events = []
    for msg in messages(data):
        if msg.kind != _type(NFT_MSG_TRACE):
            continue
        got = attrs(msg.data, msg.start + _NFGEN.size, msg.end)
        verdict, target = "", None
        if NFTA_TRACE_VERDICT in got:
            nested = attrs(got[NFTA_TRACE_VERDICT], 0, len(got[NFTA_TRACE_VERDICT]))
            code = _BE32S.unpack(nested[NFTA_VERDICT_CODE])[0] if len(nested.get(NFTA_VERDICT_CODE, b"")) == 4 else 1
            verdict = VERDICTS.get(code, str(code))
            target = _text(nested.get(NFTA_VERDICT_CHAIN)) or None
        policy = _be32(got.get(NFTA_TRACE_POLICY))
        if not verdict and policy is not None:  # a base chain's policy comes as its own attribute
            verdict = VERDICTS.get(policy, str(policy))
        handle = got.get(NFTA_TRACE_RULE_HANDLE)
        events.append(
            TraceEvent(
                id=_be32(got.get(NFTA_TRACE_ID)) or 0,
                table=_text(got.get(NFTA_TRACE_TABLE)),
                chain=_text(got.get(NFTA_TRACE_CHAIN)),
                kind=TRACE_TYPES.get(_be32(got.get(NFTA_TRACE_TYPE)) or 0, "?"),
                handle=_BE64.unpack(handle)[0] if handle and len(handle) == 8 else None,
                verdict=verdict,
                target=target,
                iif=_be32(got.get(NFTA_TRACE_IIF)),
                oif=_be32(got.get(NFTA_TRACE_OIF)),
                network=got.get(NFTA_TRACE_NETWORK_HEADER, b""),
                transport=got.get(NFTA_TRACE_TRANSPORT_HEADER, b""),
            )
        )
    return events


def _be32(raw: bytes | None) -> int | None:
    return _BE32.unpack(raw)[0] if raw and len(raw) == 4 else None


def read_events(sock: socket.socket) -> list[TraceEvent]:
    """Every trace event queued on a non-blocking ``trace_socket`` now."""
    out: list[TraceEvent] = []
    while True:
        try:
            data = sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return out
        except OSError as error:  # ENOBUFS: events were lost; say so rather than guess
            raise NetlinkFailure(f"Reading nftrace events failed: {error.strerror}.", code=error.errno or 0) from error
        out += decode_trace(data)
