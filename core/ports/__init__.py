"""Who holds which port: ``model`` (sockets, published and wanted ports, conflicts, the view), ``collector``
(reads them from the kernel, /proc and Docker) and ``conflicts`` (which bindings collide)."""
