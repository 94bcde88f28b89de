"""The checks of what a user gives flannel commands and the Flannel pane's forms: etcd endpoints, prefix and TLS
files, the config text (argument, file or stdin), leases' subnets, PublicIPs and VTEP MACs, the agent's
interfaces and numbers. Each uses the one validator of its kind in ``values`` and raises ``UsageError`` with one
sentence naming the field (``error.target``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from netcon.core.errors import UsageError
from netcon.core.flannel.config import ConfigError, FlannelConfig, parse_config
from netcon.core.validate.values import (
    MAX_TEXT_BYTES,
    fail,
    integer,
    interface_name,
    ipv4_address,
    ipv4_network,
    mac_address,
    number,
    shown,
    text,
    text_file,
    url,
)

MAX_DEPTH = 64  # a flannel config is three levels deep; far deeper nesting is not a config
API_CHOICES = ("auto", "2", "3")
PEM_MARKERS = {
    "certificate": (b"-----BEGIN CERTIFICATE-----",),
    "key": (b"-----BEGIN PRIVATE KEY-----", b"-----BEGIN RSA PRIVATE KEY-----", b"-----BEGIN EC PRIVATE KEY-----"),
}


# --- etcd ------------------------------------------------------------------------------------------------


def etcd_endpoints(value: str, field: str = "etcd_endpoints") -> tuple[str, ...]:
    """Comma-separated http(s)://host:port URLs, each with a valid host name or address and port."""
    stripped = text(value, field, "etcd endpoints")
    urls = tuple(part.strip().rstrip("/") for part in stripped.split(","))
    for endpoint in urls:
        if not endpoint:
            raise fail(field, f"etcd endpoints {shown(stripped)} hold an empty entry between commas.")
        url(endpoint, field, "etcd endpoint", ("http", "https"))
    return urls


def etcd_prefix(value: str, field: str = "etcd_prefix") -> str:
    """flannel's key prefix: a path of at least one segment (slashes at either end do not matter)."""
    stripped = text(value, field, "etcd prefix")
    normal = "/" + stripped.strip("/")
    if normal == "/":
        raise fail(field, f"etcd prefix {shown(stripped)} is the root; give a path like /coreos.com/network.")
    if any(ch.isspace() for ch in normal) or "//" in normal:
        raise fail(field, f"etcd prefix {shown(stripped)} holds spaces or an empty path segment.")
    return normal


def etcd_api(value: str, field: str = "etcd_api") -> str:
    stripped = text(value, field, "etcd API")
    if stripped not in API_CHOICES:
        raise fail(field, f"etcd API {shown(stripped)} is not one of auto, 2, 3.")
    return stripped


def tls_file(path: str, field: str, label: str, kind: str) -> str:
    """A PEM file holding a ``kind`` ("certificate" or "key"): checked before any connection, because gRPC
    and OpenSSL only fail later, with their own noise."""
    name = text(path, field, label)
    data = text_file(name, field, label).encode()
    if not any(marker in data for marker in PEM_MARKERS[kind]):
        raise fail(field, f"{label} {name} is not a PEM {kind} file (no '-----BEGIN' {kind} block).")
    return name


def tls_pair(cafile: str | None, certfile: str | None, keyfile: str | None) -> None:
    """Load the TLS files as OpenSSL will: a garbled PEM, or a key that does not match its certificate, is one
    sentence here instead of a failed handshake (and gRPC's log lines) at the first request."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile is not None:
        try:
            context.load_verify_locations(cafile=cafile)
        except ssl.SSLError as error:
            raise fail(
                "etcd_cafile",
                f"etcd CA file {cafile} holds no valid certificate ({error.reason or 'OpenSSL cannot read it'}).",
            ) from None
    if certfile is not None and keyfile is not None:
        try:
            context.load_cert_chain(certfile, keyfile)
        except ssl.SSLError as error:
            raise fail(
                "etcd_certfile",
                f"etcd certificate {certfile} and key {keyfile} are not a valid certificate and matching key "
                f"({error.reason or 'OpenSSL cannot read them'}).",
            ) from None


# --- the config --------------------------------------------------------------------------------------------


def decoded(value: str | bytes, field: str, label: str) -> str:
    """Text a user piped in (bytes) or typed: UTF-8, no NUL bytes, at most ``MAX_TEXT_BYTES``."""
    if isinstance(value, bytes):
        if len(value) > MAX_TEXT_BYTES:
            raise fail(field, f"{label} is larger than {MAX_TEXT_BYTES} bytes; this is not a flannel config.")
        if b"\0" in value:
            raise fail(field, f"{label} holds binary data, not text.")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise fail(field, f"{label} is not UTF-8 text (byte {value[error.start]:#04x} at {error.start}).") from None
    if len(value) > MAX_TEXT_BYTES:
        raise fail(field, f"{label} is larger than {MAX_TEXT_BYTES} characters; this is not a flannel config.")
    return value


def nesting_depth(text_: str) -> int:
    """How deep brackets nest outside strings (a cheap pass: no recursion however deep the input)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text_:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def config_text(value: str | bytes | None, field: str = "config", label: str = "The flannel config") -> FlannelConfig:
    """The config a user gives, parsed and checked as flanneld does (one sentence on any problem)."""
    if value is None:
        raise fail(field, f"{label} is empty.")
    content = decoded(value, field, label)
    if not content.strip():
        raise fail(field, f"{label} is empty.")
    if nesting_depth(content) > MAX_DEPTH:
        raise fail(field, f"{label} nests JSON more than {MAX_DEPTH} levels deep; a flannel config has three.")
    try:
        return parse_config(content)
    except ConfigError as error:
        raise fail(field, str(error)) from None
    except RecursionError:  # nesting_depth lets nothing this deep through; kept for safety
        raise fail(field, f"{label} nests JSON too deeply.") from None


