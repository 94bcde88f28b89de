"""``netcon console`` (also plain ``netcon``): open the Textual console on this host."""

from __future__ import annotations


def register(sub, common) -> None:
    console = sub.add_parser("console", parents=[common],
                             help="open the keyboard-driven console (the default with no command)")
    console.set_defaults(func=run_console)


def run_console(args, ctx) -> int:
    from tui.app import NetconApp  # Textual loads only for the console, not for scripted commands

    NetconApp(ctx).run()
    return 0
