"""ICMP echo on the wire: the socket opened inside a namespace, the request we send, and what comes back.

A datagram ping socket (``SOCK_DGRAM``/``IPPROTO_ICMP``) is preferred: the kernel picks the echo id and hands
each socket only its own replies, and ICMP errors arrive on its error queue (``IP_RECVERR``). Creating one
needs the caller's gid inside ``net.ipv4.ping_group_range`` of that namespace (Docker sets it wide open in
containers; a host usually has ``1 0``), so on ``EACCES`` we fall back to a raw socket (we run as root), which
sees every ICMP packet of the namespace and is filtered by our echo id.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass

Ancillary = list[tuple[int, int, bytes]]  # recvmsg's ancillary data: (level, type, data)

# <linux/in.h>, <asm-generic/socket.h>, <linux/icmp.h>: kernel ABI numbers the socket module lacks
IP_RECVERR, IP_RECVTTL, IP_TTL = 11, 12, 2
SO_TIMESTAMPNS = 35
SOL_RAW, ICMP_FILTER = 255, 1
SO_EE_ORIGIN_LOCAL, SO_EE_ORIGIN_ICMP = 1, 2
ECHO_REPLY, DEST_UNREACH, ECHO_REQUEST, TIME_EXCEEDED, PARAMETER_PROBLEM = 0, 3, 8, 11, 12

_ECHO = struct.Struct("!BBHHH")  # type, code, checksum, id, seq
_EXTERR = struct.Struct("=IBBBBII")  # sock_extended_err: errno, origin, type, code, pad, info, data
_TIMESPEC = struct.Struct("=qq")
_ANCILLARY = socket.CMSG_SPACE(4) + socket.CMSG_SPACE(_TIMESPEC.size) + socket.CMSG_SPACE(_EXTERR.size + 16)

UNREACH_TEXT = {  # what iputils ping prints for each Destination Unreachable code
    0: "Destination Net Unreachable",
    1: "Destination Host Unreachable",
    2: "Destination Protocol Unreachable",
    3: "Destination Port Unreachable",
    4: "Frag needed and DF set",
    5: "Source Route Failed",
    6: "Destination Net Unknown",
    7: "Destination Host Unknown",
    9: "Destination Net Prohibited",
    10: "Destination Host Prohibited",
    13: "Packet filtered",
    14: "Precedence Violation",
    15: "Precedence Cutoff",
}


@dataclass(frozen=True)
class Incoming:
    """One thing read from a ping socket: an echo reply or an ICMP error about one of our requests."""

    seq: int  # the wire sequence number of the request it answers
    kind: str  # "reply", "unreachable", "ttl-exceeded", "error"
    responder: str
    ttl: int | None
    size: int  # ICMP bytes (header + payload), as ping's "64 bytes from"
    rx_ns: int | None  # kernel receive time (CLOCK_REALTIME ns), None for errors
    detail: str = ""


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    header = _ECHO.pack(ECHO_REQUEST, 0, 0, ident, seq)
    return _ECHO.pack(ECHO_REQUEST, 0, checksum(header + payload), ident, seq) + payload


def payload_of(size: int) -> bytes:
    """ping's default filler: bytes counting up from 0x08 after the timestamp area."""
    return bytes((i + 8) & 0xFF for i in range(size))


def error_text(icmp_type: int, code: int, info: int) -> tuple[str, str]:
    """(kind, ping's wording) of an ICMP error."""
    if icmp_type == DEST_UNREACH:
        text = UNREACH_TEXT.get(code, f"Destination Unreachable, Bad Code: {code}")
        return "unreachable", f"{text} (mtu = {info})" if code == 4 and info else text
    if icmp_type == TIME_EXCEEDED:
        return ("ttl-exceeded", "Time to live exceeded") if code == 0 else ("error", "Frag reassembly time exceeded")
    if icmp_type == PARAMETER_PROBLEM:
        return "error", "Parameter problem"
    return "error", f"ICMP type {icmp_type} code {code}"


