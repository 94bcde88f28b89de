"""netcon's own netlink sockets, read by hand where pyroute2 is too slow or too heavy.

- ``framing``: the one netlink framing (headers, attributes, the request loop and its errors), used by:
- ``rtnl``: a synchronous rtnetlink reader (links, addresses, netns ids) for the snapshot's hot path.
- ``routes``: the kernel's route choice (RTM_GETROUTE, ``ip route get``), neighbours and FDB entries.
- ``nftables``: nf_tables over nfnetlink: tables, rule handles, nftrace events, and the trace's temporary table.
- ``sockdiag``: listening sockets of a namespace through sock_diag, as ``ss -lntu`` reads them.
- ``monitor``: the rtnetlink multicast subscription the console's watcher blocks on.

Everything that changes the kernel goes through pyroute2, in ``core.pyroute`` — except the trace's temporary
nf_tables table: it must belong to the very socket that keeps it alive (NFT_TABLE_F_OWNER, so the kernel
removes it with that socket), which pyroute2's nftables interface does not offer.
"""
