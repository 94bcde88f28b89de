"""Every check of a value a user gives, one function per kind, shared by the CLI, the console's forms and the
core operations: ``values`` (text, files, addresses, URLs, numbers, names), ``docker`` (Docker networks and
containers against the host's state) and ``forms`` (each form's fields and their checks)."""