class PingSocket:
    """One ICMP socket living in one network namespace; shared by every probe from that namespace."""

    def __init__(self, sock: socket.socket, raw: bool) -> None:
        self.sock = sock
        self.raw = raw
        # datagram sockets get their id from the kernel (the bound "port"); raw ones use a random id of ours
        self.ident = int.from_bytes(os.urandom(2), "big") if raw else 0

    @classmethod
    def open(cls) -> PingSocket:
        """Create the socket in the calling thread's current netns (call it through ``core.netns``)."""
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
            raw = False
        except PermissionError:  # gid outside net.ipv4.ping_group_range of this netns
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            raw = True
            wanted = (1 << ECHO_REPLY) | (1 << DEST_UNREACH) | (1 << TIME_EXCEEDED) | (1 << PARAMETER_PROBLEM)
            sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", ~wanted & 0xFFFFFFFF))
        else:
            sock.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
        sock.setsockopt(socket.SOL_IP, IP_RECVTTL, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setblocking(False)
        return cls(sock, raw)

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def send(self, ip: str, seq: int, payload: bytes, ttl: int | None = None) -> None:
        if ttl is not None:
            self.sock.setsockopt(socket.SOL_IP, IP_TTL, ttl)
        packet = echo_request(self.ident, seq, payload)
        try:
            try:
                self.sock.sendto(packet, (ip, 0))
            except OSError as error:
                if error.errno in (errno.EAGAIN, errno.EMSGSIZE):
                    raise
                # an earlier ICMP error left in sk_err fails the next send once (and is cleared by it): this
                # packet was not sent, so send it again; a second failure is about this packet
                self.sock.sendto(packet, (ip, 0))
        finally:
            if ttl is not None:
                self.sock.setsockopt(socket.SOL_IP, IP_TTL, 64)

    def read_all(self) -> list[Incoming]:
        """Everything queued on the socket now (normal queue and, for datagram sockets, the error queue)."""
        out: list[Incoming] = []
        while True:
            try:
                data, ancdata, _flags, addr = self.sock.recvmsg(65535, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:  # a pending ICMP error reported as sk_err: details are on the error queue
                if error.errno in (errno.EAGAIN,):
                    break
                continue
            item = self._parse_raw(data, ancdata, addr[0]) if self.raw else self._parse_dgram(data, ancdata, addr[0])
            if item:
                out.append(item)
        if not self.raw:
            while True:
                try:
                    data, ancdata, _flags, addr = self.sock.recvmsg(65535, _ANCILLARY, socket.MSG_ERRQUEUE)
                except (BlockingIOError, InterruptedError):
                    break
                item = self._parse_error(data, ancdata)
                if item:
                    out.append(item)
        return out

    @staticmethod
    def _cmsgs(ancdata: Ancillary) -> tuple[int | None, int | None, bytes | None]:
        ttl = rx_ns = exterr = None
        for level, kind, value in ancdata:
            if level == socket.SOL_IP and kind == IP_TTL and len(value) >= 4:
                ttl = struct.unpack("=i", value[:4])[0]
            elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack(value[: _TIMESPEC.size])
                rx_ns = sec * 1_000_000_000 + nsec
            elif level == socket.SOL_IP and kind == IP_RECVERR:
                exterr = value
        return ttl, rx_ns, exterr

    def _parse_dgram(self, data: bytes, ancdata: Ancillary, src: str) -> Incoming | None:
        if len(data) < 8 or data[0] != ECHO_REPLY:
            return None
        ttl, rx_ns, _ = self._cmsgs(ancdata)
        return Incoming(
            seq=_ECHO.unpack(data[:8])[4], kind="reply", responder=src, ttl=ttl, size=len(data), rx_ns=rx_ns
        )

    def _parse_error(self, data: bytes, ancdata: Ancillary) -> Incoming | None:
        """An error-queue entry: our own request comes back, with a sock_extended_err naming why."""
        _, _, exterr = self._cmsgs(ancdata)
        if exterr is None or len(data) < 8 or len(exterr) < _EXTERR.size:
            return None
        err, origin, icmp_type, code, _pad, info, _data = _EXTERR.unpack(exterr[: _EXTERR.size])
        seq = _ECHO.unpack(data[:8])[4]
        offender = exterr[_EXTERR.size : _EXTERR.size + 16]
        responder = socket.inet_ntoa(offender[4:8]) if len(offender) >= 8 and offender[0] == socket.AF_INET else ""
        if origin == SO_EE_ORIGIN_ICMP:
            kind, text = error_text(icmp_type, code, info)
        else:
            kind, text = "error", os.strerror(err)
        return Incoming(seq=seq, kind=kind, responder=responder, ttl=None, size=len(data), rx_ns=None, detail=text)

    def _parse_raw(self, data: bytes, ancdata: Ancillary, src: str) -> Incoming | None:
        """A raw socket sees the IP header and every ICMP message of the netns: keep those about our id."""
        if len(data) < 20:
            return None
        ihl = (data[0] & 0x0F) * 4
        icmp = data[ihl:]
        if len(icmp) < 8:
            return None
        icmp_type, code, _sum, ident, seq = _ECHO.unpack(icmp[:8])
        if icmp_type == ECHO_REPLY:
            if ident != self.ident:
                return None
            _, rx_ns, _ = self._cmsgs(ancdata)
            return Incoming(seq=seq, kind="reply", responder=src, ttl=data[8], size=len(icmp), rx_ns=rx_ns)
        inner = icmp[8:]  # the offending packet: its IP header then our echo header
        if len(inner) < 20:
            return None
        inner_icmp = inner[(inner[0] & 0x0F) * 4 :]
        if len(inner_icmp) < 8:
            return None
        in_type, _c, _s, in_ident, in_seq = _ECHO.unpack(inner_icmp[:8])
        if in_type != ECHO_REQUEST or in_ident != self.ident:
            return None
        info = struct.unpack("!H", icmp[6:8])[0] if icmp_type == DEST_UNREACH else 0
        kind, text = error_text(icmp_type, code, info)
        return Incoming(seq=in_seq, kind=kind, responder=src, ttl=None, size=len(icmp), rx_ns=None, detail=text)
