"""How a remote host is named: ``ssh://[user@]host[:port]`` (checked by ``values.ssh_target``)."""

from __future__ import annotations

from dataclasses import dataclass

from netcon.core.validate import values


@dataclass(frozen=True)
class SshTarget:
    host: str  # a name the ssh config may map (its Host entries), or an address
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ssh://{user}{host}{f':{self.port}' if self.port else ''}"


def parse_target(value: str, field: str = "host", label: str = "--host") -> SshTarget:
    user, host, port = values.ssh_target(value, field, label)
    return SshTarget(host, user, port)
