"""``netcon doctor``: the classic container-networking faults of a host (or of every lab host), each with its
evidence, why it breaks traffic and the command that fixes it. Only reads; exit 1 when anything is at error
level."""

from __future__ import annotations

import json
import os

from netcon.cli.flannel import etcd_options, etcd_parent
from netcon.core.doctor.facts import Target
from netcon.core.doctor.findings import ERROR, Report
from netcon.core.doctor.runner import run, target_for
from netcon.core.errors import UsageError
from netcon.core.etcd import EtcdOptions
from netcon.core.lab import state as lab_state
from netcon.core.lab.lab import DEFAULT_PREFIX, host_context
from netcon.core.model import to_json

MARKS = {"error": "ERROR", "warning": "WARN ", "info": "info "}


def register(sub, common) -> None:
    doctor = sub.add_parser(
        "doctor", parents=[common, etcd_parent()], help="diagnose the host's container networking (read-only)"
    )
    doctor.add_argument("--json", action="store_true", help="the report as JSON")
    doctor.add_argument(
        "--lab",
        nargs="?",
        const=DEFAULT_PREFIX,
        default=None,
        metavar="PREFIX",
        help=f"check every host of the lab (default prefix {DEFAULT_PREFIX}) and its etcd",
    )
    doctor.set_defaults(func=run_doctor, remote=True)


def lab_targets(prefix: str, read_only: bool = True) -> tuple[list[Target], EtcdOptions, str]:
    """Every host of lab ``prefix`` as a doctor target, and the lab's etcd (endpoint, API, flannel prefix)."""
    state = lab_state.require(prefix)
    targets = [Target(f"{prefix} {h.name}", host_context(h, read_only=True), lab_prefix=prefix) for h in state.hosts]
    return targets, state.etcd_options(), state.flannel_prefix


def _etcd_given(args) -> bool:
    return args.etcd_endpoints is not None or bool(
        os.environ.get("ETCDCTL_ENDPOINTS") or os.environ.get("ETCDCTL_ENDPOINT") or os.environ.get("ETCDCTL_PEERS")
    )


def run_doctor(args, ctx) -> int:
    if getattr(args, "remote_host", None) is not None:
        if args.lab is not None:
            raise UsageError("--lab checks this machine's lab, --host another machine: give one.")
        from netcon.cli.hosts import open_host

        with open_host(args, ctx) as host:
            report = host.doctor()
    elif args.lab is not None:
        targets, etcd, prefix = lab_targets(args.lab)
        etcd_prefix = args.etcd_prefix if args.etcd_prefix is not None else prefix
        if args.etcd_endpoints is not None:
            etcd = etcd_options(args)
    else:
        targets = [target_for(ctx)]
        etcd = etcd_options(args) if _etcd_given(args) else None
        etcd_prefix = args.etcd_prefix
    if getattr(args, "remote_host", None) is None:
        report = run(targets, etcd, etcd_prefix)
    if args.json:
        print(json.dumps(to_json(report) | {"healthy": report.healthy}, indent=2))
    else:
        print(render(report))
    return 0 if report.healthy else 1


def render(report: Report) -> str:
    lines = []
    for host in report.hosts:
        counts = ", ".join(f"{host.count(s)} {s}" for s in ("error", "warning", "info"))
        lines.append(f"== {host.host}: {counts} ({len(host.checks)} checks, {host.duration_s * 1000:.0f} ms)")
        for f in host.findings:
            lines.append(f"{MARKS[f.severity]} {f.id}  {f.object}")
            for name, value in f.evidence:
                lines.append(f"        {name}: {value}")
            lines.append(f"        {f.explanation}")
            for command in f.fix:
                lines.append(f"        fix: {command}")
    for note in report.notes:
        lines.append(f"note: {note}")
    errors = sum(1 for f in report.findings if f.severity == ERROR)
    lines.append(
        f"{'no errors' if not errors else f'{errors} error(s)'}; flannel "
        f"{'checked against ' + report.etcd if report.etcd else 'not checked (no etcd endpoint given)'}; "
        f"{report.duration_s:.2f} s"
    )
    return "\n".join(lines)
