"""Live ICMP probes from any network namespace (host, container, lab host) without ``docker exec``: sources,
name resolution as the source would do it, one epoll engine for many probes, and the all-pairs matrix."""
