"""Every host netcon reads through one interface (``base.Host``): this machine and the lab's namespaces
in-process (``local.LocalHost``), other machines over SSH through ``netcon serve --stdio`` on them
(``remote.RemoteHost``), so the console's panes and the CLI do not care where a host lives."""
