"""The wheel, built from the checkout by setuptools as pip builds it: one top-level import package, netcon,
holding every package of core/, tui/ and cli/; installed into a fresh virtualenv with its declared dependencies,
it runs ``netcon --help`` and imports every one of its modules from outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = {"core": "netcon/core", "tui": "netcon/tui", "cli": "netcon/cli"}  # pyproject's package-dir
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")

# Imports every module of the installed netcon (a __main__ would run the command) and prints where it came from.
IMPORT_ALL = """
import importlib, pkgutil, sys
import netcon
for module in pkgutil.walk_packages(netcon.__path__, "netcon."):
    if not module.name.endswith(".__main__"):
        importlib.import_module(module.name)
import netcon.tui.screenshots
print(netcon.tui.screenshots.__file__)
print(sorted(name for name in sys.modules if name.split(".")[0] in ("tests", "core", "tui", "cli")))
"""


def run(*cmd: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(source: Path, out: Path) -> Path:
    """``pip wheel`` of a copy of ``source`` (setuptools writes build/ and egg-info next to the sources, and a
    build/ left in the checkout would carry deleted modules into later wheels)."""
    tree = out / "src"
    shutil.copytree(source, tree, ignore=NOT_SOURCES)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", out, tree)
    (wheel,) = out.glob("netcon-*.whl")
    return wheel


def sources(tree: Path) -> set[str]:
    """Where each Python file of core/, tui/ and cli/ belongs in the wheel."""
    return {
        f"{target}/{path.relative_to(tree / directory).as_posix()}"
        for directory, target in PACKAGE_DIRS.items()
        for path in (tree / directory).rglob("*.py")
    }


def top_level(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name.split("/")[0] for name in archive.namelist() if ".dist-info/" not in name}


def missing(wheel: Path, tree: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return sorted(sources(tree) - set(archive.namelist()))


def test_the_wheel_is_netcon_and_works_installed(tmp_path):
    wheel = build_wheel(ROOT, tmp_path / "build")
    assert top_level(wheel) == {"netcon"}
    assert missing(wheel, ROOT) == [], "packages missing from [tool.setuptools] packages in pyproject.toml"
    with zipfile.ZipFile(wheel) as archive:
        (top_level_txt,) = [n for n in archive.namelist() if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level_txt).decode().split() == ["netcon"]

    # A fresh venv and pip's own resolution of the declared dependencies (PyPI, or pip's cache), so a
    # dependency missing from pyproject.toml fails here, not on a user's machine.
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-compile", wheel)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    help_text = run(venv / "bin" / "netcon", "--help", cwd=outside).stdout
    assert help_text.startswith("usage: netcon")
    for command in ("show", "console", "network", "container", "ping", "flannel", "doctor", "image", "lab"):
        assert command in help_text
    imported = run(python, "-c", IMPORT_ALL, cwd=outside).stdout.splitlines()
    assert Path(imported[0]).is_relative_to(venv), imported[0]  # the installed copy, not the checkout's
    assert imported[1] == "[]"  # nothing from tests/, and no top-level core/tui/cli


def test_an_unlisted_subpackage_fails_the_check(tmp_path):
    """The check above has teeth: a subpackage not listed in pyproject.toml is reported missing."""
    tree = tmp_path / "checkout"
    shutil.copytree(ROOT, tree, ignore=NOT_SOURCES)
    (tree / "core" / "unlisted").mkdir()
    (tree / "core" / "unlisted" / "__init__.py").write_text('"""Not in pyproject.toml."""\n')
    wheel = build_wheel(tree, tmp_path / "build")
    assert missing(wheel, tree) == ["netcon/core/unlisted/__init__.py"]
