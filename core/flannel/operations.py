"""The flannel operations a user asks for (CLI and console alike), one ``@mutation`` each: it is given the values
the user gave (None: not given), so read-only mode is refused before anything is read or connected, every
value is checked with ``core.validate`` inside, and the audit line records exactly what was asked.

The store-level functions in ``lease.py`` and ``registry.py`` are the building blocks (the agent renews its
lease with them, unaudited: one audit line per agent start, not per renewal).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from netcon.core.audit import mutation
from netcon.core.context import HostContext
from netcon.core.errors import NetconError, UsageError
from netcon.core.etcd import EtcdOptions
from netcon.core.flannel import lease as leases
from netcon.core.flannel.agent import Agent, AgentOptions
from netcon.core.flannel.config import FlannelConfig
from netcon.core.flannel.registry import FlannelStore, normalize_prefix, set_config
from netcon.core.flannel.subnet_file import DEFAULT_SUBNET_FILE, parse_env
from netcon.core.flannel.vxlan import random_mac
from netcon.core.validate import flannel as check
from netcon.core.validate.values import output_file, text_file

MINUTE = 60.0


class Secret:
    """A password: passed through to etcd, written to the audit log and reprs as ``(hidden)``."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return "(hidden)"

    __repr__ = __str__


@dataclass(frozen=True)
class EtcdGiven:
    """How the user asked to reach etcd, as given (None: not given; etcdctl's variables, then the defaults,
    fill in). Checked when the store is opened, inside the operation."""

    endpoints: str | None = None
    prefix: str | None = None
    api: str | None = None
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    username: str | None = None
    password: Secret | None = None

    @classmethod
    def of_options(cls, options: EtcdOptions, prefix: str | None) -> EtcdGiven:
        """The request behind options already built (the console's), for an audit line."""
        return cls(
            ",".join(options.endpoints),
            prefix,
            options.api,
            options.cafile,
            options.certfile,
            options.keyfile,
            options.username,
            Secret(options.password) if options.password is not None else None,
        )

    def options(self, env: Mapping[str, str] | None = None) -> EtcdOptions:
        return EtcdOptions.from_values(
            env,
            endpoints=self.endpoints,
            api=self.api,
            cafile=self.cafile,
            certfile=self.certfile,
            keyfile=self.keyfile,
            username=self.username,
            password=self.password.value if self.password is not None else None,
        )

    def open(self) -> FlannelStore:
        prefix = normalize_prefix(self.prefix)  # checked before connecting
        return FlannelStore.open(self.options(), prefix)


@contextlib.contextmanager
def opened(etcd: EtcdGiven) -> Iterator[FlannelStore]:
    store = etcd.open()
    try:
        yield store
    finally:
        store.close()


@mutation("flannel.config.set", "set the flannel config")
def config_set(
    ctx: HostContext, etcd: EtcdGiven, config: str | bytes | None = None, file: str | None = None
) -> FlannelConfig:
    """Store the config given as text (or stdin's bytes) or in ``file``, checked first."""
    text, _ = check.config_source(config, file)
    with opened(etcd) as store:
        return set_config(ctx, store, text)


def config_check(
    etcd: EtcdGiven, config: str | bytes | None = None, file: str | None = None
) -> tuple[str, FlannelConfig]:
    """(where, parsed config) for ``flannel config validate``: the text or file given, else the stored config.
    The etcd options are checked either way: a bad option is refused even where it would not be used."""
    etcd.options(), normalize_prefix(etcd.prefix)
    if config is None and file is None:
        with opened(etcd) as store:
            return store.config_key, check.config_text(
                store.config_text(), "config", f"The config at {store.config_key}"
            )
    _, parsed = check.config_source(config, file)
    return ("file " + file.strip()) if file is not None else "config", parsed


@mutation("flannel.lease.acquire", "acquire a flannel lease for {public_ip}")
def lease_acquire(
    ctx: HostContext,
    etcd: EtcdGiven,
    public_ip: str,
    vtep_mac: str | None = None,
    subnet_file: str | None = None,
) -> leases.Lease:
    """flanneld's AcquireLease for a vxlan host (a random VTEP MAC when none is given); ``subnet_file``: the
    host's subnet.env, whose subnet is reused when still free."""
    ip = check.public_ip(public_ip)
    mac = check.vtep_mac(vtep_mac) if vtep_mac is not None else random_mac()
    previous = None
    if subnet_file is not None:
        env = parse_env(text_file(subnet_file, "subnet_file", "Subnet file"))
        if env.get("FLANNEL_SUBNET"):
            previous = check.lease_subnet(_network_of(env["FLANNEL_SUBNET"], subnet_file), "subnet_file")
    with opened(etcd) as store:
        config = store.config()
        return leases.acquire_lease(ctx, store, leases.vxlan_attrs(ip, config.vni, mac), previous)


def _network_of(address: str, path: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.IPv4Interface(address).network)
    except ValueError:
        raise UsageError(
            f"Subnet file {path} has FLANNEL_SUBNET={address!r}, not an address/prefix.", target="subnet_file"
        ) from None


@mutation("flannel.lease.renew", "renew the flannel lease {subnet}")
def lease_renew(ctx: HostContext, etcd: EtcdGiven, subnet: str) -> leases.Lease:
    wanted = check.lease_subnet(subnet)
    with opened(etcd) as store:
        lease = store.lease(wanted)
        if lease is None:
            raise NetconError(f"There is no lease for {wanted} under {store.subnets_prefix}.", target="subnet")
        return leases.renew_lease(ctx, store, lease)


@mutation("flannel.lease.revoke", "revoke the flannel lease {subnet}")
def lease_revoke(ctx: HostContext, etcd: EtcdGiven, subnet: str) -> None:
    wanted = check.lease_subnet(subnet)
    with opened(etcd) as store:
        leases.revoke_lease(ctx, store, wanted)


@mutation("flannel.lease.reserve", "reserve the flannel subnet {subnet}")
def lease_reserve(ctx: HostContext, etcd: EtcdGiven, subnet: str, public_ip: str | None = None) -> leases.Lease:
    wanted = check.lease_subnet(subnet)
    ip = check.public_ip(public_ip) if public_ip is not None else None
    with opened(etcd) as store:
        return leases.reserve_subnet(ctx, store, wanted, ip)


@mutation("flannel.agent", "run the flannel agent")
def agent_start(
    ctx: HostContext,
    etcd: EtcdGiven,
    iface: Sequence[str] = (),
    public_ip: str | None = None,
    subnet_file: str | None = None,
    ip_masq: str | None = None,
    renew_margin: str | int | None = None,
    retry_interval: str | float | None = None,
) -> Agent:
    """Check the agent's options and return it ready to ``run``: the audit line records the start (or its
    refusal), not each renewal the agent makes afterwards."""
    options = AgentOptions(
        etcd=etcd.options(),
        prefix=normalize_prefix(etcd.prefix),
        ifaces=tuple(check.agent_iface(name) for name in iface),
        public_ip=check.public_ip(public_ip) if public_ip is not None else None,
        subnet_file=output_file(subnet_file, "subnet_file", "Subnet file")
        if subnet_file is not None
        else DEFAULT_SUBNET_FILE,
        ip_masq=check.ip_masq(ip_masq) if ip_masq is not None else False,
        renew_margin=MINUTE * (check.renew_margin_minutes(renew_margin) if renew_margin is not None else 60),
        retry_interval=check.retry_cap(retry_interval) if retry_interval is not None else AgentOptions.retry_interval,
    )
    return Agent(ctx, options)
