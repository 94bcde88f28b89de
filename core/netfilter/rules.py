"""``iptables-save -c`` output as frozen dataclasses: the tables, their built-in chains' policies and every
rule with its counters, its target's own options (``--to-destination``) and the matches the evaluator
understands. A rule with any other match is kept, marked ``unknown`` (the evaluator takes it not to match and
the trace says so)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_COUNTERS = re.compile(r"^\[(\d+):(\d+)\]\s+")
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
    "--sport": "sport",
    "--source-port": "sport",
    "--dports": "dport",  # multiport: a comma list
    "--ctstate": "ctstate",
    "--state": "ctstate",
    "--icmp-type": "icmp_type",
    "--dst-type": "dst_type",
    "--src-type": "src_type",
}
_IGNORED = {"--comment": 1}  # options with one value that never change whether a rule matches
_MODULES_UNDERSTOOD = {"udp", "tcp", "icmp", "conntrack", "state", "comment", "addrtype", "multiport"}


@dataclass(frozen=True)
class Rule:
    chain: str
    spec: str  # as iptables-save prints it after "-A CHAIN " (without counters)
    target: str  # -j/-g target, "" when none
    goto: bool
    matches: tuple[tuple[str, bool, str], ...]  # (option, negated, value) of the matches understood
    unknown: bool  # it has a match the evaluator does not understand
    target_args: tuple[tuple[str, str], ...] = ()  # the target's options: (("--to-destination", "172.17.0.2:80"),)
    packets: int | None = None  # counters, when read with -c
    bytes: int | None = None

    @property
    def text(self) -> str:
        """The rule as ``iptables -S`` prints it."""
        return f"-A {self.chain} {self.spec}"

    def arg(self, name: str) -> str | None:
        return dict(self.target_args).get(name)


@dataclass(frozen=True)
class FilterTable:
    """One table (filter, nat, mangle, raw): its built-in chains' policies and its rules in order. (The name
    is the doctor's, which read only the filter table.)"""

    policies: tuple[tuple[str, str], ...]  # built-in chain -> policy
    rules: tuple[Rule, ...]
    name: str = "filter"
    policy_counters: tuple[tuple[str, int], ...] = ()  # built-in chain -> packets its policy decided
    user_chains: tuple[str, ...] = ()  # chains declared by the user (DOCKER, DOCKER-USER ...), even empty ones

    def policy(self, chain: str) -> str | None:
        return dict(self.policies).get(chain)

    def chain(self, name: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.chain == name)

    def has_chain(self, name: str) -> bool:
        return self.policy(name) is not None or name in self.user_chains or any(r.chain == name for r in self.rules)

    def policy_packets(self, chain: str) -> int | None:
        return dict(self.policy_counters).get(chain)


@dataclass(frozen=True)
class Ruleset:
    """Every table of one namespace, as one ``iptables-save`` printed them."""

    tables: tuple[FilterTable, ...]

    def table(self, name: str) -> FilterTable:
        """The table ``name``; one iptables-save did not print is empty (no rules: everything passes)."""
        return next((t for t in self.tables if t.name == name), FilterTable((), (), name))


def parse_all(text: str) -> Ruleset:
    """``iptables-save [-c]`` output (every table it printed)."""
    tables: list[FilterTable] = []
    name: str | None = None
    policies: list[tuple[str, str]] = []
    counters: list[tuple[str, int]] = []
    rules: list[Rule] = []
    user: list[str] = []
    for line in text.splitlines():
        if line.startswith("*"):
            name, policies, counters, rules, user = line[1:].strip(), [], [], [], []
        elif name and line.startswith(":"):
            fields = line[1:].split()
            if len(fields) >= 2 and fields[1] != "-":
                policies.append((fields[0], fields[1]))
                found = re.match(r"\[(\d+):\d+\]", fields[2]) if len(fields) > 2 else None
                if found:
                    counters.append((fields[0], int(found.group(1))))
            elif fields:
                user.append(fields[0])
        elif name and (line.startswith("-A ") or _COUNTERS.match(line)):
            rules.append(_rule(line))
        elif name and line.strip() == "COMMIT":
            tables.append(FilterTable(tuple(policies), tuple(rules), name, tuple(counters), tuple(user)))
            name = None
    return Ruleset(tuple(tables))


def parse(text: str) -> FilterTable:
    """The filter table of ``iptables-save`` output (what the doctor reads)."""
    return parse_all(text).table("filter")


def _rule(line: str) -> Rule:
    packets = size = None
    found = _COUNTERS.match(line)
    if found:
        packets, size = int(found.group(1)), int(found.group(2))
        line = line[found.end() :]
    tokens = shlex.split(line)
    chain, rest = tokens[1], tokens[2:]
    matches: list[tuple[str, bool, str]] = []
    args: list[tuple[str, str]] = []
    target, goto, unknown, negate, i = "", False, False, False, 0
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
            # the target's own options (--to-destination, --reject-with ...): kept, they decide no match
            while i < len(rest) and rest[i].startswith("--"):
                has_value = i + 1 < len(rest) and not rest[i + 1].startswith("--")
                args.append((rest[i], rest[i + 1] if has_value else ""))
                i += 2 if has_value else 1
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
    return Rule(chain, line[len(f"-A {chain} ") :], target, goto, tuple(matches), unknown, tuple(args), packets, size)
