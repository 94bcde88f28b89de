"""The kinds of value every command shares — text, files, addresses, URLs, numbers, names — each checked by one
function, used alike by the CLI, the console's forms and the core.

Each check returns the parsed value or raises ``UsageError`` with one sentence naming the field and what is
wrong with the value (shown with ``shown``, so a huge or binary value still makes a one-line message), and
``error.target`` set to the field. ``None`` means "not given" and is the caller's business; an empty string
is a value the user gave, and is refused, never replaced by a default.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import stat
from urllib.parse import SplitResult, urlsplit

from netcon.core.errors import UsageError

MAX_TEXT_BYTES = 1 << 20  # a config or subnet file is a few hundred bytes; more is a mistake, not a config
MAX_SHOWN = 60  # characters of a bad value quoted in a message
MAX_TEXT_CHARS = 1024  # a name, an address, a URL: more is a mistake (or an attack), never a value
MAX_PATH_CHARS = 4096  # PATH_MAX
LABEL_RE = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")  # DNS label (and Docker's _)
MAC_RE = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")
IFNAME_RE = re.compile(r"[^/\s:]{1,15}")  # Linux IFNAMSIZ-1, no slash, colon or space


def fail(field: str, message: str) -> UsageError:
    return UsageError(message, target=field)


def shown(value: object) -> str:
    """``value`` quoted for a message: repr (so control characters and undecodable bytes are escaped),
    cut to ``MAX_SHOWN`` characters."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def text(value: str | None, field: str, label: str, limit: int = MAX_TEXT_CHARS) -> str:
    """A non-empty value of at most ``limit`` characters, UTF-8 and without control characters, stripped of
    surrounding spaces (None counts as empty: the caller decides where "not given" has a default)."""
    stripped = "" if value is None else str(value).strip()
    if not stripped:
        raise fail(field, f"{label} is empty.")
    if len(stripped) > limit:
        raise fail(field, f"{label} {shown(stripped)} is longer than {limit} characters.")
    try:
        stripped.encode("utf-8")
    except UnicodeEncodeError:  # bytes of a command line that are not UTF-8 arrive as lone surrogates
        raise fail(field, f"{label} {shown(stripped)} is not UTF-8 text.") from None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in stripped):
        raise fail(field, f"{label} {shown(stripped)} contains control characters.")
    return stripped


def name_list(value: str | None, field: str, label: str, at_least: int = 1) -> list[str]:
    """Comma-separated names (``a,b,c``): none blank, none twice, at least ``at_least`` of them."""
    given = "" if value is None else str(value)
    names = [part.strip() for part in given.split(",")]
    if not given.strip() or not any(names):
        raise fail(field, f"{label} is empty: give {at_least} or more names separated by commas.")
    if not all(names):
        raise fail(field, f"{label} {shown(given)} has an empty name: separate the names with single commas.")
    for name in names:
        text(name, field, label)
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise fail(field, f"{label} names {shown(twice) if len(twice) > MAX_SHOWN else twice} twice; name each once.")
    if len(names) < at_least:
        raise fail(field, f"{label} names only {len(names)}; give {at_least} or more.")
    return names


# --- files -----------------------------------------------------------------------------------------------


