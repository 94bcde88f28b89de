"""Plain text of what a running app shows, for assertions in Pilot tests."""

from __future__ import annotations

from textual.app import App
from textual.strip import Strip


def screen_text(app: App) -> str:
    """The current screen as lines of text (Textual's compositor renders it exactly as the terminal would)."""
    update = app.screen._compositor.render_full_update()
    return "\n".join(Strip.join(list(chops)).text.rstrip() for chops in update.strips)
