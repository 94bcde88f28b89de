"""All-pairs reachability across the cluster's hosts: containers named ``HOST/CONTAINER`` (or every container on
a network, on every host that has it), each pair probed by the netcon of the source's host (``Host.start_probe``),
so an echo leaves from where the container really is. A pair on one host is sent where the single-host matrix
sends it (``matrix.same_host_address``); a pair across hosts to the destination's overlay address
(``host_rules.overlay_address``), which crosses flannel: healthy, it answers with TTL 62 (two routers).

A host that cannot be read or probed is no crash: its pairs carry the sentence of why (``PairResult.error``),
and the matrix lists it (``Matrix.problems``), so a caller can refuse (the CLI) or paint it (the console)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from netcon.core.errors import NetconError, NotFound, UsageError
from netcon.core.flannel.host_rules import overlay_address
from netcon.core.flannel.lease import Lease
from netcon.core.hosts.base import Host, HostUnreachable
from netcon.core.hosts.cluster import lease_of, vni_of
from netcon.core.hosts.probes import ProbeRequest
from netcon.core.model import Snapshot
from netcon.core.naming import natural_key
from netcon.core.ping.matrix import STOP_POLL_S, Matrix, Member, PairResult, members_of, same_host_address
from netcon.core.ping.probe import MIN_INTERVAL_S, ProbeSummary
from netcon.core.validate import values

SEPARATOR = "/"  # a member is HOST/CONTAINER
HOST_PROBES = 16  # probes one host runs for a matrix at once; the rest wait their turn (its engine has caps)
HOST_PPS = 40.0  # echoes per second one host sends for a matrix, well under an engine's default cap
SUMMARY_GRACE_S = 10.0  # past its last echo's timeout, a probe whose final summary has not come is given up


@dataclass(frozen=True)
class HostView:
    """What a matrix needs of one host: its snapshot and its flannel lease (None: not known), or why it could not
    be read (``error``, one sentence naming the host)."""

    host: str
    snapshot: Snapshot | None
    lease: Lease | None = None
    error: str | None = None


@dataclass(frozen=True)
class ClusterMember:
    """A container of one host: ``ips`` maps its networks to its IPv4 there, ``overlay_ip`` is where other hosts
    reach it. ``member`` None: its host could not be read."""

    host: str
    container: str
    member: Member | None
    overlay_ip: str | None

    @property
    def name(self) -> str:
        return f"{self.host}{SEPARATOR}{self.container}"


@dataclass(frozen=True)
class ClusterPlan:
    """The members of a matrix across hosts, and the sentences of the hosts that could not be read."""

    title: str
    members: tuple[ClusterMember, ...]
    network: str | None
    problems: tuple[str, ...] = ()


def read_views(hosts: Sequence[Host], leases: Sequence[Lease] = ()) -> dict[str, HostView]:
    """Every host's snapshot and lease, read in parallel (a host that does not answer delays no other)."""
    if not hosts:
        return {}
    with ThreadPoolExecutor(max_workers=len(hosts), thread_name_prefix="netcon-matrix") as pool:
        return dict(zip((h.name for h in hosts), pool.map(lambda h: read_view(h, leases), hosts)))


def read_view(host: Host, leases: Sequence[Lease]) -> HostView:
    try:
        snapshot = host.snapshot()
    except NetconError as error:
        return HostView(host.name, None, error=unreachable(host, error))
    if snapshot.docker_error is not None:
        return HostView(host.name, None, error=f"Host {host.name}: {snapshot.docker_error}")
    if not leases:
        return HostView(host.name, snapshot)
    from netcon.core.flannel.vxlan import device_name

    try:
        device = host.vxlan(device_name(vni_of(leases))).device
    except NetconError:
        device = None
    return HostView(host.name, snapshot, lease_of(snapshot, device.mac if device else None, leases))


def unreachable(host: Host, error: NetconError) -> str:
    """One sentence naming the host and what went wrong there (``Host h2 (ssh://root@h2) is unreachable: ...``)."""
    text = str(error).rstrip(".")
    for prefix in (f"{host.target}: ", f"{host.name}: "):
        text = text.removeprefix(prefix)
    state = "is unreachable" if isinstance(error, HostUnreachable) else "answered"
    return f"Host {host.name} ({host.target}) {state}: {text}."


def split_member(text: str, hosts: Sequence[str]) -> tuple[str, str]:
    """``HOST/CONTAINER`` of one of ``hosts``, refused in one sentence otherwise."""
    host, sep, container = text.partition(SEPARATOR)
    if not sep or not host or not container:
        raise UsageError(f"{values.shown(text)} is not HOST/CONTAINER (e.g. h1/web).", target="containers")
    if host not in hosts:
        raise UsageError(f"No host named {host!r} in this cluster (hosts: {', '.join(hosts)}).", target="containers")
    return host, container


