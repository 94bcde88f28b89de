"""What the README and the user guide tell a user to type works as written: the Quick start's two commands (as
root, on a machine without sudo) and every netcon command line the documents show, parsed by netcon's own
parser (nothing is run)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from netcon.cli.main import build_parser, with_command

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", ROOT / "docs" / "user-guide.md")


def quick_start() -> list[str]:
    """The command lines of README's Quick start code block, comments dropped."""
    section = ROOT.joinpath("README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README's Quick start has no ```sh block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.split("#", 1)[0].strip()]


def test_quick_start_is_two_commands_that_exist_and_need_no_sudo():
    lines = quick_start()
    assert len(lines) == 2, lines
    for line in lines:
        assert subprocess.run(["bash", "-n", "-c", line], check=False).returncode == 0, line
        program = shlex.split(line)[0]
        assert program != "sudo", "this machine kind has no sudo: the Quick start must work as root without it"
        path = ROOT / program
        assert path.is_file() and os.access(path, os.X_OK), f"{program} is not an executable of the checkout"


@pytest.mark.skipif(shutil.which("sudo") is not None, reason="with sudo the scripts re-run themselves through it")
@pytest.mark.parametrize("script", ["scripts/netcon-up", "scripts/netcon-test"])
def test_quick_start_says_it_needs_root(script):
    """As user nobody (setpriv drops root) each script stops with one sentence before touching anything."""
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    result = subprocess.run(
        [*as_nobody, "bash", str(ROOT / script)], cwd="/", capture_output=True, text=True, timeout=30
    )
    name = script.split("/")[1]
    assert result.returncode == 1
    assert result.stderr.startswith(f"{name}: run as root (") and result.stderr.count("\n") == 1


def documented_commands() -> list[tuple[str, str]]:
    """(document, command line) for every netcon command line in a code block or an inline code span."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
            found += [(doc.name, line) for line in block.splitlines() if line.startswith("netcon")]
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        found += [(doc.name, span) for span in re.findall(r"`(netcon(?: [^`]*)?)`", prose)]
    return found


ELISIONS = ("...", "…")
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*")  # NAME, URL, N: any value parses where a word is wanted


def concrete(line: str) -> tuple[list[str], bool]:
    """The argv of a documented line, and whether it ends in an elision (a family of commands: ``netcon
    network ...``). Comments are dropped; in a synopsis the first of ``X | Y`` and ``a|b`` alternatives is taken,
    optional ``[groups]`` are dropped, and a placeholder or an elided value becomes a value."""
    line = line.split("  #", 1)[0].strip()
    line = re.sub(r"\[[^\[\]]*\]", "", line)
    line = re.sub(r"\(([^()|]*)\|[^()]*\)", r"\1", line)
    line = line.split(" | ", 1)[0]
    words = [word.split("|", 1)[0] for word in shlex.split(line)[1:]]
    elided = len(words) > 1 and words[-1] in ELISIONS and not words[-2].startswith("-")  # not an elided value
    family = elided or (len(words) == 1 and words[0] in ("flannel", "lab"))
    words = words[:-1] if elided else words
    argv = ["1" if w in ELISIONS or PLACEHOLDER.fullmatch(w) else w for w in words]
    return [w for w in argv if w], family


@pytest.mark.parametrize(("doc", "line"), documented_commands())
def test_every_documented_command_line_parses(doc, line, capsys):
    """A full line parses to a command; a family (``netcon network ...``) names commands that exist."""
    argv, family = concrete(line)
    try:
        if family:
            build_parser(argv).parse_args([*argv, "--help"])
        args = build_parser(argv).parse_args(with_command(argv))
    except SystemExit as exit_:
        if family and exit_.code == 0:
            return
        pytest.fail(f"{doc}: `{line}` does not parse: {capsys.readouterr().err.strip()}")
    assert callable(args.func)
