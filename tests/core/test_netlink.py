"""The shared netlink framing against the real kernel: every reader's requests, replies and refusals go
through ``core.netlink.framing``; ``ip -json`` is the reference for what the rtnetlink reader decodes."""

from __future__ import annotations

import errno
import json
import os
import socket
import struct
import subprocess
import uuid

import pytest

from netcon.core.errors import NetlinkFailure
from netcon.core.netlink import framing, sockdiag
from netcon.core.netlink.rtnl import RTM_GETLINK, RTM_NEWLINK, Rtnl
from netcon.core.netns import run_in_netns


@pytest.fixture
def netns():
    name = f"nct{uuid.uuid4().hex[:6]}-nl"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_rtnl_reads_what_ip_shows(netns):
    ip = ["ip", "-n", netns]
    subprocess.run([*ip, "link", "add", "nlbr0", "type", "bridge"], check=True)
    subprocess.run([*ip, "link", "add", "nla0", "mtu", "1400", "type", "veth", "peer", "name", "nlb0"], check=True)
    subprocess.run([*ip, "link", "set", "nla0", "master", "nlbr0"], check=True)
    subprocess.run([*ip, "addr", "add", "10.213.7.1/24", "dev", "nlbr0"], check=True)
    subprocess.run([*ip, "-6", "addr", "add", "fd00:213::1/64", "dev", "nlbr0", "nodad"], check=True)
    reference = json.loads(subprocess.run([*ip, "-j", "-d", "addr"], capture_output=True, check=True).stdout)

    with Rtnl(f"/var/run/netns/{netns}") as rtnl:
        links, addresses = rtnl.links(), rtnl.addresses()

    by_name = {link.ifname: link for link in links}
    assert sorted(by_name) == sorted(r["ifname"] for r in reference)
    for ref in reference:
        link = by_name[ref["ifname"]]
        assert (link.index, link.mtu, link.state) == (ref["ifindex"], ref["mtu"], ref["operstate"])
        assert link.mac == ref.get("address")
        assert link.kind == ((ref.get("linkinfo") or {}).get("info_kind") or "loopback")
        master = ref.get("master")
        assert link.master == (by_name[master].index if master else None)
    assert by_name["nla0"].link == by_name["nlb0"].index and by_name["nla0"].link_netnsid is None
    assert by_name["nlbr0"].bridge_id and not by_name["nlbr0"].stp
    assert {(a.index, a.cidr) for a in addresses} == {
        (ref["ifindex"], f"{a['local']}/{a['prefixlen']}") for ref in reference for a in ref["addr_info"]
    }


def test_a_kernel_refusal_is_a_netlink_failure_naming_the_request():
    with framing.open_socket(socket.NETLINK_ROUTE) as sock:
        body = struct.pack("=BxHiII", 0, 0, 0x7FFFFFFF, 0, 0)  # ifinfomsg for an ifindex nothing has
        with pytest.raises(NetlinkFailure) as caught:
            list(framing.request(sock, 1, RTM_GETLINK, framing.NLM_F_REQUEST, body, "link lookup"))
    assert caught.value.code == errno.ENODEV
    assert str(caught.value) == f"netlink link lookup failed: {os.strerror(errno.ENODEV)}."


def test_a_dump_skips_replies_to_other_requests_and_reads_every_message(netns):
    """A reply left unread (here: a lookup and its acknowledgement) must not be taken for the next request's."""
    for i in range(3):
        subprocess.run(
            ["ip", "-n", netns, "link", "add", f"d{i}a", "type", "veth", "peer", "name", f"d{i}b"], check=True
        )
    lookup = struct.pack("=BxHiII", 0, 0, 1, 0, 0)  # lo, ifindex 1
    nlm_f_ack = 0x4
    with run_in_netns(f"/var/run/netns/{netns}", lambda: framing.open_socket(socket.NETLINK_ROUTE)) as sock:
        header = framing.HEADER.pack(framing.HEADER.size + len(lookup), RTM_GETLINK, 1 | nlm_f_ack, 1, 0)
        sock.send(header + lookup)
        dump = framing.NLM_F_REQUEST | framing.NLM_F_DUMP
        replies = list(framing.request(sock, 2, RTM_GETLINK, dump, struct.pack("=BxHiII", 0, 0, 0, 0, 0), "dump"))
    assert all(m.kind == RTM_NEWLINK and m.seq == 2 for m in replies)
    shown = json.loads(subprocess.run(["ip", "-n", netns, "-j", "link"], capture_output=True, check=True).stdout)
    assert len(replies) == len(shown) == 7  # lo and three veth pairs


def test_sock_diag_refusal_is_a_netlink_failure():
    """An address family sock_diag does not know is refused by the kernel (EINVAL), through the same loop."""
    body = struct.pack("=BBBxI4x32sI8s", 200, socket.IPPROTO_TCP, 0, 1 << sockdiag.TCP_LISTEN, b"", 0, b"")
    with framing.open_socket(sockdiag.NETLINK_SOCK_DIAG) as sock:
        flags = framing.NLM_F_REQUEST | framing.NLM_F_DUMP
        with pytest.raises(NetlinkFailure) as caught:
            list(framing.request(sock, 1, sockdiag.SOCK_DIAG_BY_FAMILY, flags, body, "sock_diag dump"))
    assert caught.value.code == errno.EINVAL


def test_sock_diag_sees_a_listening_socket_in_a_namespace(netns):
    def listen_and_read():
        with socket.socket(socket.AF_INET6) as server:
            server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            server.bind(("::", 0))
            server.listen()
            return server.getsockname()[1], sockdiag.listening_sockets()

    port, found = run_in_netns(f"/var/run/netns/{netns}", listen_and_read)
    assert [(s.proto, s.version, s.address, s.port, s.state, s.v6only) for s in found] == [
        ("tcp", 6, "::", port, "LISTEN", True)
    ]


def test_messages_stop_at_a_truncated_message():
    whole = framing.HEADER.pack(20, RTM_NEWLINK, 0, 7, 0) + b"abcd"
    cut = framing.HEADER.pack(64, RTM_NEWLINK, 0, 8, 0) + b"abcd"  # claims more than the datagram holds
    assert [(m.kind, m.seq, m.data[m.start : m.end]) for m in framing.messages(whole + cut)] == [
        (RTM_NEWLINK, 7, b"abcd")
    ]
    assert framing.attrs(framing.attr(3, b"eth0\0") + framing.attr(4 | 0x8000, b"\1\0\0\0"), 0, 20) == {
        3: b"eth0\0",
        4: b"\1\0\0\0",
    }
