"""The names a user gives Docker objects: networks, containers, aliases, checked by Docker's own rule and, with
the host's facts, against the names already taken."""

from __future__ import annotations

import re

from netcon.core.host_facts import HostFacts
from netcon.core.validate.values import fail, shown, text

# Docker's own rule for container names (daemon/names); netcon applies it to networks, aliases too, since
# Docker 20.10 accepts network names with "/" or spaces that its API paths and CLI then cannot address.
NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
NAME_MAX = 255  # longer names make Docker's bridge and endpoint names fail later


def _name(value: str | None, label: str, rule: str) -> str:
    name = text(value, "name", label)
    if len(name) > NAME_MAX:
        raise fail("name", f"{label} {shown(name)} is longer than {NAME_MAX} characters.")
    if not NAME_RE.fullmatch(name):
        raise fail("name", f"{label} {shown(name)} is not allowed: {rule}.")
    return name


def check_network_name(value: str | None, facts: HostFacts | None = None) -> str:
    name = _name(
        value, "Network name", "it must start with a letter or digit and hold only letters, digits, '_', '.' and '-'"
    )
    if facts is not None:
        taken = next((n for n in facts.networks if n.name == name), None)
        if taken is not None:
            raise fail("name", f"Network name {name} is already taken (network {taken.id[:12]}).")
    return name


def check_container_name(value: str | None, facts: HostFacts | None = None) -> str:
    rule = (
        "Docker wants at least two characters, starting with a letter or digit, then only letters, digits, "
        "'_', '.' and '-'"
    )
    name = _name(value, "Container name", rule)
    if len(name) < 2:
        raise fail("name", f"Container name {shown(name)} is not allowed: {rule}.")
    if facts is not None:
        taken = next((c for c in facts.containers if c.name == name), None)
        if taken is not None:
            raise fail("name", f"Container name {name} is already taken (container {taken.id[:12]}, {taken.state}).")
    return name


def check_alias(value: str) -> str:
    alias = text(value, "aliases", "Alias")
    if len(alias) > NAME_MAX or not NAME_RE.fullmatch(alias):
        raise fail("aliases", f"Alias {shown(alias)} is not a valid DNS name: use letters, digits, '_', '.' and '-'.")
    return alias
