"""Two network namespaces joined by a veth pair (``a`` and ``b``, 198.19.N.1 and .2 in a /24 the machine does
not use), optionally with 802.1Q frames, a VXLAN tunnel and a routed network beyond b: traffic between them stays
between them and crosses no firewall. Everything carries a unique prefix and is removed by ``close()``, even
after a half-made setup."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import uuid
from ipaddress import ip_network

from netcon.core.netns import run_in_netns
from netcon.core.ping.icmp import checksum, echo_request, payload_of
from tests.flannel.netlab import host_networks


def free_networks(count: int) -> list[str]:
    """``count`` /24s (as "198.19.N") that no address or route of the machine overlaps."""
    taken = host_networks()
    free = [
        f"198.19.{n}" for n in range(100, 200) if not any(ip_network(f"198.19.{n}.0/24").overlaps(t) for t in taken)
    ]
    assert len(free) >= count, "198.19.100-199.0/24 are taken on this machine"
    return free[:count]


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=20)


class NetPair:
    def __init__(self) -> None:
        self.tag = f"ncc{uuid.uuid4().hex[:5]}"
        self.ns_a, self.ns_b = f"{self.tag}a", f"{self.tag}b"
        self.if_a, self.if_b = f"{self.tag}va", f"{self.tag}vb"  # the veth ends, one in each namespace
        self.nets = free_networks(3)  # the link, a VXLAN overlay, a network "beyond" b
        self.addr_a, self.addr_b = f"{self.nets[0]}.1", f"{self.nets[0]}.2"
        self.made: list[str] = []
        try:
            for ns in (self.ns_a, self.ns_b):
                ip("netns", "add", ns)
                self.made.append(ns)
            ip(
                "link",
                "add",
                self.if_a,
                "netns",
                self.ns_a,
                "type",
                "veth",
                "peer",
                "name",
                self.if_b,
                "netns",
                self.ns_b,
            )
            for ns, ifname, addr in ((self.ns_a, self.if_a, self.addr_a), (self.ns_b, self.if_b, self.addr_b)):
                ip("-n", ns, "addr", "add", f"{addr}/24", "dev", ifname)
                ip("-n", ns, "link", "set", ifname, "up")
                ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise

    def mac(self, ns: str, ifname: str) -> str:
        shown = subprocess.run(
            ["ip", "-n", ns, "-j", "link", "show", ifname], capture_output=True, text=True, check=True
        )
        return json.loads(shown.stdout)[0]["address"]

    def send_tagged_echo(self, vid: int = 10, count: int = 2) -> None:
        """ICMP echoes in 802.1Q frames from a to b, written on a's veth through a packet socket: this machine's
        kernel has no 8021q module to make a VLAN device, so the frames are built here and the kernel carries
        them (b's receive path takes the tag off into metadata, which a capture must put back)."""
        dst, src = (
            bytes.fromhex(self.mac(ns, i).replace(":", ""))
            for ns, i in ((self.ns_b, self.if_b), (self.ns_a, self.if_a))
        )
        frames = []
        for seq in range(1, count + 1):
            icmp = echo_request(0x4242, seq, payload_of(56))
            header = struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(icmp),
                seq,
                0x4000,
                64,
                1,
                0,
                socket.inet_aton(self.addr_a),
                socket.inet_aton(self.addr_b),
            )
            header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
            frames.append(dst + src + struct.pack("!HHH", 0x8100, vid, 0x0800) + header + icmp)

        def send() -> None:
            with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
                sock.bind((self.if_a, 0))
                for frame in frames:
                    sock.send(frame)

        run_in_netns(self.path(self.ns_a), send)

    def add_vxlan(self, vni: int = 1, port: int = 4789) -> tuple[str, str]:
        """A VXLAN device in each namespace tunnelling over the veth (as flannel.1 does over a host's link);
        the (a, b) addresses inside it."""
        a, b = f"{self.nets[1]}.1", f"{self.nets[1]}.2"
        ends = ((self.ns_a, self.addr_a, self.addr_b, a), (self.ns_b, self.addr_b, self.addr_a, b))
        for ns, local, remote, addr in ends:
            ip(
                "-n",
                ns,
                "link",
                "add",
                "vx0",
                "type",
                "vxlan",
                "id",
                str(vni),
                "local",
                local,
                "remote",
                remote,
                "dstport",
                str(port),
            )
            ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "vx0")
            ip("-n", ns, "link", "set", "vx0", "up")
        return a, b

    def route_beyond(self) -> str:
        """b forwards, and a routes a network "beyond" b through it: an echo with TTL 1 to an address there
        comes back from b as time exceeded. The address."""
        self.nsexec(self.ns_b, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        ip("-n", self.ns_a, "route", "add", f"{self.nets[2]}.0/24", "via", self.addr_b)
        ip("-n", self.ns_b, "route", "add", f"{self.nets[2]}.0/24", "via", self.addr_a)  # a route, so TTL decides
        return f"{self.nets[2]}.9"

    def path(self, ns: str) -> str:
        return f"/var/run/netns/{ns}"

    def nsexec(self, ns: str, *argv: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", f"--net={self.path(ns)}", *argv], capture_output=True, text=True, timeout=timeout, check=check
        )

    def ping(self, count: int = 3, interval: float = 0.2) -> None:
        """``count`` echoes from a to b, all answered."""
        self.nsexec(self.ns_a, "ping", "-c", str(count), "-i", str(interval), "-W", "2", self.addr_b)

    def close(self) -> None:
        for ns in reversed(self.made):  # the veth pair goes with its namespaces
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        self.made.clear()

    def __enter__(self) -> NetPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
