"""Saving captures for Wireshark and reading them back.

Written as pcapng: one interface block per captured interface (its name, and the namespace it lives in as
the block's comment), packets with nanosecond timestamps and their direction, and at the end one statistics
block per interface with the kernel's count of packets and drops, so a saved file says what was lost. Read
back: pcapng (every section and byte order) and classic pcap (micro- and nanosecond), into the same records
the live capture gives, for the same decoder.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from netcon.core.capture.bpf import DLT_EN10MB, SNAPLEN
from netcon.core.capture.ring import Endpoint
from netcon.core.capture.session import CaptureStats, Packet
from netcon.core.errors import NetconError, UsageError

SHB, IDB, EPB, SPB, ISB = 0x0A0D0D0A, 1, 6, 3, 5
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_END, OPT_COMMENT = 0, 1
IF_NAME, IF_DESCRIPTION, IF_TSRESOL = 2, 3, 9
SHB_USERAPPL = 4
EPB_FLAGS = 2
ISB_STARTTIME, ISB_ENDTIME, ISB_IFRECV, ISB_OSDROP = 2, 3, 4, 7
PCAP_MAGICS = {0xA1B2C3D4: 1000, 0xA1B23C4D: 1}  # classic pcap: nanoseconds per timestamp unit
MAX_BLOCK = 16 << 20  # a block larger than this is a corrupt file, not a packet


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("=HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("=II", kind, length) + body + struct.pack("=I", length)


def _options(*options: bytes) -> bytes:
    return b"".join(options) + struct.pack("=HH", OPT_END, 0)


class PcapngWriter:
    """Appends packets of a capture to ``path`` (or an open binary file). Interfaces are declared up front,
    in the capture's order, so a packet's interface id is its endpoint's index."""

    def __init__(self, path: str, endpoints: tuple[Endpoint, ...]) -> None:
        self.path = path
        try:
            self.file: BinaryIO = open(path, "wb", buffering=1 << 20)  # noqa: SIM115 -- closed by close()
        except OSError as error:
            raise UsageError(f"Output file {path} cannot be written: {error.strerror}.", target="write") from None
        self.endpoints = endpoints
        self.index = {e: i for i, e in enumerate(endpoints)}
        self.first_ns = 0
        self.last_ns = 0
        self._epb = struct.Struct("=IIIIIII")
        header = struct.pack("=IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
        self._write(_block(SHB, header + _options(_option(SHB_USERAPPL, b"netcon"))))
        for e in endpoints:
            comment = f"netns {e.netns_label}" + (f" ({e.netns})" if e.netns else "")
            options = _options(
                _option(IF_NAME, e.ifname.encode()),
                _option(IF_DESCRIPTION, e.label.encode()),
                _option(OPT_COMMENT, comment.encode()),
                _option(IF_TSRESOL, b"\x09"),  # timestamps in nanoseconds
            )
            self._write(_block(IDB, struct.pack("=HHI", DLT_EN10MB, 0, SNAPLEN) + options))

    def _write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as error:
            raise NetconError(f"Writing {self.path} failed: {error.strerror}.", target="write") from None

    def write_raw(self, interface: int, sec: int, nsec: int, length: int, data: bytes, outgoing: bool) -> None:
        """One packet as the capture's raw record gives it (no ``Packet`` object needed)."""
        ts = sec * 1_000_000_000 + nsec
        self.first_ns = self.first_ns or ts
        self.last_ns = ts
        pad = -len(data) % 4
        total = 32 + len(data) + pad + 12  # header, data, one flags option and its end, trailing length
        head = self._epb.pack(EPB, total, interface, ts >> 32, ts & 0xFFFFFFFF, len(data), length)
        flags = struct.pack("=HHIHH", EPB_FLAGS, 4, 2 if outgoing else 1, OPT_END, 0)
        self._write(head + data + b"\0" * pad + flags + struct.pack("=I", total))

    def write(self, packet: Packet) -> None:
        self.write_raw(
            self.index[packet.endpoint],
            packet.ts_ns // 1_000_000_000,
            packet.ts_ns % 1_000_000_000,
            packet.length,
            packet.data,
            packet.outgoing,
        )

    def close(self, stats: CaptureStats | None = None) -> None:
        """Statistics blocks (when the capture's ``stats`` are given), then flush and close."""
        try:
            if stats is not None:
                for s in stats.interfaces:
                    if s.endpoint not in self.index:
                        continue
                    options = _options(
                        _option(ISB_STARTTIME, struct.pack("=II", self.first_ns >> 32, self.first_ns & 0xFFFFFFFF)),
                        _option(ISB_ENDTIME, struct.pack("=II", self.last_ns >> 32, self.last_ns & 0xFFFFFFFF)),
                        _option(ISB_IFRECV, struct.pack("=Q", s.received)),
                        _option(ISB_OSDROP, struct.pack("=Q", s.dropped)),
                    )
                    body = struct.pack("=III", self.index[s.endpoint], self.last_ns >> 32, self.last_ns & 0xFFFFFFFF)
                    self._write(_block(ISB, body + options))
            self.file.flush()
        except OSError as error:
            raise NetconError(f"Writing {self.path} failed: {error.strerror}.", target="write") from None
        finally:
            self.file.close()


def write_packets(path: str, packets: list[Packet], stats: CaptureStats | None = None) -> int:
    """Save ``packets`` (e.g. the console's kept ones) to ``path``; the number written."""
    endpoints = tuple(dict.fromkeys(p.endpoint for p in packets))
    writer = PcapngWriter(path, endpoints)
    try:
        for packet in packets:
            writer.write(packet)
    finally:
        writer.close(stats)
    return len(packets)


# -- reading ------------------------------------------------------------------------------------------------


@dataclass
class _Interface:
    endpoint: Endpoint
    linktype: int
    units_ns: int  # nanoseconds per timestamp unit (if_tsresol)


def read_packets(path: str) -> Iterator[Packet]:
    """Every Ethernet packet of a pcapng or pcap file, as ``Packet``s (interface and namespace from the
    interface blocks netcon writes; other files name the interface as their blocks do, or "if0")."""
    try:
        f = open(path, "rb")  # noqa: SIM115 -- closed below, also when the caller stops iterating
    except OSError as error:
        raise UsageError(f"Capture file {path} cannot be read: {error.strerror}.", target="read") from None
    with f:
        head = f.read(4)
        if len(head) < 4:
            raise UsageError(f"{path} is not a pcap or pcapng file: it is empty or too short.", target="read")
        magic = struct.unpack("<I", head)[0]
        if magic == SHB:
            yield from _pcapng(f, path)
        elif magic in PCAP_MAGICS or struct.unpack(">I", head)[0] in PCAP_MAGICS:
            yield from _pcap(f, path, head)
        else:
            raise UsageError(f"{path} is not a pcap or pcapng file (it starts with {head.hex()}).", target="read")


def _corrupt(path: str, why: str) -> UsageError:
    return UsageError(f"{path} is not a valid capture file: {why}.", target="read")


def _pcapng(f: BinaryIO, path: str) -> Iterator[Packet]:
    order = "<"
    interfaces: list[_Interface] = []
    kind = SHB
    while True:
        if kind == SHB:
            raw = f.read(8)
            if len(raw) < 8:
                raise _corrupt(path, "the section header is cut short")
            order = "<" if struct.unpack("<I", raw[4:8])[0] == BYTE_ORDER_MAGIC else ">"
            length = struct.unpack(order + "I", raw[:4])[0]
            if not 28 <= length <= MAX_BLOCK:
                raise _corrupt(path, f"a section header of {length} bytes")
            f.read(length - 12)
            interfaces = []
        else:
            raw = f.read(4)
            if len(raw) < 4:
                raise _corrupt(path, "a block is cut short")
            length = struct.unpack(order + "I", raw)[0]
            if not 12 <= length <= MAX_BLOCK or length % 4:
                raise _corrupt(path, f"a block claims {length} bytes")
            body = f.read(length - 12)
            if len(body) < length - 12 or len(f.read(4)) < 4:
                raise _corrupt(path, "the last block is cut short")
            if kind == IDB:
                interfaces.append(_interface(body, order, len(interfaces)))
            elif kind == EPB:
                packet = _enhanced(body, order, interfaces, path)
                if packet is not None:
                    yield packet
            elif kind == SPB and interfaces:
                wire = struct.unpack_from(order + "I", body)[0]
                yield Packet(0, interfaces[0].endpoint, wire, body[4 : 4 + min(wire, len(body) - 4)], False)
        raw = f.read(4)
        if not raw:
            return
        if len(raw) < 4:
            raise _corrupt(path, "trailing bytes after the last block")
        kind = struct.unpack(order + "I", raw)[0]


def _interface(body: bytes, order: str, number: int) -> _Interface:
    linktype = struct.unpack_from(order + "H", body)[0]
    name, comment, units = f"if{number}", "", 1000  # pcapng's default resolution is microseconds
    for code, value in _read_options(body, 8, order):
        if code == IF_NAME:
            name = value.decode(errors="replace")
        elif code == OPT_COMMENT:
            comment = value.decode(errors="replace")
        elif code == IF_TSRESOL and value:
            exp = value[0] & 0x7F
            units = (10**9 // 10**exp if exp <= 9 else 1) if not value[0] & 0x80 else max(1, 10**9 >> exp)
    label = comment.removeprefix("netns ").split(" (", 1)[0] if comment.startswith("netns ") else "file"
    return _Interface(Endpoint(name, None, label), linktype, units)


def _read_options(body: bytes, o: int, order: str) -> Iterator[tuple[int, bytes]]:
    while o + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, o)
        if code == OPT_END:
            return
        yield code, body[o + 4 : o + 4 + length]
        o += 4 + length + (-length % 4)


def _enhanced(body: bytes, order: str, interfaces: list[_Interface], path: str) -> Packet | None:
    iface, high, low, caplen, wire = struct.unpack_from(order + "IIIII", body)
    if iface >= len(interfaces):
        raise _corrupt(path, f"a packet on interface {iface}, which no interface block declared")
    info = interfaces[iface]
    if info.linktype != DLT_EN10MB:
        return None
    data = body[20 : 20 + caplen]
    outgoing = False
    for code, value in _read_options(body, 20 + caplen + (-caplen % 4), order):
        if code == EPB_FLAGS and len(value) == 4:
            outgoing = struct.unpack(order + "I", value)[0] & 0x3 == 2
    return Packet(((high << 32) | low) * info.units_ns, info.endpoint, wire, data, outgoing)


def _pcap(f: BinaryIO, path: str, head: bytes) -> Iterator[Packet]:
    order = "<" if struct.unpack("<I", head)[0] in PCAP_MAGICS else ">"
    units = PCAP_MAGICS[struct.unpack(order + "I", head)[0]]
    rest = f.read(20)
    if len(rest) < 20:
        raise _corrupt(path, "the file header is cut short")
    linktype = struct.unpack(order + "I", rest[16:20])[0] & 0x0FFFFFFF
    if linktype != DLT_EN10MB:
        raise UsageError(f"{path} holds link type {linktype}; netcon reads Ethernet captures.", target="read")
    endpoint = Endpoint(os.path.basename(path), None, "file")
    record = struct.Struct(order + "IIII")
    while True:
        raw = f.read(16)
        if not raw:
            return
        if len(raw) < 16:
            raise _corrupt(path, "a packet header is cut short")
        sec, frac, caplen, wire = record.unpack(raw)
        if caplen > MAX_BLOCK:
            raise _corrupt(path, f"a packet claims {caplen} bytes")
        data = f.read(caplen)
        if len(data) < caplen:
            raise _corrupt(path, "the last packet is cut short")
        yield Packet(sec * 1_000_000_000 + frac * units, endpoint, wire, data, False)
