"""The proof's one packet: an ICMP echo with an id of its own, a TCP SYN (a real connect, closed with a reset)
or a UDP datagram carrying a random token, sent from a socket created inside the source's namespace. The
socket is opened first, so its id or source port is known before the capture and the trace rules are set
up; ``send`` then sends, ``answer`` says what came back."""

from __future__ import annotations

import errno
import os
import random
import select
import socket
import struct
import time
from dataclasses import dataclass

from netcon.core.errors import NetconError, PermissionDenied
from netcon.core.netns import run_in_netns
from netcon.core.ping.icmp import PingSocket, payload_of

PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17}  # IP protocol numbers of what a trace can send
PORTS = (32768, 60999)  # the kernel's default ephemeral range: what a client's source port looks like


@dataclass(frozen=True)
class Identity:
    """How the probe's packets are told apart from all others, on every hop: ICMP echo id, or the TCP/UDP
    source port (the reply's destination port)."""

    proto: str
    ident: int  # ICMP echo id, or the source port
    token: bytes  # the payload (ICMP, UDP)

    @property
    def bpf(self) -> str:
        """The capture filter: the probe's own packets, ICMP errors (a UDP probe's port unreachable quotes it),
        and VXLAN (which carries them between hosts)."""
        own = f"icmp and icmp[4:2] = {self.ident}" if self.proto == "icmp" else f"{self.proto} port {self.ident}"
        return f"({own}) or (icmp and icmp[0] = 3) or udp port 8472 or udp port 4789"


@dataclass(frozen=True)
class Answer:
    replied: bool  # an echo reply, a SYN-ACK, a reset or a UDP datagram came back
    kind: str  # "echo reply", "syn-ack", "reset", "udp reply", "unreachable", "no reply"
    detail: str
    responder: str | None = None
    ttl: int | None = None
    rtt_ms: float | None = None


class Probe:
    """``Probe.open(netns, proto, dst, port)``; ``send()``; ``poll(timeout)`` until ``answer`` is set; ``close``."""

    def __init__(self, sock: socket.socket | PingSocket, identity: Identity, dst: str, port: int | None) -> None:
        self.sock = sock
        self.identity = identity
        self.dst = dst
        self.port = port
        self.sent_at = 0.0
        self.answer: Answer | None = None

    @classmethod
    def open(cls, netns: str | None, proto: str, dst: str, port: int | None) -> Probe:
        ident = random.randint(*PORTS)
        token = os.urandom(16)

        def make() -> socket.socket | PingSocket:
            if proto == "icmp":
                ping = PingSocket.open()
                if not ping.raw:
                    ping.sock.bind(("0.0.0.0", ident))  # a ping socket's bound "port" is its echo id
                ping.ident = ident
                return ping
            kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
            sock = socket.socket(socket.AF_INET, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", ident))
            sock.setblocking(False)
            if proto == "tcp":  # close with a reset, not a FIN handshake that outlives the trace
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.setsockopt(socket.SOL_IP, 11, 1)  # IP_RECVERR: an ICMP error comes back as the socket's error
            return sock

        try:
            sock = run_in_netns(netns, make)
        except PermissionError:
            raise PermissionDenied("Sending the probe needs root (CAP_NET_RAW).") from None
        except OSError as error:
            raise NetconError(f"The probe's socket could not be opened: {error.strerror}.") from None
        return cls(sock, Identity(proto, ident, token), dst, port)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self) -> None:
        self.sent_at = time.time()
        try:
            if isinstance(self.sock, PingSocket):
                self.sock.send(self.dst, 1, self.identity.token + payload_of(40))
            elif self.identity.proto == "tcp":
                self.sock.connect_ex((self.dst, self.port or 0))
            else:
                self.sock.connect((self.dst, self.port or 0))
                self.sock.send(self.identity.token)
        except OSError as error:  # the source's own kernel refused at once (no route there)
            self.answer = Answer(False, "not sent", f"the source's kernel refused to send it: {error.strerror}")

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the answer (sets ``answer``)."""
        if self.answer is not None:
            return
        events = select.POLLIN | select.POLLERR | (select.POLLOUT if self.identity.proto == "tcp" else 0)
        poller = select.poll()
        poller.register(self.fileno(), events)
        if not poller.poll(max(0, int(timeout * 1000))):
            return
        rtt = (time.time() - self.sent_at) * 1000
        if isinstance(self.sock, PingSocket):
            for got in self.sock.read_all():
                if got.seq == 1 and got.kind == "reply":
                    self.answer = Answer(True, "echo reply", "echo reply", got.responder, got.ttl, rtt)
                elif got.seq == 1:
                    self.answer = Answer(False, got.kind, got.detail, got.responder, None, rtt)
            return
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if self.identity.proto == "tcp":
            if code == 0:
                self.answer = Answer(True, "syn-ack", "connected (SYN-ACK came back)", self.dst, None, rtt)
            elif code == errno.ECONNREFUSED:
                self.answer = Answer(True, "reset", "a TCP reset came back: the port is closed", self.dst, None, rtt)
            elif code not in (0, errno.EINPROGRESS):
                self.answer = Answer(False, "unreachable", os.strerror(code), None, None, rtt)
            return
        if code == errno.ECONNREFUSED:
            self.answer = Answer(
                True, "unreachable", "ICMP port unreachable came back: the port is closed", self.dst, None, rtt
            )
        elif code:
            self.answer = Answer(False, "unreachable", os.strerror(code), None, None, rtt)
        else:
            try:
                self.sock.recv(65535)
                self.answer = Answer(True, "udp reply", "a UDP datagram came back", self.dst, None, rtt)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