def plan_containers(views: dict[str, HostView], names: Sequence[str]) -> ClusterPlan:
    """The named ``HOST/CONTAINER``s: an unknown host or container, or one without an IPv4, is refused; a
    container of a host that could not be read stays a member whose pairs say why."""
    wanted = [split_member(n, list(views)) for n in names]
    if len(set(wanted)) < len(wanted):
        raise UsageError("A container is named twice in the list.", target="containers")
    members = []
    for host, container in wanted:
        view = views[host]
        if view.snapshot is None:
            members.append(ClusterMember(host, container, None, None))
            continue
        members.append(_member(view, view.snapshot, container))
    problems = tuple(dict.fromkeys(v.error for h, _ in wanted if (v := views[h]).error))
    return ClusterPlan(f"containers {', '.join(names)}", tuple(members), None, problems)


def plan_network(views: dict[str, HostView], network: str) -> ClusterPlan:
    """Every running container attached to ``network`` on every host that has it (hosts in ``views``' order)."""
    members: list[ClusterMember] = []
    found = False
    for view in views.values():
        snapshot = view.snapshot
        net = snapshot.network(network) if snapshot is not None else None
        if snapshot is None or net is None:
            continue
        found = True
        members += [_member(view, snapshot, a.container_name) for a in net.attachments if a.ipv4]
    problems = tuple(v.error for v in views.values() if v.error)
    if not found and not problems:
        raise NotFound(f"No host of the cluster has a network named {network!r}.", target=network)
    return ClusterPlan(f"network {network} on {len(views)} hosts", tuple(members), network, problems)


def _member(view: HostView, snapshot: Snapshot, container: str) -> ClusterMember:
    try:
        (member,) = members_of(snapshot, [container])
    except NetconError as error:
        text = str(error)
        named = text.replace("on this host", f"on host {view.host}").replace(
            f"Container {container} ", f"Container {view.host}{SEPARATOR}{container} ", 1
        )
        raise type(error)(named if named != text else f"{view.host}: {text}", target=container) from None
    found = snapshot.container(container)
    assert found is not None  # members_of refused a missing one
    return ClusterMember(view.host, found.name, member, overlay_address(snapshot, found, view.lease))


def pair_address(src: ClusterMember, dst: ClusterMember, network: str | None) -> str | None:
    """Where ``src`` sends to reach ``dst``: on one host the single-host matrix's address, across hosts the
    overlay address (None: it has none)."""
    if dst.member is None or src.member is None:
        return None
    if src.host == dst.host:
        on = network if network in dst.member.ips else None
        return same_host_address(src.member.ips, dst.member.ips, on)
    return dst.overlay_ip


@dataclass
class _Pair:
    """One ordered pair's probe while it runs; ``done`` set by its final summary."""

    src: ClusterMember
    dst: ClusterMember
    ip: str | None
    error: str | None = None
    probe: int | None = None
    summary: ProbeSummary | None = None
    done: threading.Event = field(default_factory=threading.Event)
    deadline: float = 0.0

    def on_summary(self, summary: ProbeSummary) -> None:
        if self.summary is None or summary.transmitted >= self.summary.transmitted or not summary.running:
            self.summary = summary
        if not summary.running:
            self.done.set()

    def result(self) -> PairResult:
        s = self.summary
        return PairResult(
            src=self.src.name,
            dst=self.dst.name,
            dst_ip=self.ip or "",
            sent=s.transmitted if s else 0,
            received=s.received if s else 0,
            rtt_ms_median=s.rtt_median_ms if s else None,
            ttl=s.ttl if s else None,
            errors=s.errors if s else 0,
            error=self.error,
        )


def run_cluster_matrix(
    hosts: Sequence[Host],
    plan: ClusterPlan,
    count: int = 3,
    timeout: float = 1.0,
    stop: threading.Event | None = None,
) -> Matrix:
    """Probe every ordered pair of ``plan`` from its source's host, all hosts at once, each host's probes at once
    (up to ``HOST_PROBES``), every probe counted; returns when every final summary is in. ``stop``: set it to end
    early (the running probes are stopped there and ``NetconError`` is raised)."""
    if len(plan.members) < 2:
        raise UsageError(
            f"{plan.title[0].upper()}{plan.title[1:]} has fewer than two running containers: there is no pair to "
            "probe." + (f" {' '.join(plan.problems)}" if plan.problems else "")
        )
    by_name = {h.name: h for h in hosts}
    pairs = [_Pair(s, d, pair_address(s, d, plan.network)) for s in plan.members for d in plan.members if s is not d]
    for p in pairs:
        if p.src.member is None:
            p.error = next((e for e in plan.problems if e.startswith(f"Host {p.src.host}")), f"{p.src.host}: unread")
        elif p.ip is None:
            p.error = _no_address(p.dst, plan.problems)
    interval = max(MIN_INTERVAL_S, min(HOST_PROBES, len(pairs)) / HOST_PPS)
    started = time.monotonic()
    work: dict[str, list[_Pair]] = {}
    for p in pairs:
        if p.error is None:
            work.setdefault(p.src.host, []).append(p)
    if work:
        with ThreadPoolExecutor(max_workers=len(work), thread_name_prefix="netcon-matrix") as pool:
            list(
                pool.map(
                    lambda item: _probe_host(by_name[item[0]], item[1], count, interval, timeout, stop), work.items()
                )
            )
    if stop is not None and stop.is_set():
        raise NetconError(f"The probes of {plan.title} were stopped before every pair answered.")
    return Matrix(
        plan.title,
        tuple(m.name for m in plan.members),
        tuple(p.result() for p in pairs),
        count,
        time.monotonic() - started,
        plan.problems,
    )


