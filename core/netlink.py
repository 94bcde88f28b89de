"""A small synchronous rtnetlink reader: raw sockets, pyroute2's message codecs.

pyroute2's ``IPRoute`` runs an asyncio loop per call and keeps one socket per thread, which costs
milliseconds per namespace; the snapshot reads one namespace per container, so it sends dump requests on a
plain socket (created inside the namespace by ``core.netns``) and decodes replies with pyroute2's marshal.
"""

from __future__ import annotations

import errno
import os
import socket
from itertools import count

from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR
from pyroute2.netlink.rtnl import RTM_GETADDR, RTM_GETLINK, RTM_GETNSID, RTM_NEWNSID
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl
from pyroute2.netlink.rtnl.nsidmsg import nsidmsg

from core.errors import NetlinkFailure
from core.netns import run_in_netns

NETLINK_ROUTE = 0
RTEXT_FILTER_VF = 1
_RECV = 1 << 20


class Rtnl:
    """One rtnetlink socket in one network namespace (None: the caller's)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self.sock = run_in_netns(netns, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE))
        self.sock.bind((0, 0))
        self._seq = count(1)
        self._marshal = MarshalRtnl()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, msg, msg_type: int, flags: int, what: str) -> list:
        seq = next(self._seq)
        msg["header"]["type"] = msg_type
        msg["header"]["flags"] = flags
        msg["header"]["sequence_number"] = seq
        msg.encode()
        try:
            self.sock.send(msg.data)
        except OSError as error:
            raise NetlinkFailure(f"netlink {what} failed: {error.strerror}.", code=error.errno or 0) from error
        replies = []
        while True:
            data = self.sock.recv(_RECV)
            for reply in self._marshal.parse(data):
                if reply["header"]["sequence_number"] != seq:
                    continue
                kind = reply["header"]["type"]
                if kind == NLMSG_DONE:
                    return replies
                if kind == NLMSG_ERROR:
                    code = -reply["error"] if reply["error"] else 0
                    if code == 0:
                        return replies
                    raise NetlinkFailure(f"netlink {what} failed: {os.strerror(code)}.", code=code)
                replies.append(reply)
                if not flags & NLM_F_DUMP:
                    return replies

    def links(self) -> list:
        msg = ifinfmsg()
        msg["attrs"] = [["IFLA_EXT_MASK", RTEXT_FILTER_VF]]
        return self._request(msg, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, "link dump")

    def addresses(self) -> list:
        return self._request(ifaddrmsg(), RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, "address dump")

    def netnsid_of(self, path: str) -> int | None:
        """The id this namespace gives the namespace at ``path`` (what IFLA_LINK_NETNSID refers to)."""
        fd = os.open(path, os.O_RDONLY)
        try:
            msg = nsidmsg()
            msg["attrs"] = [["NETNSA_FD", fd]]
            try:
                replies = self._request(msg, RTM_GETNSID, NLM_F_REQUEST, "netnsid lookup")
            except NetlinkFailure as error:
                if error.code in (errno.ENOENT, errno.EINVAL):
                    return None
                raise
        finally:
            os.close(fd)
        for reply in replies:
            if reply["header"]["type"] == RTM_NEWNSID:
                nsid = reply.get_attr("NETNSA_NSID")
                return None if nsid is None or nsid >= 0x80000000 else nsid
        return None
