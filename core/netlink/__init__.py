"""netcon's own netlink sockets, read by hand where pyroute2 is too slow or too heavy.

- ``framing``: the one netlink framing (headers, attributes, the request loop and its errors), used by:
- ``rtnl``: a synchronous rtnetlink reader (links, addresses, netns ids) for the snapshot's hot path.
- ``sockdiag``: listening sockets of a namespace through sock_diag, as ``ss -lntu`` reads them.
- ``monitor``: the rtnetlink multicast subscription the console's watcher blocks on.

Everything that changes the kernel goes through pyroute2, in ``core.pyroute``.
"""
