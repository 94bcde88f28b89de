"""``python -m tui.screenshots``: an SVG of every pane at 120x40 in ``screenshots/``, for the README.

Run from a checkout: the scene is the test suite's fixture snapshot (tests/fixtures/scene.py), fed to the
console through its collector argument with a fixed clock, so the pictures are the same on every run.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from core.context import HostContext
from core.model import Snapshot
from tests.fixtures.scene import TAKEN_AT, scene
from tui.app import NetconApp
from tui.panes import SLOTS

SIZE = (120, 40)


class FixedScene:
    """A collector that always returns the fixture scene."""

    def __init__(self) -> None:
        self.snapshot = scene()

    def collect(self) -> Snapshot:
        return self.snapshot


async def shoot(out: Path) -> list[Path]:
    written = []
    app = NetconApp(HostContext(), FixedScene(), watch=False, clock=lambda: TAKEN_AT + 2)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for slot in SLOTS:
            await pilot.press(slot.digit)
            await pilot.pause()
            path = out / f"{slot.digit}-{slot.id}.svg"
            path.write_text(app.export_screenshot(title=f"netcon — {slot.title}"))
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="directory (default screenshots/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(shoot(args.out)):
        print(path)


if __name__ == "__main__":
    main()
