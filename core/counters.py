"""Interface byte and packet counters, read on their own: one rtnetlink stats dump of the host (or the
console's ``--netns``), without Docker, without any container namespace, without decoding whole links.

What the Veths pane's RX/TX rates need once a second, and the exporter's per-interface counters (errors and
drops too). The host side of a veth carries its container side's
counters mirrored (what one sends the other receives), so the host's own dump covers every container.
"""

from __future__ import annotations

from netcon.core.model import Counters
from netcon.core.netlink.rtnl import Rtnl


class CounterReader:
    """An rtnetlink socket kept open in one namespace (None: netcon's own) for repeated counter reads."""

    def __init__(self, netns: str | None = None) -> None:
        self._rtnl = Rtnl(netns)

    def read(self) -> dict[int, Counters]:
        """ifindex -> counters of every link in the namespace, from one dump."""
        return {
            index: Counters(
                rx_bytes=s[2],
                tx_bytes=s[3],
                rx_packets=s[0],
                tx_packets=s[1],
                rx_errors=s[4],
                tx_errors=s[5],
                rx_dropped=s[6],
                tx_dropped=s[7],
            )
            for index, s in self._rtnl.link_stats().items()
        }

    def close(self) -> None:
        self._rtnl.close()

    def __enter__(self) -> CounterReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_counters(netns: str | None = None) -> dict[int, Counters]:
    """One read with a socket of its own (long-lived callers keep a ``CounterReader``)."""
    with CounterReader(netns) as reader:
        return reader.read()
