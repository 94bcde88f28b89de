"""Every check of a value a user gives, one function per kind, shared by the CLI, the console's forms and the
core operations: ``values`` (text, files, addresses, URLs, numbers, names); for Docker, ``names``, ``items``
(lists, key=value pairs, labels, driver options), ``networks`` (create, connect, disconnect) and ``containers``
(run), against the host's state; ``flannel``; and ``forms`` (each form's fields and their checks, whose contract
is in ``fields``)."""