def config_source(config: str | bytes | None, file: str | None) -> tuple[str, FlannelConfig]:
    """(text, parsed config) from exactly one of the text (or stdin's bytes) and a file path."""
    if config is not None and file is not None:
        raise fail("file", "Give the config either as text (or - for stdin) or with --file, not both.")
    if file is not None:
        content = text_file(file, "file", "Config file")
        return content, config_text(content, "file", f"The config in {file.strip()}")
    if config is None:
        raise fail("config", "Give the config as an argument, with --file, or as - on stdin.")
    parsed = config_text(config, "config")
    return parsed.text, parsed


# --- leases ------------------------------------------------------------------------------------------------


def lease_subnet(value: str, field: str = "subnet") -> str:
    """A lease's subnet, e.g. 10.5.34.0/24 (no host bits: a lease key names its network)."""
    return str(ipv4_network(value, field, "Subnet"))


def public_ip(value: str, field: str = "public_ip") -> str:
    return str(ipv4_address(value, field, "PublicIP"))


def vtep_mac(value: str, field: str = "vtep_mac") -> str:
    mac = mac_address(value, field, "VTEP MAC")
    if int(mac[:2], 16) & 1:
        raise fail(
            field, f"VTEP MAC {mac} is a multicast address; a device's MAC has the lowest bit of its first byte clear."
        )
    return mac


# --- the agent ---------------------------------------------------------------------------------------------


def agent_iface(value: str, field: str = "iface") -> str:
    """An ``--iface`` entry: an interface name or one of its IPv4 addresses."""
    stripped = text(value, field, "Interface")
    try:
        return str(ipaddress.IPv4Address(stripped))
    except ipaddress.AddressValueError:
        return interface_name(stripped, field, "Interface")


def ip_masq(value: str, field: str = "ip_masq") -> bool:
    stripped = text(value, field, "--ip-masq").lower()
    if stripped not in ("true", "false", "1", "0"):
        raise fail(field, f"--ip-masq takes true or false, not {shown(value)}.")
    return stripped in ("true", "1")


def renew_margin_minutes(value: object, field: str = "renew_margin") -> int:
    """flanneld's --subnet-lease-renew-margin: whole minutes, less than the lease's 24 h."""
    return integer(value, field, "Lease renew margin (minutes)", 1, 24 * 60 - 1)


def retry_cap(value: object, field: str = "retry_interval") -> float:
    return number(value, field, "Retry interval (seconds)", 0.1, 3600)


# --- the Flannel pane's forms ------------------------------------------------------------------------------


def _config_field(value: Any, values: Mapping[str, Any], facts: object) -> FlannelConfig:
    return config_text(value)


def _public_ip_field(value: Any, values: Mapping[str, Any], facts: object) -> str:
    if value is None:
        raise UsageError("PublicIP is empty.", target="public_ip")
    return public_ip(value)


def _vtep_mac_field(value: Any, values: Mapping[str, Any], facts: object) -> str | None:
    return None if value is None else vtep_mac(value)


FORMS: dict[str, dict[str, Callable[[Any, Mapping[str, Any], Any], Any]]] = {
    "flannel.config.set": {"config": _config_field},
    "flannel.lease.acquire": {"public_ip": _public_ip_field, "vtep_mac": _vtep_mac_field},
}
