"""The exporter's TOML config: ``[[probe]]`` and ``[[matrix]]`` tables and how often each kind of reading runs.

Read with the standard library's ``tomllib``; every value goes through ``core.validate.values``. A syntax error
names its line (tomllib's own position); a bad value names the table (``[[probe]] 2``), the key and, found by
scanning the text, the line it is on. Unknown tables and keys are refused too: a typo would otherwise silently
leave a probe or an interval at its default.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import Any

from netcon.core.errors import UsageError
from netcon.core.validate import values

MAX_ENTRIES = 10_000  # probes or matrices in one file: more is a mistake, not a config
MIN_PROBE_INTERVAL_S = 0.2  # ping's own floor (core.ping.engine.MIN_INTERVAL_S)
MAX_INTERVAL_S = 86_400.0

EXAMPLE = """\
# netcon exporter config (TOML). Every section is optional; the values shown are the defaults.
# Durations are written like Prometheus writes them: 500ms, 1s, 2m, 1h.

# Docker's and the kernel's picture (containers, networks, bridges, which veth is whose), re-read this often.
[snapshot]
interval = "15s"

# The veths' byte, packet, error and drop counters: one netlink dump of the host.
[counters]
interval = "5s"

# netcon doctor on this host; its flannel checks need the etcd options on the command line.
[doctor]
interval = "60s"

# flannel's leases in etcd (--etcd-endpoints ... on the command line; without them, nothing is read).
[flannel]
interval = "30s"

# One ICMP probe each: from a container, "host", or "netns:NAME" (a lab host), to an IPv4 address or a name
# resolved the way the source resolves it (its /etc/hosts, then its nameservers).
[[probe]]
source = "app1"
target = "app2"
interval = "1s"
timeout = "1s"     # optional; default: the interval, at most 2s

[[probe]]
source = "host"
target = "198.51.100.7"
interval = "5s"

# Every ordered pair of the network's running containers, probed once per interval (one echo per pair).
[[matrix]]
network = "app"
interval = "30s"
"""


@dataclass(frozen=True)
class ProbeConfig:
    source: str
    target: str
    interval: float
    timeout: float


@dataclass(frozen=True)
class MatrixConfig:
    network: str
    interval: float
    timeout: float = 1.0


@dataclass(frozen=True)
class ExporterConfig:
    probes: tuple[ProbeConfig, ...] = ()
    matrices: tuple[MatrixConfig, ...] = ()
    snapshot_interval: float = 15.0
    counters_interval: float = 5.0
    doctor_interval: float = 60.0
    flannel_interval: float = 30.0


SECTIONS = {"snapshot", "counters", "doctor", "flannel"}
TABLE_KEYS = {"probe": {"source", "target", "interval", "timeout"}, "matrix": {"network", "interval", "timeout"}}
DEFAULTS = ExporterConfig()


def load(path: str) -> ExporterConfig:
    """Read and check the config file ``path``."""
    text = values.text_file(path, "config", "Config file")
    return parse(text, path)


def parse(text: str, name: str = "the config") -> ExporterConfig:
    """Check ``text``; a ``UsageError`` naming ``name``, the line, the table and the key otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{name} is not valid TOML: {error}.", target="config") from None
    where = _Locator(text, name)
    for key, value in data.items():
        if key in TABLE_KEYS:
            if not isinstance(value, list):
                raise where.error(key, None, None, f"'{key}' must be an array of tables, written [[{key}]].")
        elif key in SECTIONS:
            if not isinstance(value, dict):
                raise where.error(key, None, None, f"'{key}' must be a table, written [{key}].")
            _known(where, key, None, value, {"interval"})
        else:
            known = ", ".join(f"[{s}]" for s in sorted(SECTIONS)) + ", [[probe]], [[matrix]]"
            raise where.error(key, None, None, f"there is no section '{key}' (known: {known}).")
    intervals = {
        f"{section}_interval": _duration(where, section, None, data[section], "interval", 1.0, MAX_INTERVAL_S)
        for section in SECTIONS
        if section in data and "interval" in data[section]
    }
    return ExporterConfig(
        probes=tuple(_probe(where, i, entry) for i, entry in _entries(where, data, "probe")),
        matrices=tuple(_matrix(where, i, entry) for i, entry in _entries(where, data, "matrix")),
        **intervals,
    )


