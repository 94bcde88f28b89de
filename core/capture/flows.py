"""What a capture holds, kept within bounds: the last packets (a ring capped in count and in bytes, so a long
capture on a busy link cannot eat the machine's memory) and a per-flow tally of everything seen."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from netcon.core.capture.layers import Arp, Ethernet, Icmp, IPv4, IPv6, Layer, Tcp, Udp, Vxlan
from netcon.core.capture.session import Packet

DEFAULT_KEEP = 10_000
DEFAULT_KEEP_BYTES = 64 << 20


@dataclass(frozen=True)
class Flow:
    """Packets and bytes between two endpoints in one protocol (ports included for TCP and UDP; a VXLAN
    flow is its outer tunnel, labelled with the VNI)."""

    src: str
    dst: str
    proto: str
    packets: int
    bytes: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.src, self.dst, self.proto)


def flow_key(layers: tuple[Layer, ...]) -> tuple[str, str, str]:
    """(src, dst, proto) of a decoded packet: the outermost network header and what it carries."""
    ip: IPv4 | IPv6 | None = None
    for index, layer in enumerate(layers):
        if isinstance(layer, Arp):
            return (layer.sender_ip, layer.target_ip, "arp")
        if isinstance(layer, IPv4 | IPv6):
            ip = layer
            continue
        if ip is None:
            continue
        if isinstance(layer, Udp) and index + 1 < len(layers) and isinstance(layers[index + 1], Vxlan):
            vni = layers[index + 1].vni  # type: ignore[union-attr]
            return (ip.src, ip.dst, f"vxlan vni {vni}")
        if isinstance(layer, Tcp | Udp):
            return (f"{ip.src}.{layer.sport}", f"{ip.dst}.{layer.dport}", layer.proto)
        if isinstance(layer, Icmp):
            return (ip.src, ip.dst, layer.proto)
        break
    if ip is not None:
        return (ip.src, ip.dst, f"{ip.proto} {ip.protocol if isinstance(ip, IPv4) else ip.next_header}")
    eth = next((layer for layer in layers if isinstance(layer, Ethernet)), None)
    if eth is not None:
        return (eth.src, eth.dst, f"ethertype {eth.ethertype:#06x}")
    return ("?", "?", "?")


class FlowTable:
    """Counts per flow; ``add`` takes a packet and its decoded layers. Not thread-safe: one owner."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str], list[int]] = {}

    def add(self, packet: Packet, layers: tuple[Layer, ...]) -> tuple[str, str, str]:
        key = flow_key(layers)
        counts = self._counts.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += packet.length
        return key

    def flows(self) -> list[Flow]:
        """Every flow, most bytes first."""
        flows = [Flow(*key, packets, size) for key, (packets, size) in self._counts.items()]
        return sorted(flows, key=lambda f: (-f.bytes, f.key))

    def clear(self) -> None:
        self._counts.clear()

    def __len__(self) -> int:
        return len(self._counts)


class Recent:
    """The last packets, at most ``max_packets`` of them and ``max_bytes`` of captured data; older ones are
    forgotten first. ``forgotten`` says how many went."""

    def __init__(self, max_packets: int = DEFAULT_KEEP, max_bytes: int = DEFAULT_KEEP_BYTES) -> None:
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self.packets: deque[Packet] = deque()
        self.size = 0
        self.forgotten = 0
        self.first = 0  # sequence number of ``packets[0]``: packets keep their number while they are kept

    def extend(self, packets: Iterable[Packet]) -> None:
        for packet in packets:
            self.packets.append(packet)
            self.size += len(packet.data)
        while self.packets and (len(self.packets) > self.max_packets or self.size > self.max_bytes):
            self.size -= len(self.packets.popleft().data)
            self.forgotten += 1
            self.first += 1

    @property
    def next_number(self) -> int:
        return self.first + len(self.packets)

    def get(self, number: int) -> Packet | None:
        """The packet numbered ``number`` (0 is the first ever kept), or None once forgotten."""
        index = number - self.first
        return self.packets[index] if 0 <= index < len(self.packets) else None

    def clear(self) -> None:
        self.first += len(self.packets)
        self.packets.clear()
        self.size = 0
