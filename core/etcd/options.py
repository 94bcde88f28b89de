"""How to reach etcd: endpoints, API version, TLS files and credentials, with etcdctl's environment variables.

Explicit values win; otherwise the variables ``etcdctl`` reads (both its v3 and its v2 names) fill the gaps,
so a shell already set up for ``etcdctl`` needs no extra flags.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from netcon.core.errors import UsageError

DEFAULT_ENDPOINTS = ("http://127.0.0.1:2379",)
API_CHOICES = ("auto", "2", "3")

# (field, variable names in order of preference); the v3 names come first, then etcdctl v2's.
ENV_NAMES = {
    "endpoints": ("ETCDCTL_ENDPOINTS", "ETCDCTL_ENDPOINT", "ETCDCTL_PEERS"),
    "cafile": ("ETCDCTL_CACERT", "ETCDCTL_CA_FILE"),
    "certfile": ("ETCDCTL_CERT", "ETCDCTL_CERT_FILE"),
    "keyfile": ("ETCDCTL_KEY", "ETCDCTL_KEY_FILE"),
    "username": ("ETCDCTL_USER", "ETCDCTL_USERNAME"),
    "password": ("ETCDCTL_PASSWORD",),
    "api": ("ETCDCTL_API",),
}


@dataclass(frozen=True)
class EtcdOptions:
    """Connection settings shared by the v2 and v3 clients."""

    endpoints: tuple[str, ...] = DEFAULT_ENDPOINTS
    api: str = "auto"  # "auto", "2" or "3"
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if self.api not in API_CHOICES:
            raise UsageError(f"etcd API {self.api!r} is not one of auto, 2, 3.")
        if not self.endpoints:
            raise UsageError("No etcd endpoint given.")
        for url in self.endpoints:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UsageError(f"etcd endpoint {url!r} is not an http:// or https:// URL with a host.")
        if bool(self.certfile) != bool(self.keyfile):
            raise UsageError("etcd TLS needs both a certificate file and a key file, or neither.")
        for path in (self.cafile, self.certfile, self.keyfile):
            if path and not os.path.isfile(path):
                raise UsageError(f"etcd TLS file {path} does not exist.")
        if self.password is not None and not self.username:
            raise UsageError("An etcd password was given without a user name.")

    @classmethod
    def from_values(cls, env: Mapping[str, str] | None = None, **given: object) -> EtcdOptions:
        """Options from explicit values (None means not given), completed from etcdctl's variables."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field, names in ENV_NAMES.items():
            value = given.get(field)
            if value in (None, "", ()):
                value = next((env[n] for n in names if env.get(n)), None)
            if value not in (None, "", ()):
                values[field] = value
        if isinstance(values.get("endpoints"), str):
            values["endpoints"] = split_endpoints(str(values["endpoints"]))
        elif "endpoints" in values:
            values["endpoints"] = tuple(values["endpoints"])  # type: ignore[arg-type]
        user = values.get("username")
        if isinstance(user, str) and ":" in user and "password" not in values:
            values["username"], values["password"] = user.split(":", 1)
        if given.get("timeout") is not None:
            values["timeout"] = float(given["timeout"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    def with_api(self, api: str) -> EtcdOptions:
        return replace(self, api=api)


def split_endpoints(text: str) -> tuple[str, ...]:
    """``"http://a:2379, http://b:2379"`` -> a tuple of URLs without trailing slashes."""
    return tuple(part.strip().rstrip("/") for part in text.split(",") if part.strip())
