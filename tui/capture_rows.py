"""What the Capture pane draws, as pure functions of what its worker decoded: a packet's row and its every
layer, a flow's row. No I/O here."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from rich.text import Text

from netcon.core.capture.flows import Flow
from netcon.core.capture.layers import layer_json
from netcon.tui.capture_feed import Seen

PACKET_COLUMNS = (
    ("no", "NO"),
    ("time", "TIME"),
    ("ifname", "IFACE"),
    ("netns", "NETNS"),
    ("len", "LEN"),
    ("summary", "SUMMARY"),
)
FLOW_COLUMNS = (("src", "SRC"), ("dst", "DST"), ("proto", "PROTO"), ("packets", "PACKETS"), ("bytes", "BYTES"))


def stamp(ts_ns: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts_ns // 1_000_000_000)) + f".{ts_ns % 1_000_000_000 // 1000:06d}"


def layer_line(fields: Mapping[str, Any]) -> Text:
    proto = str(fields["proto"])
    text = Text(f"{proto:<9}", style="bold")
    text.append("  ".join(f"{k} {v}" for k, v in fields.items() if k != "proto" and v not in ("", None, ())))
    return text


def packet_cells(number: int, seen: Seen) -> tuple[str, ...]:
    """The list's cells of packet ``number`` (counted from 0, shown from 1)."""
    p = seen.packet
    return (str(number + 1), stamp(p.ts_ns), p.ifname, p.netns, str(p.length), seen.summary)


def packet_detail(number: int, seen: Seen) -> Text:
    """Packet ``number``'s head line and one line per decoded layer."""
    p = seen.packet
    head = Text(
        f"#{number + 1} {stamp(p.ts_ns)} {p.ifname} [{p.netns}] {'Out' if p.outgoing else 'In'}, "
        f"{p.length} bytes ({len(p.data)} captured)\n",
        style="bold",
    )
    lines = [layer_line(layer_json(layer)) for layer in seen.layers]
    return Text("\n").join([head, *lines])


def flow_row(f: Flow) -> tuple[str, list[str]]:
    """A flow's key and cells, for ``sync_rows``."""
    return (f"{f.src}|{f.dst}|{f.proto}", [f.src, f.dst, f.proto, str(f.packets), str(f.bytes)])
