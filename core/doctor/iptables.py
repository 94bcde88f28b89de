"""The filter table of a network namespace, and which verdict it gives a described packet.

iptables has no stable library interface (python-iptables binds libiptc, which the nf_tables backend Debian
uses does not serve), so the doctor reads ``iptables-save -t filter`` run with an argument list, entered
into the target netns with ``nsenter --net=`` (read-only). The evaluator understands the matches Docker,
flannel and the seed's rules use (interfaces, addresses, protocol, ports, conntrack state); a rule with any
other match is assumed not to match, and the verdict names the rule or policy that decided.
"""

from __future__ import annotations

import ipaddress
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from netcon.core.errors import NetconError, PermissionDenied

TERMINAL = ("ACCEPT", "DROP", "REJECT")


@dataclass(frozen=True)
class Rule:
    chain: str
    spec: str  # as iptables-save prints it after "-A CHAIN "
    target: str  # -j/-g target, "" when none
    goto: bool
    matches: tuple[tuple[str, bool, str], ...]  # (option, negated, value) of the matches understood
    unknown: bool  # it has a match the evaluator does not understand


@dataclass(frozen=True)
class FilterTable:
    policies: tuple[tuple[str, str], ...]  # built-in chain -> policy
    rules: tuple[Rule, ...]

    def policy(self, chain: str) -> str | None:
        return dict(self.policies).get(chain)

    def chain(self, name: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.chain == name)


@dataclass(frozen=True)
class Packet:
    """What a verdict is asked for; None fields are "any" for the evaluator's purposes (a rule matching on
    them is taken not to match)."""

    in_iface: str | None = None
    out_iface: str | None = None
    src: str | None = None  # an address or a CIDR (a whole range of sources)
    dst: str | None = None
    proto: str | None = None
    dport: int | None = None
    ctstate: str = "NEW"


@dataclass(frozen=True)
class Verdict:
    action: str  # ACCEPT, DROP or REJECT
    decided_by: str  # "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT" or "policy FORWARD DROP"

    @property
    def passes(self) -> bool:
        return self.action == "ACCEPT"


_VALUE_OPTIONS = {
    "-i": "in",
    "--in-interface": "in",
    "-o": "out",
    "--out-interface": "out",
    "-s": "src",
    "--source": "src",
    "-d": "dst",
    "--destination": "dst",
    "-p": "proto",
    "--protocol": "proto",
    "--dport": "dport",
    "--destination-port": "dport",
    "--ctstate": "ctstate",
    "--state": "ctstate",
}
_IGNORED = {"--comment": 1}  # options with one value that never change whether a rule matches
_MODULES_UNDERSTOOD = {"udp", "tcp", "conntrack", "state", "comment"}


def parse(text: str) -> FilterTable:
    """``iptables-save -t filter`` output as a FilterTable."""
    policies, rules, table = [], [], None
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif table == "filter" and line.startswith(":"):
            name, policy = line[1:].split()[:2]
            if policy != "-":
                policies.append((name, policy))
        elif table == "filter" and line.startswith("-A "):
            rules.append(_rule(line))
    return FilterTable(tuple(policies), tuple(rules))


def _rule(line: str) -> Rule:
    tokens = shlex.split(line)
    chain, rest = tokens[1], tokens[2:]
    matches, target, goto, unknown, negate, i = [], "", False, False, False, 0
    while i < len(rest):
        token = rest[i]
        if token == "!":
            negate = True
            i += 1
            continue
        value = rest[i + 1] if i + 1 < len(rest) else ""
        if token in ("-j", "--jump", "-g", "--goto"):
            target, goto = value, token in ("-g", "--goto")
            i += 2
            # a target's own options (--reject-with, --log-prefix ...) follow: they decide nothing here
            while i < len(rest) and rest[i].startswith("--"):
                i += 2
            continue
        if token in ("-m", "--match"):
            unknown |= value not in _MODULES_UNDERSTOOD
        elif token in _VALUE_OPTIONS:
            matches.append((_VALUE_OPTIONS[token], negate, value))
        elif token in _IGNORED:
            pass
        else:
            unknown = True
        negate = False
        i += 2
    return Rule(chain, line[len(f"-A {chain} ") :], target, goto, tuple(matches), unknown)


def _iface_match(pattern: str, name: str | None) -> bool | None:
    if name is None:
        return None
    return name.startswith(pattern[:-1]) if pattern.endswith("+") else name == pattern


def _net_match(value: str, given: str | None) -> bool | None:
    if given is None:
        return None
    rule_net = ipaddress.IPv4Network(value, strict=False)
    packet_net = ipaddress.IPv4Network(given, strict=False)
    if packet_net.subnet_of(rule_net):
        return True
    return False if not packet_net.overlaps(rule_net) else None  # partly inside: undecided


def _matches(rule: Rule, packet: Packet) -> bool:
    if rule.unknown:
        return False
    for option, negated, value in rule.matches:
        if option == "in":
            hit = _iface_match(value, packet.in_iface)
        elif option == "out":
            hit = _iface_match(value, packet.out_iface)
        elif option in ("src", "dst"):
            hit = _net_match(value, packet.src if option == "src" else packet.dst)
        elif option == "proto":
            hit = None if packet.proto is None else value.lower() in (packet.proto, "all")
        elif option == "dport":
            low, _, high = value.partition(":")
            hit = None if packet.dport is None else int(low or 0) <= packet.dport <= int(high or low or 65535)
        else:  # ctstate
            hit = packet.ctstate in value.split(",")
        if hit is None or hit == negated:
            return False
    return True


def verdict(table: FilterTable, chain: str, packet: Packet) -> Verdict:
    """Walk ``chain`` (a built-in chain) as the kernel would for ``packet``."""
    found = _walk(table, chain, packet, depth=0)
    if found is not None:
        return found
    policy = table.policy(chain) or "ACCEPT"
    return Verdict(policy, f"policy {chain} {policy}")


def _walk(table: FilterTable, chain: str, packet: Packet, depth: int) -> Verdict | None:
    if depth > 16:
        return None
    for rule in table.chain(chain):
        if not rule.target or not _matches(rule, packet):
            continue
        text = f"-A {chain} {rule.spec}"
        if rule.target in TERMINAL:
            return Verdict(rule.target, text)
        if rule.target == "RETURN":
            return None
        if any(r.chain == rule.target for r in table.rules) or table.policy(rule.target) is None:
            found = _walk(table, rule.target, packet, depth + 1)
            if found is not None or rule.goto:
                return found
    return None


def read(netns: str | None) -> FilterTable:
    """The filter table of ``netns`` (None: this process's)."""
    binary = shutil.which("iptables-save")
    if binary is None:
        raise NetconError(
            "iptables-save is not installed (Debian package iptables), so firewall rules could not be read."
        )
    argv = [binary, "-t", "filter"]
    if netns:
        nsenter = shutil.which("nsenter")
        if nsenter is None:
            raise NetconError("nsenter is not installed (Debian package util-linux).")
        argv = [nsenter, f"--net={netns}", *argv]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except subprocess.TimeoutExpired:
        raise NetconError("iptables-save did not answer within 10 s.") from None
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        if "ermission" in reason or "Operation not permitted" in reason:
            raise PermissionDenied(f"Reading iptables rules needs root ({reason}).")
        raise NetconError(f"iptables-save failed: {reason}.")
    return parse(result.stdout)
