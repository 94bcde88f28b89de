"""The global ``--host`` (another machine over SSH) beside the commands' own positional ``host`` (a lab host's
name): each keeps its own value."""

from __future__ import annotations

import uuid

import pytest

from netcon.cli.main import build_parser, main


@pytest.mark.parametrize(
    "argv",
    [
        ["lab", "console", "h1", "--prefix", "{lab}"],
        ["lab", "exec", "--prefix", "{lab}", "h1", "--", "true"],
    ],
)
def test_a_lab_host_name_is_not_taken_for_host(argv, capsys):
    """``lab console h1`` once failed with "--host 'h1' is not a host like ssh://...": the positional and the
    global option shared one argparse name. Now the lab command gets as far as looking for the lab."""
    lab = f"no{uuid.uuid4().hex[:6]}"
    code = main([a.format(lab=lab) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err == f"netcon: No lab {lab} here (netcon lab up builds it).\n"


def test_both_values_are_kept():
    argv = ["--host", "ssh://root@h9", "lab", "console", "h2"]
    args = build_parser(argv).parse_args(argv)
    assert (args.remote_host, args.host) == ("ssh://root@h9", "h2")


def test_host_where_it_cannot_work_names_where_to_run(capsys):
    """lab console runs on this machine: --host there is refused with one sentence, nothing started."""
    assert main(["--host", "ssh://root@h9", "lab", "console", "h2"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "netcon: netcon lab works on the machine it runs on: run it there (ssh HOST netcon lab ...); --host works "
        "with show, doctor, network, container, cluster, ping, capture, trace and console.\n"
    )


def test_ping_matrix_over_an_unreachable_host_is_one_sentence(capsys):
    """ping matrix with --host runs across that host and this one; a host that cannot be reached is one sentence
    naming it, before any echo (it was refused outright before the matrix ran across hosts)."""
    assert main(["--host", "ssh://root@h9.invalid", "ping", "matrix", "--network", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("netcon: Host h9.invalid (ssh://root@h9.invalid) is unreachable: ") and err.count("\n") == 1


def test_ping_takes_its_host_after_the_word_ping_too(capsys):
    """--host after ``ping`` (ping's own, repeatable for the matrix) is the host a ping from one container runs
    on, as before it: the host is tried, and its failure is one sentence naming it."""
    assert main(["ping", "--host", "ssh://root@h9.invalid", "--from", "a", "198.51.100.1", "-c", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("netcon: ssh://root@h9.invalid: ") and err.count("\n") == 1


def test_a_ping_from_one_container_on_two_hosts_is_refused(capsys):
    argv = ["ping", "--host", "ssh://root@h9.invalid", "--host", "ssh://root@h8.invalid", "--from", "a", "198.51.100.1"]
    assert main(argv) == 2
    assert capsys.readouterr().err == (
        "netcon: A ping runs on one host: give --host once (several hosts are for 'netcon ping matrix').\n"
    )
