"""Where the Flannel pane's data comes from: the etcd settings the console was started with, the flannel store
in etcd, and this host's side (the kernel's flannel device and entries, ``subnet.env``).

Only the pane's worker threads call a feed. Tests of the console hand the app another object with the same
methods (fixture data) where the real etcd or kernel cannot produce a fixed scene.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel.registry import DEFAULT_PREFIX, FlannelStore, normalize_prefix
from netcon.core.flannel.subnet_file import DEFAULT_SUBNET_FILE, SubnetEnv, read_subnet_file
from netcon.core.flannel.vxlan import VxlanState, read_state


@dataclass(frozen=True)
class EtcdSettings:
    """How the console reaches etcd. ``given`` is False when neither a flag nor an etcdctl variable named an
    etcd: the default endpoint is then only tried, and its silence means "no etcd configured"."""

    options: EtcdOptions
    prefix: str = DEFAULT_PREFIX
    given: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", normalize_prefix(self.prefix))

    @property
    def endpoint(self) -> str:
        return ",".join(self.options.endpoints)


class FlannelFeed:
    """The real sources: etcd through ``FlannelStore``, the kernel through ``core.flannel.vxlan``."""

    def __init__(self, ctx: HostContext, settings: EtcdSettings) -> None:
        self.ctx = ctx
        self.settings = settings

    def open(self) -> FlannelStore:
        return FlannelStore.open(self.settings.options, self.settings.prefix)

    def kernel(self, ifname: str) -> VxlanState:
        return read_state(self.ctx, ifname)

    def subnet_env(self) -> SubnetEnv | None:
        """``/run/flannel/subnet.env`` of this host; not read for another netns (it is the root host's file)."""
        if self.ctx.netns:
            return None
        try:
            return read_subnet_file(DEFAULT_SUBNET_FILE)
        except (NetconError, OSError, ValueError):
            return None