def _no_address(dst: ClusterMember, problems: tuple[str, ...]) -> str:
    if dst.member is None:
        return next((e for e in problems if e.startswith(f"Host {dst.host}")), f"{dst.host}: unread")
    return f"{dst.name} has no address in {dst.host}'s flannel subnet: other hosts cannot reach it over the overlay."


def _probe_host(
    host: Host, pairs: list[_Pair], count: int, interval: float, timeout: float, stop: threading.Event | None
) -> None:
    """Run one host's probes, ``HOST_PROBES`` at a time, until each has its final summary (or is given up)."""
    waiting, running = deque(pairs), list[_Pair]()
    lasts = (count - 1) * interval + timeout + SUMMARY_GRACE_S
    while waiting or running:
        while waiting and len(running) < HOST_PROBES and not (stop is not None and stop.is_set()):
            p = waiting.popleft()
            if _start(host, p, count, interval, timeout):
                p.deadline = time.monotonic() + lasts
                running.append(p)
        if stop is not None and stop.is_set():
            for p in running:
                _stop(host, p)
            return
        now = time.monotonic()
        for p in running:
            if not p.done.is_set() and now > p.deadline:
                p.error = f"Host {host.name}: no final summary of the probe to {p.dst.name} within {lasts:g} s."
                _stop(host, p)
                p.done.set()
        running = [p for p in running if not p.done.is_set()]
        if running:
            running[0].done.wait(STOP_POLL_S)


def _start(host: Host, p: _Pair, count: int, interval: float, timeout: float) -> bool:
    assert p.src.member is not None and p.ip is not None
    request = ProbeRequest(p.src.container, p.ip, p.dst.name, count=count, interval=interval, timeout=timeout)
    try:
        started = host.start_probe(request, p.on_summary)
    except NetconError as error:
        p.error = unreachable(host, error)
        return False
    p.probe = started.probe
    p.on_summary(started.summary)
    return True


def _stop(host: Host, p: _Pair) -> None:
    if p.probe is None:
        return
    with contextlib.suppress(NetconError):  # gone already, or its host unreachable (its netcon ends them)
        p.on_summary(host.stop_probe(p.probe))


def cluster_matrix(
    hosts: Sequence[Host],
    containers: Sequence[str] | None = None,
    network: str | None = None,
    leases: Sequence[Lease] = (),
    count: int = 3,
    timeout: float = 1.0,
    stop: threading.Event | None = None,
) -> Matrix:
    """Read the hosts, plan ``containers`` (``HOST/CONTAINER``) or ``network`` across them, probe every pair."""
    if (containers is None) == (network is None):
        raise UsageError("Give exactly one of a network or a list of HOST/CONTAINER.")
    views = read_views(hosts, leases)
    plan = plan_network(views, network) if network is not None else plan_containers(views, containers or ())
    return run_cluster_matrix(hosts, plan, count=count, timeout=timeout, stop=stop)


@dataclass(frozen=True)
class OverlayTarget:
    """A running container of another host, and where it is reached over the overlay."""

    host: str
    container: str
    address: str

    @property
    def name(self) -> str:
        return f"{self.host}{SEPARATOR}{self.container}"


def overlay_targets(hosts: Sequence[Host], leases: Sequence[Lease] = ()) -> tuple[list[OverlayTarget], list[str]]:
    """Every running container of ``hosts`` with an overlay address (one per namespace: a container sharing
    another's is reached at its owner's), and one sentence per host that could not be read."""
    found: list[OverlayTarget] = []
    problems: list[str] = []
    for view in read_views(hosts, leases).values():
        if view.snapshot is None:
            problems.append(view.error or f"Host {view.host} could not be read.")
            continue
        for c in view.snapshot.containers:
            address = overlay_address(view.snapshot, c, view.lease) if c.state == "running" else None
            if address and not c.ipv4_shared:
                found.append(OverlayTarget(view.host, c.name, address))
    return sorted(found, key=lambda t: (natural_key(t.host), natural_key(t.container))), problems
