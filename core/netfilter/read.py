"""Reading a namespace's iptables rules: ``iptables-save -c`` run with an argument list (never a shell),
entered into the namespace with ``nsenter --net=``. iptables has no stable library interface
(python-iptables binds libiptc, which the nf_tables backend Debian uses does not serve)."""

from __future__ import annotations

import shutil
import subprocess

from netcon.core.errors import NetconError, PermissionDenied
from netcon.core.netfilter.rules import FilterTable, Ruleset, parse_all

TIMEOUT_S = 10


def save(netns: str | None, table: str | None = None) -> str:
    """``iptables-save -c [-t TABLE]`` of ``netns`` (None: this process's)."""
    binary = shutil.which("iptables-save")
    if binary is None:
        raise NetconError(
            "iptables-save is not installed (Debian package iptables), so firewall rules could not be read."
        )
    argv = [binary, "-c", *(["-t", table] if table else [])]
    if netns:
        nsenter = shutil.which("nsenter")
        if nsenter is None:
            raise NetconError("nsenter is not installed (Debian package util-linux).")
        argv = [nsenter, f"--net={netns}", *argv]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise NetconError(f"iptables-save did not answer within {TIMEOUT_S} s.") from None
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        if "ermission" in reason or "Operation not permitted" in reason:
            raise PermissionDenied(f"Reading iptables rules needs root ({reason}).")
        raise NetconError(f"iptables-save failed: {reason}.")
    return result.stdout


def read(netns: str | None) -> FilterTable:
    """The filter table of ``netns`` (None: this process's)."""
    return parse_all(save(netns, "filter")).table("filter")


def read_all(netns: str | None) -> Ruleset:
    """Every table of ``netns``, with counters."""
    return parse_all(save(netns))