def _entries(where: _Locator, data: dict[str, Any], table: str) -> list[tuple[int, dict[str, Any]]]:
    entries = data.get(table, [])
    if len(entries) > MAX_ENTRIES:
        raise where.error(table, None, None, f"{len(entries)} [[{table}]] tables are more than {MAX_ENTRIES}.")
    for index, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise where.error(table, index, None, "must be a table.")
        _known(where, table, index, entry, TABLE_KEYS[table])
    return list(enumerate(entries, 1))


def _known(where: _Locator, table: str, index: int | None, entry: dict[str, Any], keys: set[str]) -> None:
    for key in entry:
        if key not in keys:
            raise where.error(table, index, key, f"unknown key (known: {', '.join(sorted(keys))}).")


def _required(where: _Locator, table: str, index: int, entry: dict[str, Any], key: str) -> str:
    if key not in entry:
        raise where.error(table, index, None, f"'{key}' is missing.")
    value = entry[key]
    if not isinstance(value, str):
        raise where.error(table, index, key, f"{values.shown(value)} is not a string.")
    try:
        return values.text(value, key, key.capitalize())
    except UsageError as error:
        raise where.error(table, index, key, str(error)) from None


def _duration(
    where: _Locator, table: str, index: int | None, entry: dict[str, Any], key: str, low: float, high: float
) -> float:
    try:
        return values.duration(entry[key], key, key.capitalize(), low, high)
    except UsageError as error:
        raise where.error(table, index, key, str(error)) from None


def _probe(where: _Locator, index: int, entry: dict[str, Any]) -> ProbeConfig:
    source = _required(where, "probe", index, entry, "source")
    target = _required(where, "probe", index, entry, "target")
    try:
        values.host(target, "target", "Target")
    except UsageError as error:
        raise where.error("probe", index, "target", str(error)) from None
    if "interval" not in entry:
        raise where.error("probe", index, None, "'interval' is missing (e.g. interval = \"1s\").")
    interval = _duration(where, "probe", index, entry, "interval", MIN_PROBE_INTERVAL_S, MAX_INTERVAL_S)
    timeout = min(interval, 2.0)
    if "timeout" in entry:
        timeout = _duration(where, "probe", index, entry, "timeout", 0.01, 60.0)
    return ProbeConfig(source, target, interval, timeout)


def _matrix(where: _Locator, index: int, entry: dict[str, Any]) -> MatrixConfig:
    network = _required(where, "matrix", index, entry, "network")
    if "interval" not in entry:
        raise where.error("matrix", index, None, "'interval' is missing (e.g. interval = \"30s\").")
    interval = _duration(where, "matrix", index, entry, "interval", 1.0, MAX_INTERVAL_S)
    timeout = _duration(where, "matrix", index, entry, "timeout", 0.01, 60.0) if "timeout" in entry else 1.0
    return MatrixConfig(network, interval, min(timeout, interval))


_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_-]+)\s*\]\]?")
_KEY = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=")


class _Locator:
    """Finds the line of a table or of one of its keys in the text, for messages (tomllib keeps no positions).
    Handles the layout a person writes (a header per table, one key per line); otherwise names no line."""

    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self.lines = text.splitlines()

    def line_of(self, table: str, index: int | None, key: str | None) -> int | None:
        seen, inside, header_line = 0, False, None
        for number, line in enumerate(self.lines, 1):
            header = _HEADER.match(line)
            if header:
                inside = header[2] == table and (index is None or (header[1] == "[[" and seen + 1 == index))
                if header[2] == table and header[1] == "[[":
                    seen += 1
                if inside:
                    header_line = number
                continue
            if inside and key is not None and (found := _KEY.match(line)) and found[1] == key:
                return number
        return header_line

    def error(self, table: str, index: int | None, key: str | None, message: str) -> UsageError:
        line = self.line_of(table, index, key)
        place = f"[[{table}]] {index}" if index is not None else f"'{table}'" if key is None else f"[{table}]"
        field = f" key '{key}'" if key else ""
        at = f" line {line}" if line else ""
        return UsageError(f"{self.name}{at}: {place}{field}: {message}", target="config")
