"""Netlink framing, shared by netcon's hand-written readers (rtnetlink, sock_diag, the change monitor).

A netlink datagram is a run of messages, each a 16-byte header (``nlmsghdr``) and a body padded to 4 bytes;
bodies end in attributes (type-length-value, also padded to 4). A request is answered by messages carrying
its sequence number and, for a dump, closed by NLMSG_DONE; a failure comes back as NLMSG_ERROR with a
negative errno. ``request`` is the one loop that sends, reads and turns every failure, the kernel's or the
socket's, into ``NetlinkFailure``.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator
from typing import NamedTuple

from netcon.core.errors import NetlinkFailure

HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
_ATTR = struct.Struct("=HH")  # nlattr: len, type
_ERRNO = struct.Struct("=i")  # nlmsgerr starts with the (negative) errno


class Message(NamedTuple):
    """One message of a datagram: its type and where its body lies in ``data`` (``data[start:end]``)."""

    kind: int
    seq: int
    data: bytes
    start: int
    end: int


def messages(data: bytes) -> Iterator[Message]:
    """The messages of one datagram, in order; a malformed or truncated message ends the walk (nothing
    after it can be trusted). Every reply passes through here, so the loop is written out."""
    offset, size, unpack, make = 0, len(data), HEADER.unpack_from, Message._make
    while offset + 16 <= size:  # 16: the nlmsghdr
        length, kind, _flags, seq, _pid = unpack(data, offset)
        if length < 16 or offset + length > size:
            return
        yield make((kind, seq, data, offset + 16, offset + length))
        offset += (length + 3) & ~3


def attrs(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    """The attributes in ``data[offset:end]`` by type (the last one wins); nested ones stay packed, for a
    second call on their payload. The hot loop of every dump, so it is written out (no helper calls)."""
    out = {}
    unpack = _ATTR.unpack_from
    while offset + 4 <= end:  # 4: the nlattr header
        length, kind = unpack(data, offset)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4 : offset + length]  # NLA_TYPE_MASK: without NESTED/BYTEORDER
        offset += (length + 3) & ~3
    return out


def attr(kind: int, payload: bytes) -> bytes:
    """One attribute, padded, for a request body."""
    data = _ATTR.pack(_ATTR.size + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def open_socket(protocol: int, groups: int = 0, *, nonblocking: bool = False) -> socket.socket:
    """A bound netlink socket of ``protocol`` in the calling thread's netns, subscribed to the multicast
    ``groups`` (a bit mask). A socket stays in the namespace it was made in, whichever thread reads it."""
    kind = socket.SOCK_RAW | socket.SOCK_CLOEXEC | (socket.SOCK_NONBLOCK if nonblocking else 0)
    try:
        sock = socket.socket(socket.AF_NETLINK, kind, protocol)
    except OSError as error:
        raise NetlinkFailure(f"Cannot open a netlink socket: {error.strerror}.", code=error.errno or 0) from error
    try:
        sock.bind((0, groups))
    except OSError as error:
        sock.close()
        what = "subscribe to netlink groups" if groups else "bind a netlink socket"
        raise NetlinkFailure(f"Cannot {what}: {error.strerror}.", code=error.errno or 0) from error
    return sock


def request(
    sock: socket.socket, seq: int, msg_type: int, flags: int, body: bytes, what: str, bufsize: int = 1 << 20
) -> Iterator[Message]:
    """Send one request and yield each reply message of it: every message of a dump (``flags`` with
    NLM_F_DUMP) until NLMSG_DONE, else the one reply. An acknowledgement ends the replies; a kernel error,
    or the socket failing, raises NetlinkFailure naming ``what``. Messages of other sequence numbers (late
    replies to an abandoned request) are skipped."""
    _send(sock, HEADER.pack(HEADER.size + len(body), msg_type, flags, seq, 0) + body, what)
    while True:
        for msg in messages(_recv(sock, bufsize, what)):
            if msg.seq != seq:
                continue
            if msg.kind == NLMSG_DONE:
                return
            if msg.kind == NLMSG_ERROR:
                code = -_ERRNO.unpack_from(msg.data, msg.start)[0]
                if code:
                    raise NetlinkFailure(f"netlink {what} failed: {os.strerror(code)}.", code=code)
                return
            yield msg
            if not flags & NLM_F_DUMP:
                return


def transaction(sock: socket.socket, parts: list[tuple[int, int, int, bytes]], what: str) -> None:
    """Send ``parts`` — (type, flags, seq, body) each — in one datagram (an nf_tables batch: the kernel applies
    all or none) and wait for the acknowledgement of every part that asked for one (NLM_F_ACK); the first
    error raises NetlinkFailure naming ``what``."""
    data = b"".join(
        HEADER.pack(HEADER.size + len(body), kind, flags, seq, 0) + body for kind, flags, seq, body in parts
    )
    _send(sock, data, what)
    waiting = {seq for _kind, flags, seq, _body in parts if flags & NLM_F_ACK}
    while waiting:
        for msg in messages(_recv(sock, 1 << 16, what)):
            if msg.kind != NLMSG_ERROR or msg.seq not in waiting:
                continue
            code = -_ERRNO.unpack_from(msg.data, msg.start)[0]
            if code:
                raise NetlinkFailure(f"netlink {what} failed: {os.strerror(code)}.", code=code)
            waiting.discard(msg.seq)


def _send(sock: socket.socket, data: bytes, what: str) -> None:
    try:
        sock.send(data)
    except OSError as error:
        raise NetlinkFailure(f"netlink {what} failed: {error.strerror}.", code=error.errno or 0) from error


def _recv(sock: socket.socket, bufsize: int, what: str) -> bytes:
    try:
        return sock.recv(bufsize)
    except OSError as error:
        raise NetlinkFailure(f"netlink {what} failed: {error.strerror}.", code=error.errno or 0) from error
