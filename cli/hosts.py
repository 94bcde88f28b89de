"""``--host ssh://[user@]host[:port]`` and ``--ssh-config FILE`` for every command: the host a command reads.

A command that works on another machine declares it with ``set_defaults(remote=True)`` and reads through
``open_host``, which gives the local host (``--netns``/``--docker-host``, as before) or a remote one over SSH,
behind one interface. Any other command refuses ``--host`` with one sentence saying where to run it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from netcon.core.context import HostContext
from netcon.core.errors import UsageError
from netcon.core.validate import values

if TYPE_CHECKING:
    from netcon.core.hosts.base import EtcdAccess, Host


def ssh_config(args) -> str | None:
    """``--ssh-config FILE``: a readable file, as ``ssh -F`` takes it."""
    given = getattr(args, "ssh_config", None)
    if given is None:
        return None
    values.text_file(given, "ssh_config", "--ssh-config")
    return given


def check_host_options(args, ctx: HostContext, command: str) -> None:
    """Refuse, before anything is read, ``--host`` where it cannot work."""
    target = getattr(args, "remote_host", None)
    ssh_config(args)
    if target is None:
        return
    from netcon.core.hosts.target import parse_target

    parse_target(target)
    if ctx.netns or getattr(args, "docker_host", None):
        raise UsageError("--host reaches another machine, --netns and --docker-host name parts of this one: give one.")
    if not getattr(args, "remote", False):
        raise UsageError(
            f"netcon {command} works on the machine it runs on: run it there (ssh HOST netcon {command} ...); "
            "--host works with show, doctor, network, container, cluster, ping, capture, trace and console."
        )


def etcd_access(args) -> EtcdAccess | None:
    """The etcd named on the command line (None: none), its prefix checked before anything is read."""
    prefix = getattr(args, "etcd_prefix", None)
    if prefix is not None:
        from netcon.core.validate.flannel import etcd_prefix

        prefix = etcd_prefix(prefix)
    if getattr(args, "etcd_endpoints", None) is None:
        return None
    from netcon.cli.flannel import etcd_options
    from netcon.core.hosts.base import EtcdAccess

    return EtcdAccess(etcd_options(args), prefix)


@contextlib.contextmanager
def open_host(args, ctx: HostContext) -> Iterator[Host]:
    """The host the command reads: ``--host``'s over SSH (connected now, so a failure is one sentence before
    any output), else this one in-process. Closed, and the SSH loop ended, when the block ends."""
    target = getattr(args, "remote_host", None)
    if target is None:
        from netcon.core.hosts.local import LocalHost

        local = LocalHost(ctx, etcd=etcd_access(args))
        try:
            yield local
        finally:
            local.close()
        return
    from netcon.core.aioloop import stop_loop
    from netcon.core.hosts.remote import RemoteHost
    from netcon.core.hosts.ssh import SshSettings
    from netcon.core.hosts.target import parse_target

    remote = RemoteHost(
        parse_target(target), settings=SshSettings(ssh_config(args)), read_only=ctx.read_only, etcd=etcd_access(args)
    )
    try:
        remote.connect()
        yield remote
    finally:
        remote.close()
        stop_loop()


def change(args, ctx: HostContext, operation: str, **arguments):
    """A change through the host interface: this host's audited core operation, or the remote host's (which
    refuses it itself when it runs read-only, and audits it there)."""
    with open_host(args, ctx) as host:
        return host.change(operation, arguments)
