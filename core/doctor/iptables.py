"""The doctor's view of iptables: the one rule model of ``core.netfilter`` (shared with the trace), under the
names the doctor's checks use."""

from __future__ import annotations

from netcon.core.netfilter.evaluate import TERMINAL, Packet, Verdict, verdict
from netcon.core.netfilter.read import read
from netcon.core.netfilter.rules import FilterTable, Rule, parse

__all__ = ["TERMINAL", "FilterTable", "Packet", "Rule", "Verdict", "parse", "read", "verdict"]
