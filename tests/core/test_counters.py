"""``core.counters`` against the kernel, with ``ip -s link`` as the reference: every link's counters as one
stats dump reads them lie between two readings of ``ip``, taken just before and just after."""

from __future__ import annotations

import json
import subprocess

from netcon.core.counters import read_counters

FIELDS = ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped")
IP_FIELDS = {f: (f[:2], f[3:]) for f in FIELDS}


def ip_counters() -> dict[int, dict[str, int]]:
    out = subprocess.run(["ip", "-j", "-s", "link", "show"], check=True, capture_output=True, text=True).stdout
    return {link["ifindex"]: {f: link["stats64"][d][k] for f, (d, k) in IP_FIELDS.items()} for link in json.loads(out)}


def test_counters_match_ip_s_link(dobj):
    net = dobj.network("cnt")
    container = dobj.container("cnt", network=net.name, command=("ping", "-i", "0.2", "-s", "1000", "127.0.0.1"))
    container.reload()
    before = ip_counters()
    ours = read_counters()
    after = ip_counters()
    common = before.keys() & after.keys()
    assert common and common <= ours.keys()
    for ifindex in common:
        for field in FIELDS:
            assert before[ifindex][field] <= getattr(ours[ifindex], field) <= after[ifindex][field], (ifindex, field)
