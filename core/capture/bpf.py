"""tcpdump's filter language, compiled by libpcap itself (Debian's ``libpcap0.8``, through ctypes on a dead
handle) into the classic BPF program the kernel runs on a packet socket, so unwanted packets never reach
Python. A filter libpcap refuses is refused with libpcap's own words."""

from __future__ import annotations

import ctypes
import ctypes.util
import struct
import threading
from dataclasses import dataclass

from netcon.core.errors import NetconError, UsageError

DLT_EN10MB = 1  # Ethernet link type (also what the kernel gives veth, bridge, vxlan and loopback devices)
SNAPLEN = 262144  # tcpdump's default: the filter's accept value is the bytes kept of each packet
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF
LIBRARY_NAMES = ("libpcap.so.0.8", "libpcap.so.1", "libpcap.so")
_INSN = struct.Struct("=HBBI")  # struct sock_filter: code, jt, jf, k


class _Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class _Program(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_Insn))]


@dataclass(frozen=True)
class Program:
    """A compiled filter: ``expression`` as the user wrote it and libpcap's instructions (code, jt, jf, k)."""

    expression: str
    instructions: tuple[tuple[int, int, int, int], ...]

    def packed(self) -> bytes:
        """The ``struct sock_filter`` array SO_ATTACH_FILTER takes."""
        return b"".join(_INSN.pack(*insn) for insn in self.instructions)


class _Libpcap:
    """The loaded library and a dead handle; pcap_compile is called under a lock (older libpcaps keep the
    parser's state in globals)."""

    def __init__(self) -> None:
        self.lib = self._load()
        self.lib.pcap_open_dead.restype = ctypes.c_void_p
        self.lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
        self.lib.pcap_compile.restype = ctypes.c_int
        self.lib.pcap_compile.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(_Program),
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_uint32,
        ]
        self.lib.pcap_geterr.restype = ctypes.c_char_p
        self.lib.pcap_geterr.argtypes = [ctypes.c_void_p]
        self.lib.pcap_freecode.argtypes = [ctypes.POINTER(_Program)]
        self.lib.pcap_lib_version.restype = ctypes.c_char_p
        self.lock = threading.Lock()
        self.handles: dict[tuple[int, int], int] = {}

    @staticmethod
    def _load() -> ctypes.CDLL:
        names = [*LIBRARY_NAMES, ctypes.util.find_library("pcap")]
        for name in filter(None, names):
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
        raise NetconError(
            "libpcap is not installed (Debian: apt-get install libpcap0.8): netcon compiles capture filters with it."
        )

    def handle(self, linktype: int, snaplen: int) -> int:
        key = (linktype, snaplen)
        if key not in self.handles:
            handle = self.lib.pcap_open_dead(linktype, snaplen)
            if not handle:
                raise NetconError("libpcap could not open a handle to compile filters with.")
            self.handles[key] = handle
        return self.handles[key]


_loaded: _Libpcap | None = None
_load_lock = threading.Lock()


def _libpcap() -> _Libpcap:
    global _loaded
    with _load_lock:
        if _loaded is None:
            _loaded = _Libpcap()
        return _loaded


def version() -> str:
    """libpcap's own version line ("libpcap version 1.10.3 (with TPACKET_V3)")."""
    return (_libpcap().lib.pcap_lib_version() or b"").decode(errors="replace")


def compile_filter(expression: str, linktype: int = DLT_EN10MB, snaplen: int = SNAPLEN) -> Program:
    """``expression`` (tcpdump syntax, as given; checked with ``validate.values.text`` by callers) compiled and
    optimised as tcpdump does. A bad filter raises ``UsageError`` with libpcap's message."""
    pcap = _libpcap()
    program = _Program()
    with pcap.lock:
        handle = pcap.handle(linktype, snaplen)
        if pcap.lib.pcap_compile(handle, ctypes.byref(program), expression.encode(), 1, PCAP_NETMASK_UNKNOWN) != 0:
            reason = (pcap.lib.pcap_geterr(handle) or b"").decode(errors="replace")
            raise UsageError(f"Filter {expression!r} is not valid: {reason}.", target="filter")
        try:
            instructions = tuple((insn.code, insn.jt, insn.jf, insn.k) for insn in program.bf_insns[: program.bf_len])
        finally:
            pcap.lib.pcap_freecode(ctypes.byref(program))
    return Program(expression, instructions)
