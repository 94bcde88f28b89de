"""The exposition's cache: a group is rendered again only when its readings changed, the renderer prepares it
before the next scrape is expected, and the first scrape (nothing prepared yet) renders for itself."""

from __future__ import annotations

import threading
import time

from prometheus_client.metrics_core import GaugeMetricFamily

from netcon.core.exporter.render import RENDER_LEAD_S, Exposition, Group, Renderer, always


class Reading:
    def __init__(self) -> None:
        self.value, self.version, self.rendered = 1, 0, 0

    def families(self):
        self.rendered += 1
        gauge = GaugeMetricFamily("netcon_test_value", "A value.")
        gauge.add_metric([], self.value)
        yield gauge


def test_rendered_again_only_when_changed_and_ahead_of_the_scrape():
    reading = Reading()
    clock = Reading()
    exposition = Exposition(
        [Group("reading", reading.families, lambda: reading.version)], [Group("clock", clock.families, always)]
    )
    first = exposition.scrape().decode()
    assert "netcon_test_value 1.0" in first and reading.rendered == 1
    exposition.scrape()
    assert reading.rendered == 1  # unchanged: the cached text, rendered once
    assert clock.rendered == 2  # a live group is rendered in each scrape
    reading.value, reading.version = 2, 1
    stop = threading.Event()
    renderer = Renderer(exposition, stop)
    renderer.start()
    try:
        interval = exposition.interval()
        due = exposition.next_render()
        assert interval is not None and due is not None
        assert abs(due - (exposition.scrapes[-1] + interval - RENDER_LEAD_S)) < 1e-6
        deadline = time.monotonic() + 5
        while reading.rendered < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reading.rendered == 2  # rendered by the renderer, before any scrape asked
        assert "netcon_test_value 2.0" in exposition.scrape().decode()
        assert reading.rendered == 2
    finally:
        stop.set()
        exposition.scraped.set()
        renderer.join(5)
