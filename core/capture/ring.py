"""One packet socket on one interface, with the kernel's TPACKET_V3 ring mapped into our memory.

The kernel fills whole blocks of packets and hands a block over at once (when it is full or after
``RETIRE_MS``), so a busy interface costs one poll wake-up per block instead of one ``recv`` per packet. The
compiled filter is attached before the socket is bound to a protocol, so not one unwanted packet is queued.
The kernel's counters (PACKET_STATISTICS: packets seen by the filter, packets dropped because the ring was
full) are read and summed, never hidden.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import mmap
import os
import socket
import struct
from dataclasses import dataclass

from netcon.core.capture.bpf import Program
from netcon.core.errors import NetconError, PermissionDenied

# <linux/if_packet.h>, <linux/if_ether.h>, <asm-generic/socket.h>, <linux/if_arp.h>, <linux/sockios.h>
SOL_PACKET = 263
PACKET_RX_RING, PACKET_STATISTICS, PACKET_VERSION = 5, 6, 10
TPACKET_V3 = 2
SO_ATTACH_FILTER = 26
ETH_P_ALL = 0x0003
TP_STATUS_KERNEL, TP_STATUS_USER = 0, 1
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 1 << 4, 1 << 6
PACKET_OUTGOING = 4
ARPHRD_ETHER, ARPHRD_LOOPBACK = 1, 772
SIOCGIFINDEX, SIOCGIFHWADDR = 0x8933, 0x8927
ETHERNET_LIKE = (ARPHRD_ETHER, ARPHRD_LOOPBACK)  # veth, bridge, vxlan, physical, lo: all DLT_EN10MB

BLOCK_SIZE = 1 << 18  # 256 KiB: a multiple of the page size, larger than any GSO packet
RETIRE_MS = 50  # a partly filled block is handed over after this long: packets show within ~50 ms
DEFAULT_RING_MB = 4

_REQ3 = struct.Struct("=7I")  # tpacket_req3
_BLOCK = struct.Struct("=IIIII")  # tpacket_block_desc: version, offset_to_priv, block_status, num_pkts, first
_STATUS_AT = 8  # offset of block_status in the block descriptor
_PKT = struct.Struct("=IIIIIIHHIIH")  # tpacket3_hdr: next, sec, nsec, snaplen, len, status, mac, net, hv1...
_SLL_PKTTYPE_AT = 48 + 10  # sockaddr_ll after TPACKET_ALIGN(sizeof(tpacket3_hdr)); sll_pkttype at +10
_STATS = struct.Struct("=III")  # tpacket_stats_v3: packets, drops, freeze_q_cnt
_IFREQ = struct.Struct("=16sH14x")  # ifreq with a short (ifindex's first half, or sa_family) after the name
_VLAN = struct.Struct("!HH")

# (seconds, nanoseconds, length on the wire, bytes captured, sent by this interface) of one packet
RawPacket = tuple[int, int, int, bytes, bool]


@dataclass(frozen=True)
class Endpoint:
    """An interface to capture on: its name, the namespace file it lives in (None: netcon's own) and how
    that namespace is called in output ("host", "container app1", "nclab-h1")."""

    ifname: str
    netns: str | None
    netns_label: str

    @property
    def label(self) -> str:
        return f"{self.ifname} in {self.netns_label}"


def _ifreq(sock: socket.socket, request: int, ifname: str) -> int:
    """The short after the name in the answer to an interface ioctl, asked of ``sock``'s own namespace."""
    buf = bytearray(_IFREQ.pack(ifname.encode(), 0))
    fcntl.ioctl(sock.fileno(), request, buf)
    value: int = _IFREQ.unpack(buf)[1]
    return value


def _attach(sock: socket.socket, program: Program) -> None:
    """SO_ATTACH_FILTER with a ``struct sock_fprog`` pointing at the instructions (kept alive across the call)."""
    code = ctypes.create_string_buffer(program.packed())
    fprog = struct.pack("HL", len(program.instructions), ctypes.addressof(code))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


class PacketSocket:
    """A bound AF_PACKET socket with its ring. ``open`` must run inside the endpoint's namespace (see
    ``core.netns``); everything after works from any thread of any namespace."""

    def __init__(self, endpoint: Endpoint, sock: socket.socket, ring: mmap.mmap, blocks: int, loopback: bool):
        self.endpoint = endpoint
        self.sock = sock
        self.ring = ring
        self.blocks = blocks
        self.loopback = loopback
        self.block = 0
        self.received = 0  # packets the filter accepted, as the kernel counts them
        self.drops = 0  # of those, dropped because the ring was full

    @classmethod
    def open(cls, endpoint: Endpoint, program: Program | None, ring_mb: int = DEFAULT_RING_MB) -> PacketSocket:
        """Socket, filter, ring, bind, in that order; nothing is left open when a step fails."""
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: receives nothing yet
        except PermissionError:
            raise PermissionDenied(
                f"Capturing on {endpoint.label} needs root (CAP_NET_RAW).", target=endpoint.ifname
            ) from None
        ring = None
        try:
            loopback = cls._check_link(sock, endpoint)
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            if program is not None:
                _attach(sock, program)
            blocks = max(2, ring_mb * (1 << 20) // BLOCK_SIZE)
            frame = 1 << 11
            req = _REQ3.pack(BLOCK_SIZE, blocks, frame, BLOCK_SIZE * blocks // frame, RETIRE_MS, 0, 0)
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
            ring = mmap.mmap(sock.fileno(), BLOCK_SIZE * blocks, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            sock.bind((endpoint.ifname, ETH_P_ALL))
            sock.setblocking(False)
            return cls(endpoint, sock, ring, blocks, loopback)
        except BaseException as error:
            if ring is not None:
                ring.close()
            sock.close()
            if isinstance(error, OSError):
                raise _translate(endpoint, error) from None
            raise

    @staticmethod
    def _check_link(sock: socket.socket, endpoint: Endpoint) -> bool:
        """Refuse interfaces that are missing or carry no Ethernet frames; True for loopback."""
        try:
            _ifreq(sock, SIOCGIFINDEX, endpoint.ifname)
            hatype = _ifreq(sock, SIOCGIFHWADDR, endpoint.ifname)
        except OSError as error:
            if error.errno == errno.ENODEV:
                raise NetconError(f"No interface {endpoint.ifname} in {endpoint.netns_label}.") from None
            raise
        if hatype not in ETHERNET_LIKE:
            raise NetconError(
                f"Interface {endpoint.label} carries no Ethernet frames (link type {hatype}); netcon captures "
                "Ethernet, veth, bridge, VXLAN and loopback interfaces."
            )
        return hatype == ARPHRD_LOOPBACK

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self, out: list[RawPacket], keep: bool = True) -> int:
        """Append every packet of every block the kernel has handed over (``keep`` False: only count them,
        the ring is still emptied); the number of packets."""
        total = 0
        ring, unpack, size = self.ring, _PKT.unpack_from, BLOCK_SIZE
        while True:
            base = self.block * size
            _v, _p, status, count, offset = _BLOCK.unpack_from(ring, base)
            if not status & TP_STATUS_USER:
                return total
            if keep:
                pos = base + offset
                for _ in range(count):
                    nxt, sec, nsec, snap, wire, pstatus, mac, _net, _hash, tci, tpid = unpack(ring, pos)
                    outgoing = ring[pos + _SLL_PKTTYPE_AT] == PACKET_OUTGOING
                    if not (outgoing and self.loopback):  # lo shows each packet again as incoming
                        data = ring[pos + mac : pos + mac + snap]
                        if pstatus & TP_STATUS_VLAN_VALID:  # the kernel took the 802.1Q tag off: put it back
                            tag = tpid if pstatus & TP_STATUS_VLAN_TPID_VALID else 0x8100
                            data = data[:12] + _VLAN.pack(tag, tci) + data[12:]
                            wire += 4
                        out.append((sec, nsec, wire, data, outgoing))
                    pos += nxt
            total += count
            struct.pack_into("=I", ring, base + _STATUS_AT, TP_STATUS_KERNEL)
            self.block = (self.block + 1) % self.blocks

    def statistics(self) -> tuple[int, int]:
        """(received, dropped) since the socket was opened (the kernel resets its counters on each read)."""
        with contextlib.suppress(OSError):
            packets, drops, _freeze = _STATS.unpack(self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size))
            self.received += packets
            self.drops += drops
        return self.received, self.drops

    def close(self) -> None:
        with contextlib.suppress(BufferError):
            self.ring.close()
        self.sock.close()


def _translate(endpoint: Endpoint, error: OSError) -> NetconError:
    if isinstance(error, NetconError):
        return error
    if error.errno in (errno.EPERM, errno.EACCES):
        return PermissionDenied(f"Capturing on {endpoint.label} needs root (CAP_NET_RAW).", target=endpoint.ifname)
    if error.errno == errno.ENODEV:
        return NetconError(f"No interface {endpoint.ifname} in {endpoint.netns_label}.", target=endpoint.ifname)
    if error.errno == errno.ENETDOWN:
        return NetconError(f"Interface {endpoint.label} is down.", target=endpoint.ifname)
    return NetconError(
        f"Capturing on {endpoint.label} failed: {error.strerror or os.strerror(error.errno or 0)}.",
        target=endpoint.ifname,
    )
