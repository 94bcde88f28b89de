"""The Textual console over netcon.core: panes, forms and screens; no I/O outside named workers."""
