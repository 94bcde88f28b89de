"""flannel's ``mk-docker-opts.sh``: turn subnet.env into dockerd options, in the script's exact output format.

The script (flannel's dist/, as shipped with distro packages) writes, sorted by variable name::

    DOCKER_OPT_BIP="--bip=10.5.34.1/24"
    DOCKER_OPT_IPMASQ="--ip-masq=true"
    DOCKER_OPT_MTU="--mtu=1450"
    DOCKER_OPTS=" --bip=10.5.34.1/24 --ip-masq=true --mtu=1450"

``--ip-masq`` is the inverse of FLANNEL_IPMASQ (when flannel masquerades, docker must not).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from netcon.core.audit import mutation
from netcon.core.context import HostContext
from netcon.core.errors import UsageError
from netcon.core.flannel.subnet_file import DEFAULT_SUBNET_FILE, atomic_write, read_env

DEFAULT_DOCKER_ENV = "/run/docker_opts.env"
DEFAULT_KEY = "DOCKER_OPTS"


def docker_opts_text(
    values: Mapping[str, str],
    key: str = DEFAULT_KEY,
    individual: bool = True,
    combined: bool = True,
    ip_masq: bool = True,
    initial: str = "",
) -> str:
    """The docker env file for subnet.env ``values``; ``initial`` is the key's value in the script's
    environment, which the script prepends."""
    if not individual and not combined:
        individual = combined = True
    opts: dict[str, str] = {}
    if values.get("FLANNEL_SUBNET"):
        opts["DOCKER_OPT_BIP"] = f"--bip={values['FLANNEL_SUBNET']}"
    if values.get("FLANNEL_MTU"):
        opts["DOCKER_OPT_MTU"] = f"--mtu={values['FLANNEL_MTU']}"
    masq = values.get("FLANNEL_IPMASQ")
    if masq and ip_masq:
        if masq not in ("true", "false"):
            raise UsageError(f"Invalid value of FLANNEL_IPMASQ: {masq}.")
        opts["DOCKER_OPT_IPMASQ"] = f"--ip-masq={'false' if masq == 'true' else 'true'}"
    lines = []
    all_opts = f"{initial} " if initial else ""
    for name in sorted(opts):
        if individual:
            lines.append(f'{name}="{opts[name]}"')
        all_opts += f" {opts[name]}"
    if combined:
        lines.append(f'{key}="{all_opts}"')
    return "".join(line + "\n" for line in lines)


@mutation("flannel.docker-opts", "write {docker_env}")
def write_docker_opts(
    ctx: HostContext,
    subnet_file: str = DEFAULT_SUBNET_FILE,
    docker_env: str = DEFAULT_DOCKER_ENV,
    key: str = DEFAULT_KEY,
    individual: bool = False,
    combined: bool = False,
    ip_masq: bool = True,
    env: Mapping[str, str] | None = None,
) -> str:
    """Read ``subnet_file``, write ``docker_env`` atomically, return what was written."""
    if not key.isidentifier():
        raise UsageError(f"Docker options key {key!r} is not a shell variable name.")
    values = read_env(subnet_file)
    env = os.environ if env is None else env
    text = docker_opts_text(values, key, individual, combined, ip_masq, env.get(key, ""))
    atomic_write(docker_env, text)
    return text
