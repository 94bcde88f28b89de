"""The rtnetlink multicast subscription the watcher blocks on, and the filter that tells which of its
messages may change what netcon shows."""

from __future__ import annotations

import socket
import struct

from netcon.core.errors import NetconError, NetlinkFailure
from netcon.core.netns import run_in_netns

# rtnetlink multicast groups (linux/rtnetlink.h, the legacy RTMGRP_* bit masks for bind()).
RTMGRP_LINK = 0x1
RTMGRP_NEIGH = 0x4
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
GROUPS = RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE
RTM_NEWLINK, RTM_DELLINK, RTM_NEWNEIGH = 16, 17, 28
NUD_NOARP, NUD_PERMANENT = 0x40, 0x80
NLMSG_HEADER = struct.Struct("=IHHII")  # len, type, flags, seq, pid; then ifinfomsg/ndmsg (family first;
# ndmsg's state 8 bytes in)


def open_netlink_monitor(netns: str | None = None, groups: int = GROUPS) -> socket.socket:
    """A non-blocking rtnetlink socket subscribed to ``groups``, in the netns at path ``netns`` (or ours).
    A socket stays in the namespace it was created in, so it is made on a thread inside that namespace."""
    try:
        return run_in_netns(netns, lambda: _bind_monitor(groups))
    except NetlinkFailure:
        raise
    except NetconError as error:
        raise NetlinkFailure(f"Cannot watch netlink in network namespace {netns}: {error}", target=netns) from error


def changes_view(data: bytes) -> bool:
    """Whether the messages in ``data`` may change what netcon shows. Two kinds never do, and both come in
    floods: a bridge port's own state changes (AF_BRIDGE link messages: a new port turns forwarding after
    the forward delay; the port's link itself is reported separately), and dynamic neighbour entries
    changing state (ARP entries on busy bridges go REACHABLE/STALE/DELAY all the time). Permanent neighbour
    entries, which flannel programs, and every deletion still count."""
    offset = 0
    while offset + NLMSG_HEADER.size + 12 <= len(data):
        length, kind = NLMSG_HEADER.unpack_from(data, offset)[:2]
        if length < NLMSG_HEADER.size + 12:
            return True
        body = offset + NLMSG_HEADER.size
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            if data[body] != socket.AF_BRIDGE:
                return True
        elif kind == RTM_NEWNEIGH:
            if struct.unpack_from("=H", data, body + 8)[0] & (NUD_PERMANENT | NUD_NOARP):
                return True
        else:
            return True
        offset += (length + 3) & ~3
    return False


def _bind_monitor(groups: int) -> socket.socket:
    try:
        sock = socket.socket(
            socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
        )
    except OSError as error:
        raise NetlinkFailure(f"Cannot open a netlink socket: {error.strerror}.", code=error.errno) from error
    try:
        sock.bind((0, groups))
    except OSError as error:
        sock.close()
        raise NetlinkFailure(f"Cannot subscribe to netlink groups: {error.strerror}.", code=error.errno) from error
    return sock
