"""Fields of several items: lists separated by spaces or commas, key=value pairs, and the two kinds of them
Docker takes, labels and driver options (whose bridge name and MTU are checked)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from netcon.core.host_facts import HostFacts
from netcon.core.snapshot_join import BRIDGE_NAME_OPTION
from netcon.core.validate.fields import Value
from netcon.core.validate.values import IFNAME_RE, fail, shown

MTU_OPTION = "com.docker.network.driver.mtu"
MTU_MIN, MTU_MAX = 68, 65535


def split_items(value: Value) -> list[str]:
    """A form's text of several items (separated by spaces or commas), or a sequence of them, as a list."""
    if isinstance(value, str):
        return [item for item in re.split(r"[\s,]+", value.strip()) if item]
    return [str(item) for item in (value or ())]


def parse_kv(item: str, field: str, label: str) -> tuple[str, str]:
    key, sep, val = str(item).partition("=")
    if not sep or not key.strip():
        raise fail(field, f"{label} {shown(item)} is not of the form key=value.")
    return key.strip(), val


def parse_kv_items(value: Value, field: str, label: str) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return dict(parse_kv(item, field, label) for item in split_items(value))


def check_options(value: Value, facts: HostFacts | None = None) -> dict[str, str]:
    """Driver options; the bridge name and MTU are checked, since Docker only fails on them later."""
    options = parse_kv_items(value, "options", "Option")
    bridge = options.get(BRIDGE_NAME_OPTION)
    if bridge is not None:
        if not IFNAME_RE.fullmatch(bridge) or bridge in (".", ".."):
            raise fail(
                "options",
                f"Bridge name {shown(bridge)} ({BRIDGE_NAME_OPTION}) is not a valid Linux interface "
                "name: 1 to 15 characters without '/', ':' or spaces.",
            )
        if facts is not None:
            user = next((n for n in facts.networks if n.bridge_name == bridge), None)
            if user is not None:
                raise fail("options", f"Bridge name {bridge} is already used by Docker network {user.name}.")
    mtu = options.get(MTU_OPTION)
    if mtu is not None and not (mtu.strip().isdigit() and MTU_MIN <= int(mtu) <= MTU_MAX):
        raise fail("options", f"MTU {shown(mtu)} ({MTU_OPTION}) must be a whole number from {MTU_MIN} to {MTU_MAX}.")
    return options


def check_labels(value: Value) -> dict[str, str]:
    return parse_kv_items(value, "labels", "Label")
