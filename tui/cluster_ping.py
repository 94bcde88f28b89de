"""The ping screens across the cluster's hosts: the target picker's other hosts' containers (read in a worker
before the picker opens, each pinged at its overlay address) and the matrix of one network on every host."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.message import Message

from netcon.core.errors import NetconError
from netcon.core.hosts.base import Host
from netcon.core.ping.cluster_matrix import OverlayTarget, overlay_targets

if TYPE_CHECKING:
    from netcon.tui.ping_screens import Target


class OtherHostsRead(Message):
    """The other hosts' containers were read for a picker; the app opens it (``HostSwitching``)."""

    def __init__(
        self, source: str, here: list[Target], there: list[Target], problems: list[str], then: Callable[..., None]
    ) -> None:
        super().__init__()
        self.source, self.here, self.there, self.problems, self.then = source, here, there, problems, then


def other_hosts(app: Any) -> list[Host]:
    """The console's hosts but the one shown."""
    return [app.cluster.host(n) for n in app.cluster.names if n != app.host.name]


def all_hosts(app: Any) -> list[Host]:
    return [app.cluster.host(n) for n in app.cluster.names]


def overlay_choice(t: OverlayTarget) -> Target:
    from netcon.tui.ping_screens import Target

    return Target(t.address, f"{t.name}  {t.address}  (on host {t.host}, over the overlay)", t.name)


def pick_across(pane: Any, source: str, here: list[Target], then: Callable[..., None]) -> None:
    """Read the other hosts' containers on a worker, then open the picker with them after this host's."""
    app = pane.app
    hosts, leases = other_hosts(app), app.cluster.leases

    def read() -> None:
        try:
            found, problems = overlay_targets(hosts, leases.get())
        except NetconError as error:
            found, problems = [], [str(error)]
        pane.post_message(OtherHostsRead(source, here, [overlay_choice(t) for t in found], problems, then))

    pane.notify("Reading the other hosts' containers…", timeout=2)
    pane.run_worker(read, thread=True, name="reading the other hosts' containers", exit_on_error=False)


def overlay_note(name: str) -> str:
    host = name.split("/", 1)[0]
    return f"{name} is pinged at its overlay address (its IPv4 in host {host}'s flannel subnet)."
