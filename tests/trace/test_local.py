"""A trace on the machine's own Docker (no lab): two containers on a test network, the frame switched by its
bridge. Read-only, so no trace rule touches the machine's firewall (the lab tests cover nftrace); the trace
goes on without it and says so."""

from __future__ import annotations

import json
import subprocess
import sys


def test_two_containers_on_one_bridge_read_only(dobj):
    net = dobj.network("tr")
    a, b = dobj.container("a", network=net.name), dobj.container("b", network=net.name)
    b.reload()
    done = subprocess.run(
        [sys.executable, "-m", "netcon.cli", "--read-only", "trace", a.name, b.name, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["reply_seen"] and result["last_line"] == "reached, reply seen"
    assert result["dst_ip"] == b.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
    assert {h["host"] for h in result["hops"]} == {"local"}
    bridge = f"br-{net.id[:12]}"
    assert [h["stage"] for h in result["hops"] if h["device"] == bridge] == ["bridge", "bridge"]  # both ways
    assert all(h["seen"] for h in result["hops"] if h["seen"] is not None)
    assert any("nftrace not used" in note for note in result["notes"])
    listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    assert "netcon-trace" not in listed
