"""Bad input to ``netcon trace``: one clear sentence, the right exit code, and nothing left behind — no trace
rule in any namespace, no socket of the trace left open in the process."""

from __future__ import annotations

import os
import shutil

import pytest

from netcon.core.context import HostContext
from netcon.core.errors import NetconError
from netcon.core.trace.run import Options, trace

pytestmark = pytest.mark.lab


@pytest.mark.parametrize(
    ("args", "code", "sentence"),
    [
        (("nosuch", "h2-probe"), 2, "No container and no host named 'nosuch' to trace from (hosts: h1, h2)."),
        (("busybox-3", "h2-probe"), 2, "Container busybox-3 has network mode none"),
        (("h1-probe", "no-such-name"), 2, "no-such-name does not resolve from container h1-probe"),
        (("h1-probe", "h2-probe", "--proto", "sctp"), 2, "--proto 'sctp' is not icmp, tcp or udp."),
        (("h1-probe", "h2-probe", "--port", "80", "--proto", "icmp"), 2, "ICMP has no ports"),
        (("h1-probe", "h2-probe", "--proto", "tcp"), 2, "A tcp trace needs a port"),
        (("h1-probe", "10.1.2.3:80/sctp"), 2, "is not icmp, tcp or udp"),
        (("h1-probe", "10.1.2.3:80/udp", "--port", "81"), 2, "says port 80 but --port says 81"),
        (("", "h2-probe"), 2, "Source is empty."),
        (("h1-probe", ""), 2, "Destination is empty."),
    ],
)
def test_bad_input_is_one_sentence(trace_lab, args, code, sentence):
    got, result, err = trace_lab.trace(*args)
    assert got == code and result == {}
    assert len(err.strip().splitlines()) == 1 and err.startswith("netcon: ") and sentence in err, err


def test_no_root_is_one_sentence(trace_lab):
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    env = {**os.environ, "HOME": "/tmp", "NETCON_AUDIT_LOG": "/tmp/netcon-trace-nobody.jsonl"}
    code, _, err = trace_lab.trace("h1-probe", "h2-probe", before=nobody, env=env)
    assert code == 1 and err.strip().endswith("run it as root."), err
    assert len(err.strip().splitlines()) == 1


def test_unreadable_netfilter_is_one_sentence(trace_lab):
    """Without iptables-save the firewall cannot be read: the trace refuses to guess, and sends nothing."""
    env = {**os.environ, "PATH": os.path.dirname(shutil.which("nft") or "/usr/sbin") + "/nonexistent"}
    code, _, err = trace_lab.trace("h1-probe", "h2-probe", env=env)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("netcon: The firewall of container h1-probe on h1 could not be read: iptables-save is not")
    assert trace_lab.trace_tables() == []


def test_nothing_left_open(trace_lab):
    """In one process: a trace that answers and one that fails leave no socket, capture or rule behind (the
    Docker clients netcon keeps per endpoint are made by the first trace)."""
    ctx = HostContext()
    options = Options(lab=trace_lab.prefix)
    trace(ctx, "h1-probe", "h2-probe", options)
    before = sorted(os.listdir("/proc/self/fd"))
    assert trace(ctx, "h1-probe", "h2-probe", options).reply_seen
    with pytest.raises(NetconError, match="network mode none"):
        trace(ctx, "busybox-3", "h2-probe", options)
    assert sorted(os.listdir("/proc/self/fd")) == before
    assert trace_lab.trace_tables() == []
