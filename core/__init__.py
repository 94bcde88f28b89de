"""netcon's UI-free core: every read of a host's container networking and every operation on it.

Nothing in this package imports textual, rich or the tui package (tests/test_core_hygiene.py checks it).
"""
