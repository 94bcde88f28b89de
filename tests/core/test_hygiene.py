"""core/ must stay UI-free: importing any core module must not pull in textual, rich or tui."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import netcon.core as core

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("textual", "rich", "netcon.tui")


def core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(core.__path__, "netcon.core."))


def test_core_has_modules():
    assert "netcon.core.snapshot" in core_modules()


def test_no_core_module_imports_ui():
    script = (
        "import importlib, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "    bad = sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in "
        + repr(FORBIDDEN)
        + "))\n"
        "    if bad:\n"
        "        print(name, bad); sys.exit(1)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
