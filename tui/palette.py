"""The command palette (ctrl+p): every declared action that is active where it was opened, generated from
the same bindings as the footer and the help screen, so read-only mode hides mutating ones here too."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from netcon.tui.actions import is_declared


class ActionCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, str, partial]]:
        seen = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not is_declared(binding) or binding.id in seen:
                continue
            seen.add(binding.id)
            shown_key = self.app.get_key_display(binding)
            yield (
                binding.description,
                f"{shown_key} — {binding.tooltip}" if binding.tooltip else shown_key,
                partial(self.app.run_action, binding.action, active.node),
            )

    async def discover(self) -> Hits:
        for name, help_text, command in self._commands():
            yield DiscoveryHit(name, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, command in self._commands():
            score = max(matcher.match(name), matcher.match(help_text) * 0.5)
            if score > 0:
                yield Hit(score, matcher.highlight(name), command, text=name, help=help_text)
