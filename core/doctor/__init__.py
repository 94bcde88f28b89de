"""The doctor: reads a host's (or every lab host's) networking once and runs checks over it, each finding with
its evidence, why it breaks traffic and the command that fixes it. Read-only: fixes are shown, never run.

Entry point: ``core.doctor.runner.run(targets, etcd_options, etcd_prefix) -> Report``."""
