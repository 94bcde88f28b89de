"""``python -m netcon.tui.screenshots``: an SVG of every pane at 120x40 in ``screenshots/``, for the README.

Run from a checkout: the scene is the test suite's fixture snapshot (tests/fixtures/scene.py), fed to the
console through its collector argument with a fixed clock; the Doctor, Flannel, Ports and Ping panes get the
fixture data of tests/fixtures/doctor_scene.py, flannel_scene.py, ports_scene.py and ping_scene.py. So the
pictures are the same on every run.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from netcon.core.context import HostContext
from netcon.core.model import Snapshot
from netcon.tui.app import NetconApp
from netcon.tui.panes import SLOTS
from tests.fixtures.doctor_scene import FixedDoctor
from tests.fixtures.flannel_scene import FixtureFeed
from tests.fixtures.ping_scene import probes
from tests.fixtures.ports_scene import FixturePorts
from tests.fixtures.scene import TAKEN_AT, scene

SIZE = (120, 40)


class FixedScene:
    """A collector that always returns the fixture scene."""

    def __init__(self) -> None:
        self.snapshot = scene()

    def collect(self) -> Snapshot:
        return self.snapshot


class NoCounters:
    """The scene's links exist on no host: no counters, so the Veths pane's rates stay "-"."""

    def read(self) -> dict:
        return {}

    def close(self) -> None:
        pass


async def settle(app: NetconApp, pilot) -> None:
    """Wait for the workers that finish (the Flannel pane's etcd follower and the Veths pane's counter reader never
    do; their sources answer at once)."""
    await pilot.pause(0.2)
    ending = [w for w in app.workers if w.group not in ("flannel", "counters")]
    if ending:  # an empty list would mean "every worker" to Textual
        await app.workers.wait_for_complete(ending)
    await pilot.pause()


async def shoot(out: Path) -> list[Path]:
    written = []
    app = NetconApp(
        HostContext(),
        FixedScene(),
        watch=False,
        clock=lambda: TAKEN_AT + 2,
        doctor=FixedDoctor(),
        flannel=FixtureFeed(),
        ports=FixturePorts(),
        counters=NoCounters,
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        for slot in SLOTS:
            await pilot.press(slot.digit)
            if slot.id == "ping":
                for tracked in probes():
                    app.pane("ping").track(tracked)
            await settle(app, pilot)
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
