"""Reaching another machine's netcon over SSH, with asyncssh (chosen by measurement: docs/performance.md).

The user's own SSH setup is used as ``ssh`` would use it: ``~/.ssh/config`` (or ``--ssh-config FILE``, as
``ssh -F``), its keys and the agent. Host keys are verified against the known_hosts files that config names
(else ``~/.ssh/known_hosts`` and ``/etc/ssh/ssh_known_hosts``), and an unknown or changed key is refused with
one sentence: a config saying ``StrictHostKeyChecking no`` or ``UserKnownHostsFile none`` does not turn
verification off here. Nothing ever prompts: password and keyboard-interactive logins are off, so a console
never waits on a question it cannot show.

Every failure becomes one ``HostUnreachable`` sentence naming the host and the cause.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shlex
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncssh

from netcon.core.hosts.base import HostUnreachable
from netcon.core.hosts.target import SshTarget

CONNECT_TIMEOUT = 5.0  # seconds to reach the host and log in
# A keepalive goes after KEEPALIVE_S s without a byte from the host; the host is declared lost when
# KEEPALIVE_COUNT of them in a row went KEEPALIVE_S s unanswered: (count + 1) x interval = 4 s after its last
# byte, so a silent host shows within 2-4 s of going silent, and an idle connection costs one keepalive every
# 2 s (each wakes the SSH loop ~5 times: 1 s keepalives were the console's largest idle cost after repaints)
KEEPALIVE_S = 2.0
KEEPALIVE_COUNT = 1
DEFAULT_KNOWN_HOSTS = ("~/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts")


@dataclass(frozen=True)
class SshSettings:
    """The user's SSH setup: ``config`` is ``--ssh-config FILE`` (None: ``~/.ssh/config`` when it exists)."""

    config: str | None = None


def _config_paths(settings: SshSettings) -> Any:
    return [settings.config] if settings.config else ()


def known_hosts_files(target: SshTarget, settings: SshSettings) -> list[str]:
    """The known_hosts files the config names for ``target`` (never none at all), existing ones only."""
    options = asyncssh.SSHClientConnectionOptions(
        config=_config_paths(settings), host=target.host, port=target.port or (), username=target.user or ()
    )
    named = options.known_hosts
    paths = [str(p) for p in named] if isinstance(named, list | tuple) and named else list(DEFAULT_KNOWN_HOSTS)
    return [p for p in (os.path.expanduser(p) for p in paths) if os.path.exists(p)]


def _known(paths: list[str]) -> asyncssh.SSHKnownHosts:
    text = ""
    for path in paths:
        try:
            with open(path) as f:
                text += f.read() + "\n"
        except OSError:
            continue
    return asyncssh.import_known_hosts(text)


async def connect(target: SshTarget, settings: SshSettings) -> asyncssh.SSHClientConnection:
    """Log in to ``target``; ``HostUnreachable`` naming it and the cause when that fails."""
    files = known_hosts_files(target, settings)
    try:
        known = _known(files)
        return await asyncio.wait_for(
            asyncssh.connect(
                target.host,
                port=target.port or (),
                username=target.user or (),
                config=_config_paths(settings),
                known_hosts=known,
                password_auth=False,
                kbdint_auth=False,
                connect_timeout=CONNECT_TIMEOUT,
                login_timeout=CONNECT_TIMEOUT,
                keepalive_interval=KEEPALIVE_S,
                keepalive_count_max=KEEPALIVE_COUNT,
            ),
            CONNECT_TIMEOUT * 2,
        )
    except asyncssh.HostKeyNotVerifiable:
        raise HostUnreachable(_key_refused(target, settings, known, files)) from None
    except asyncssh.PermissionDenied:
        raise HostUnreachable(
            f"{target} refused the login: no key offered was accepted (netcon asks for no password: load the "
            "key into ssh-agent or name it with IdentityFile in the ssh config)."
        ) from None
    except asyncssh.KeyImportError as error:
        raise HostUnreachable(
            f"{target}: a key in the ssh config cannot be used ({error}); a key with a passphrase must be "
            "loaded into ssh-agent."
        ) from None
    except (asyncssh.Error, OSError, TimeoutError, ValueError) as error:
        raise HostUnreachable(f"{target}: {_cause(target, error)}.") from None


def _key_refused(target: SshTarget, settings: SshSettings, known: asyncssh.SSHKnownHosts, files: list[str]) -> str:
    where = ", ".join(files) if files else "no known_hosts file (" + ", ".join(DEFAULT_KNOWN_HOSTS) + ")"
    options = asyncssh.SSHClientConnectionOptions(
        config=_config_paths(settings), host=target.host, port=target.port or (), username=target.user or ()
    )
    host = str(getattr(options, "host_key_alias", None) or target.host)
    recorded = known.match(host, "", target.port or 22)[0]
    if recorded:
        return (
            f"{target}: its host key has CHANGED since it was recorded in {where}; netcon refuses it (the host "
            "was reinstalled, or someone is in the middle): check it, then replace the line with ssh-keygen -R."
        )
    return (
        f"{target}: its host key is not in {where}; netcon never accepts an unknown key by itself: check it and "
        "add it (ssh to the host once, or ssh-keyscan into known_hosts)."
    )


def _cause(target: SshTarget, error: BaseException) -> str:
    port = target.port or 22
    if isinstance(error, socket.gaierror):
        return f"the name {target.host} does not resolve ({error.strerror})"
    if isinstance(error, ConnectionRefusedError):
        return f"nothing accepts SSH connections on port {port} (connection refused)"
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return f"no answer on port {port} within {CONNECT_TIMEOUT:g} s"
    if isinstance(error, OSError) and error.errno == errno.EHOSTUNREACH:
        return "no route to it (nothing answers at its address)"
    if isinstance(error, OSError) and error.errno == errno.ENETUNREACH:
        return "no route to it (no network of this machine leads there)"
    if isinstance(error, asyncssh.ConnectionLost):
        return "the connection was closed during the login"
    if isinstance(error, asyncssh.Error):
        return f"SSH failed: {error.reason}"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error) or type(error).__name__


def command_line(argv: Sequence[str]) -> str:
    """The command for the remote login shell, each word quoted (the remote shell splits it; no word of it is
    ever interpreted)."""
    return " ".join(shlex.quote(a) for a in argv)
