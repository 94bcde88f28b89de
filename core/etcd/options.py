"""How to reach etcd: endpoints, API version, TLS files and credentials, with etcdctl's environment variables.

Explicit values win; otherwise the variables ``etcdctl`` reads (both its v3 and its v2 names) fill the gaps,
so a shell already set up for ``etcdctl`` needs no extra flags.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from netcon.core.errors import UsageError
from netcon.core.validate.values import text

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
        from netcon.core.validate import flannel as check  # the validators import this package's neighbours

        check.etcd_api(self.api)
        if not self.endpoints:
            raise UsageError("No etcd endpoint given.", target="etcd_endpoints")
        for endpoint in self.endpoints:
            check.etcd_endpoints(endpoint)
        if bool(self.certfile) != bool(self.keyfile):
            raise UsageError(
                "etcd TLS needs both a certificate file and a key file, or neither.", target="etcd_keyfile"
            )
        if self.cafile is not None:
            check.tls_file(self.cafile, "etcd_cafile", "etcd CA file", "certificate")
        if self.certfile is not None:
            check.tls_file(self.certfile, "etcd_certfile", "etcd certificate file", "certificate")
        if self.keyfile is not None:
            check.tls_file(self.keyfile, "etcd_keyfile", "etcd key file", "key")
        check.tls_pair(self.cafile, self.certfile, self.keyfile)
        if self.username is not None:
            text(self.username, "etcd_username", "etcd user name")
        if self.password is not None:
            text(self.password, "etcd_password", "etcd password")
        if self.password is not None and not self.username:
            raise UsageError("An etcd password was given without a user name.", target="etcd_password")

    @classmethod
    def from_values(cls, env: Mapping[str, str] | None = None, **given: object) -> EtcdOptions:
        """Options from explicit values (None means not given; an empty string is given, and refused),
        completed from etcdctl's variables."""
        from netcon.core.validate import flannel as check

        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field, names in ENV_NAMES.items():
            value = given.get(field)
            if value is None or value == ():
                value = next((env[n] for n in names if env.get(n)), None)
            elif isinstance(value, str) and not value.strip():
                raise UsageError(f"--etcd-{field} is empty; leave it out for the default.", target=f"etcd_{field}")
            if value is not None:
                values[field] = value
        if isinstance(values.get("endpoints"), str):
            values["endpoints"] = check.etcd_endpoints(str(values["endpoints"]))
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
