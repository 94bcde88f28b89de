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
from netcon.core.flannel.subnet_file import DEFAULT_SUBNET_FILE, atomic_write, parse_env
from netcon.core.validate.values import output_file, shown, text, text_file

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


@mutation("flannel.docker-opts", "write the docker options file")
def write_docker_opts(
    ctx: HostContext,
    subnet_file: str | None = None,
    docker_env: str | None = None,
    key: str | None = None,
    individual: bool = False,
    combined: bool = False,
    ip_masq: bool = True,
    env: Mapping[str, str] | None = None,
) -> str:
    """Read ``subnet_file`` (default /run/flannel/subnet.env), write ``docker_env`` (default
    /run/docker_opts.env; ``-`` or /dev/stdout: only return the text) atomically, return what was written."""
    name = text(key, "key", "Docker options key") if key is not None else DEFAULT_KEY
    if not name.isidentifier():
        raise UsageError(f"Docker options key {shown(name)} is not a shell variable name.", target="key")
    source = subnet_file if subnet_file is not None else DEFAULT_SUBNET_FILE
    values = parse_env(text_file(source, "subnet_file", "Subnet file"))
    target = output_file(docker_env if docker_env is not None else DEFAULT_DOCKER_ENV, "docker_env", "Docker env file")
    env = os.environ if env is None else env
    content = docker_opts_text(values, name, individual, combined, ip_masq, env.get(name, ""))
    if target != "/dev/stdout":
        atomic_write(target, content)
    return content
