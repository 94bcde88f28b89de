"""The checks of ``container run``: its network mode, published ports, image and command."""

from __future__ import annotations

import re
import shlex

from netcon.core.host_facts import HostFacts
from netcon.core.image import BUSYBOX_IMAGE
from netcon.core.validate.fields import Value, Values
from netcon.core.validate.items import split_items
from netcon.core.validate.names import NAME_MAX, NAME_RE
from netcon.core.validate.values import MAX_SHOWN, fail, shown, text

PORT_RE = re.compile(r"(\d{1,5}):(\d{1,5})(?:/(tcp|udp|sctp))?")


def check_network_mode(value: str, facts: HostFacts | None) -> str:
    """``bridge``, a user network, ``host``, ``none`` or ``container:<name|id>`` of a running container;
    returned as Docker's NetworkMode (container: with the full id)."""
    mode = "bridge" if value is None else text(value, "network", "Network mode")
    if mode in ("bridge", "host", "none", "default"):
        return mode
    if mode.startswith("container:"):
        ref = mode.split(":", 1)[1].strip()
        if not ref:
            raise fail("network", "Network mode container: needs the name or id of the container to share with.")
        if facts is None:
            return mode
        other = facts.container(ref, "network")
        if other is None:
            raise fail("network", f"Network mode container:{ref} names a container that does not exist.")
        if not other.running:
            raise fail(
                "network",
                f"Network mode container:{ref} names a container that is {other.state}, "
                "not running, so it has no network namespace to share.",
            )
        return f"container:{other.id}"
    if facts is None:
        if len(mode) > NAME_MAX or not NAME_RE.fullmatch(mode):
            raise fail("network", f"Network {shown(mode)} is not a network name.")
        return mode
    net = facts.network(mode, "network")
    if net is None:
        raise fail(
            "network",
            f"Network {shown(mode) if len(mode) > MAX_SHOWN else mode} does not exist (modes: bridge, host, none, "
            "container:<name>, or a user network).",
        )
    return net.name


def parse_publish(item: str) -> tuple[int, int, str]:
    """``HOST:CONTAINER[/tcp|udp|sctp]`` as (host port, container port, protocol)."""
    match = PORT_RE.fullmatch(str(item).strip())
    if not match or not all(1 <= int(p) <= 65535 for p in match.group(1, 2)):
        raise fail(
            "publish",
            f"Published port {shown(item)} must be HOST:CONTAINER with ports 1 to 65535 "
            "(optionally /tcp, /udp or /sctp).",
        )
    return int(match.group(1)), int(match.group(2)), match.group(3) or "tcp"


def _run_publish(value: Value, values: Values, facts: HostFacts | None) -> tuple[tuple[int, int, str], ...]:
    published = tuple(parse_publish(item) for item in split_items(value))
    mode = str(values.get("network") or "bridge").strip()
    if published and (mode == "none" or mode.startswith("container:")):
        raise fail(
            "publish",
            f"Ports cannot be published with network mode {mode}: the container has no "
            "network of its own to publish from.",
        )
    return published


def _run_image(value: Value, values: Values, facts: HostFacts | None) -> str:
    image = BUSYBOX_IMAGE if value is None else text(value, "image", "Image")
    if facts is not None:
        candidates = {image, f"{image}:latest"}
        if not candidates & set(facts.images):
            raise fail(
                "image",
                f"Image {image} is not present locally and no registry is reachable "
                f"(netcon image ensure-busybox imports {BUSYBOX_IMAGE}).",
            )
    return image


def split_command(value: Value) -> tuple[str, ...]:
    """A form's command text split like a shell would split words (no shell ever runs it), or a sequence."""
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as error:
            raise fail("command", f"Command {shown(value)} cannot be split into words: {error}.") from None
    return tuple(str(v) for v in (value or ()))