def text_file(path: str, field: str, label: str, limit: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes."""
    name = text(path, field, label, MAX_PATH_CHARS)
    try:
        info = os.stat(name)
    except FileNotFoundError:
        raise fail(field, f"{label} {name} does not exist.") from None
    except OSError as error:
        raise fail(field, f"{label} {name} cannot be read: {error.strerror}.") from None
    if stat.S_ISDIR(info.st_mode):
        raise fail(field, f"{label} {name} is a directory, not a file.")
    try:
        with open(name, "rb") as f:
            data = f.read(limit + 1)
    except OSError as error:
        raise fail(field, f"{label} {name} cannot be read: {error.strerror}.") from None
    if len(data) > limit:
        raise fail(field, f"{label} {name} is larger than {limit} bytes; this is not the file netcon expects.")
    if b"\0" in data:
        raise fail(field, f"{label} {name} holds binary data, not text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise fail(
            field, f"{label} {name} is not UTF-8 text (byte {data[error.start]:#04x} at {error.start})."
        ) from None


def output_file(path: str, field: str, label: str) -> str:
    """A path netcon may create or replace: not a directory, in a directory that exists."""
    name = text(path, field, label, MAX_PATH_CHARS)
    if name in ("/dev/stdout", "-"):
        return "/dev/stdout"
    if os.path.isdir(name):
        raise fail(field, f"{label} {name} is a directory; give a file path.")
    parent = os.path.dirname(os.path.abspath(name))
    if not os.path.isdir(parent):
        raise fail(field, f"{label} {name} cannot be written: the directory {parent} does not exist.")
    return name


# --- addresses -------------------------------------------------------------------------------------------


def ipv4_address(value: str, field: str, label: str) -> ipaddress.IPv4Address:
    stripped = text(value, field, label)
    try:
        return ipaddress.IPv4Address(stripped)
    except ipaddress.AddressValueError:
        raise fail(field, f"{label} {shown(stripped)} is not an IPv4 address like 198.18.0.31.") from None


def ipv4_network(value: str, field: str, label: str) -> ipaddress.IPv4Network:
    """An IPv4 CIDR with an explicit prefix length and no host bits set."""
    stripped = text(value, field, label)
    address, slash, prefix = stripped.rpartition("/")
    if not slash or not prefix.isdigit():
        raise fail(
            field, f"{label} {shown(stripped)} is not a CIDR: write it as address/prefix-length, e.g. 10.1.2.0/24."
        )
    try:
        ipaddress.IPv4Address(address)
    except ipaddress.AddressValueError:
        raise fail(
            field, f"{label} {shown(stripped)} is not a valid IPv4 CIDR: {address} is not an IPv4 address."
        ) from None
    if int(prefix) > 32:
        raise fail(field, f"{label} {shown(stripped)} is not a valid IPv4 CIDR: the prefix length must be 0 to 32.")
    try:
        return ipaddress.IPv4Network(stripped, strict=True)
    except ValueError:
        network = ipaddress.IPv4Network(stripped, strict=False)
        raise fail(field, f"{label} {shown(stripped)} has host bits set: did you mean {network}?") from None


def mac_address(value: str, field: str, label: str) -> str:
    """A MAC address, lower-cased."""
    stripped = text(value, field, label)
    if not MAC_RE.fullmatch(stripped):
        raise fail(field, f"{label} {shown(stripped)} is not a MAC address like d6:80:cc:3a:bc:2e.")
    return stripped.lower()


def host_name(value: str, field: str, label: str) -> str:
    """A DNS name (or a Docker container name, which may hold '_'): at most 253 characters in labels of 1 to
    63 letters, digits, '-' and '_'."""
    stripped = text(value, field, label).rstrip(".")
    if len(stripped) > 253:
        raise fail(field, f"{label} {shown(stripped)} is longer than the 253 characters a DNS name may have.")
    if not stripped or not all(LABEL_RE.fullmatch(part) for part in stripped.split(".")):
        raise fail(
            field,
            f"{label} {shown(stripped)} is not a host name: use labels of 1 to 63 letters, digits, '-' and '_' "
            "separated by dots.",
        )
    return stripped


def host(value: str, field: str, label: str) -> str:
    """An IP address (v4, or v6 in brackets as URLs write it) or a host name."""
    stripped = text(value, field, label)
    candidate = stripped[1:-1] if stripped.startswith("[") and stripped.endswith("]") else stripped
    try:
        ipaddress.ip_address(candidate)
        return stripped
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+", candidate):
        raise fail(field, f"{label} {shown(stripped)} is not an IPv4 address.")
    return host_name(candidate, field, label)


def interface_name(value: str, field: str, label: str) -> str:
    stripped = text(value, field, label)
    if not IFNAME_RE.fullmatch(stripped) or stripped in (".", ".."):
        raise fail(
            field,
            f"{label} {shown(stripped)} is not a Linux interface name: 1 to 15 characters without '/', ':' or spaces.",
        )
    return stripped


# --- numbers ---------------------------------------------------------------------------------------------


def integer(value: object, field: str, label: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high`` (a string or an int; a bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise fail(field, f"{label} {shown(value)} is not a whole number.")
    if isinstance(value, str):
        stripped = text(value, field, label)
        if not re.fullmatch(r"[+-]?\d{1,18}", stripped):
            raise fail(field, f"{label} {shown(stripped)} is not a whole number.")
        value = int(stripped)
    if not low <= value <= high:
        raise fail(field, f"{label} {value} is out of range: it must be from {low} to {high}.")
    return value


def number(value: object, field: str, label: str, low: float, high: float) -> float:
    """A finite number from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise fail(field, f"{label} {shown(value)} is not a number.")
    try:
        parsed = float(text(value, field, label) if isinstance(value, str) else value)
    except ValueError:
        raise fail(field, f"{label} {shown(value)} is not a number.") from None
    if not math.isfinite(parsed) or not low <= parsed <= high:
        raise fail(field, f"{label} {shown(value)} is out of range: it must be from {low:g} to {high:g}.")
    return parsed


DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(value: object, field: str, label: str, low: float, high: float) -> float:
    """Seconds, from a duration as Prometheus writes it (``500ms``, ``1s``, ``2m``, ``1h``) or a number of
    seconds, from ``low`` to ``high``."""
    if isinstance(value, str):
        stripped = text(value, field, label)
        match = DURATION_RE.fullmatch(stripped)
        if match is None:
            raise fail(field, f"{label} {shown(stripped)} is not a duration like 500ms, 1s, 2m or 1h.")
        seconds = float(match[1]) * DURATION_UNITS[match[2]]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise fail(field, f"{label} {shown(value)} is not a duration like 500ms, 1s, 2m or 1h.")
    if not math.isfinite(seconds) or not low <= seconds <= high:
        raise fail(field, f"{label} {shown(value)} is out of range: it must be from {low:g} s to {high:g} s.")
    return seconds


def port(value: object, field: str, label: str) -> int:
    return integer(value, field, label, 1, 65535)


def listen_address(value: str, field: str, label: str) -> tuple[str, int]:
    """``ADDR:PORT`` a server binds to: an IPv4 address, an IPv6 one in brackets (``[::1]:9000``) or
    ``localhost``, and a port from 1 to 65535. Returns (address without brackets, port)."""
    stripped = text(value, field, label)
    address, colon, given_port = stripped.rpartition(":")
    if not colon or not address:
        raise fail(field, f"{label} {shown(stripped)} is not ADDR:PORT, like 127.0.0.1:9400.")
    bare = address[1:-1] if address.startswith("[") and address.endswith("]") else address
    if bare != "localhost":
        try:
            parsed = ipaddress.ip_address(bare)
        except ValueError:
            raise fail(
                field, f"{label} {shown(stripped)} does not start with an IP address (write IPv6 as [::1]:PORT)."
            ) from None
        if parsed.version == 6 and bare == address:
            raise fail(field, f"{label} {shown(stripped)}: write an IPv6 address in brackets, like [::1]:9400.")
    return bare, port(given_port, field, f"{label}'s port")


# --- URLs ------------------------------------------------------------------------------------------------


def url(value: str, field: str, label: str, schemes: tuple[str, ...], path: bool = False) -> SplitResult:
    """A URL of one of ``schemes`` with a valid host and port (and, unless ``path``, nothing after them)."""
    stripped = text(value, field, label)
    parts = urlsplit(stripped)
    if parts.scheme not in schemes:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise fail(field, f"{label} {shown(stripped)} is not a {wanted} URL.")
    if not parts.netloc or not parts.hostname:
        raise fail(field, f"{label} {shown(stripped)} has no host.")
    host(parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]", field, label)
    try:
        given_port = parts.port
    except ValueError:
        raise fail(field, f"{label} {shown(stripped)} has a port that is not a number from 1 to 65535.") from None
    if given_port is not None and not 1 <= given_port <= 65535:
        raise fail(field, f"{label} {shown(stripped)} has a port that is not a number from 1 to 65535.")
    if not path and (parts.path not in ("", "/") or parts.query or parts.fragment):
        raise fail(field, f"{label} {shown(stripped)} must be only scheme://host:port, without a path.")
    return parts


def docker_url(value: str, field: str = "docker_host", label: str = "Docker endpoint") -> str:
    """A Docker endpoint as docker-py takes it: unix:///path/to/socket, tcp://host:port, http(s)://host:port
    or ssh://[user@]host[:port]."""
    stripped = text(value, field, label)
    if stripped.startswith("unix://"):
        socket_path = stripped[len("unix://") :]
        if not socket_path.startswith("/"):
            raise fail(
                field, f"{label} {shown(stripped)} needs an absolute socket path, like unix:///var/run/docker.sock."
            )
        return stripped
    url(stripped, field, label, ("tcp", "http", "https", "ssh", "unix"))
    return stripped
