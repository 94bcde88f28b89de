"""The rtnetlink multicast subscription the watcher blocks on, and the filter that tells which of its
messages may change what netcon shows."""

from __future__ import annotations

import socket
import struct

from netcon.core.errors import NetconError, NetlinkFailure
from netcon.core.netlink.framing import messages, open_socket
from netcon.core.netlink.rtnl import NUD_NOARP, NUD_PERMANENT, RTM_DELLINK, RTM_NEWLINK, RTM_NEWNEIGH
from netcon.core.netns import run_in_netns

# rtnetlink multicast groups (linux/rtnetlink.h, the legacy RTMGRP_* bit masks for bind()).
RTMGRP_LINK = 0x1
RTMGRP_NEIGH = 0x4
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
GROUPS = RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE
_NDMSG_STATE = struct.Struct("=H")  # ndm_state, 8 bytes into ndmsg (ifinfomsg and ndmsg start with the family)
_BODY = 12  # the part of ifinfomsg/ndmsg read below


def open_netlink_monitor(netns: str | None = None, groups: int = GROUPS) -> socket.socket:
    """A non-blocking rtnetlink socket subscribed to ``groups``, in the netns at path ``netns`` (or ours).
    A socket stays in the namespace it was created in, so it is made on a thread inside that namespace."""
    try:
        return run_in_netns(netns, lambda: open_socket(socket.NETLINK_ROUTE, groups, nonblocking=True))
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
    for msg in messages(data):
        if msg.end - msg.start < _BODY:
            return True
        if msg.kind in (RTM_NEWLINK, RTM_DELLINK):
            if data[msg.start] != socket.AF_BRIDGE:
                return True
        elif msg.kind == RTM_NEWNEIGH:
            if _NDMSG_STATE.unpack_from(data, msg.start + 8)[0] & (NUD_PERMANENT | NUD_NOARP):
                return True
        else:
            return True
    return False
