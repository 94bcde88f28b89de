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
        "with show, doctor, network, container, cluster and ping.\n"
    )


def test_ping_matrix_over_an_unreachable_host_is_one_sentence(capsys):
    """ping matrix with --host runs across that host and this one; a host that cannot be reached is one sentence
    naming it, before any echo (it was refused outright before the matrix ran across hosts)."""
    assert main(["--host", "ssh://root@h9.invalid", "ping", "matrix", "--network", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("netcon: Host h9.invalid (ssh://root@h9.invalid) is unreachable: ") and err.count("\n") == 1
