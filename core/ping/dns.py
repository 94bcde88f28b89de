"""A DNS A-record query and its answer, encoded by hand (RFC 1035): enough to ask a source's own nameserver,
such as Docker's embedded DNS at 127.0.0.11, from a UDP socket created inside the source's namespace."""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

TYPE_A, CLASS_IN = 1, 1
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
_HEADER = struct.Struct("!HHHHHH")  # id, flags, qdcount, ancount, nscount, arcount
_RR = struct.Struct("!HHIH")  # type, class, ttl, rdlength


class MalformedAnswer(ValueError):
    """The bytes received are not a DNS answer to our query."""


@dataclass(frozen=True)
class Answer:
    rcode: str
    addresses: tuple[str, ...]


def encode_query(name: str, ident: int | None = None) -> tuple[int, bytes]:
    """(id, packet) of a recursive A query for ``name``."""
    ident = int.from_bytes(os.urandom(2), "big") if ident is None else ident
    labels = b"".join(bytes([len(p)]) + p for p in (x.encode("idna") for x in name.rstrip(".").split(".")) if p)
    return ident, _HEADER.pack(ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", TYPE_A, CLASS_IN)


def _skip_name(data: bytes, pos: int) -> int:
    while True:
        if pos >= len(data):
            raise MalformedAnswer("name runs past the end")
        length = data[pos]
        if length & 0xC0 == 0xC0:  # compression pointer ends the name
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length


def decode_answer(data: bytes, ident: int) -> Answer:
    """The rcode and the A records of an answer to query ``ident`` (CNAME chains: their A records are in it)."""
    if len(data) < _HEADER.size:
        raise MalformedAnswer("shorter than a DNS header")
    rid, flags, qdcount, ancount, _ns, _ar = _HEADER.unpack_from(data)
    if rid != ident or not flags & 0x8000:
        raise MalformedAnswer("not the answer to our query")
    pos = _HEADER.size
    for _ in range(qdcount):
        pos = _skip_name(data, pos) + 4
    addresses = []
    for _ in range(ancount):
        pos = _skip_name(data, pos)
        if pos + _RR.size > len(data):
            raise MalformedAnswer("record runs past the end")
        rtype, rclass, _ttl, rdlength = _RR.unpack_from(data, pos)
        pos += _RR.size
        if rtype == TYPE_A and rclass == CLASS_IN and rdlength == 4:
            addresses.append(socket.inet_ntoa(data[pos : pos + 4]))
        pos += rdlength
    return Answer(RCODES.get(flags & 0x0F, f"RCODE{flags & 0x0F}"), tuple(addresses))
