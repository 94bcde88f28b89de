"""The Flannel pane's dialogs on the console's one form framework (``tui.forms``): set the config, acquire a
lease, confirm a revocation. Fields are checked per keystroke by ``core.validate.forms.field_error`` (the
flannel checks live in ``core.validate.flannel``); the change runs in the form's named worker through the
core's audited operations (``core.flannel.operations``). They need nothing from Docker, so they open ready."""

from __future__ import annotations

from collections.abc import Mapping

from netcon.core.flannel.config import EXAMPLE_CONFIG, FlannelConfig
from netcon.core.flannel.lease import Lease
from netcon.core.flannel.operations import EtcdGiven, config_set, lease_acquire, lease_revoke
from netcon.core.host_facts import HostFacts
from netcon.core.validate.forms import FORMS
from netcon.tui.forms import ConfirmScreen, Field, FormScreen


class _Ready:
    """Flannel dialogs read no host facts: they are ready as soon as they are mounted."""

    def load_facts(self) -> None:
        self.call_after_refresh(self._facts_ready, None)  # type: ignore[attr-defined]


class SetConfigForm(_Ready, FormScreen):
    FORM = "flannel.config.set"
    VERB = "store"

    def __init__(self, etcd: EtcdGiven, current: FlannelConfig | None) -> None:
        super().__init__(config=current.text if current is not None else EXAMPLE_CONFIG)
        self.etcd = etcd
        self.stored: FlannelConfig | None = None
        self.TITLE = f"Set the flannel config at {etcd.prefix}/config"

    def fields(self) -> tuple[Field, ...]:
        return (Field("config", "Config", "JSON, e.g. " + EXAMPLE_CONFIG),)

    def show_errors(self, errors: Mapping[str, str]) -> None:
        super().show_errors(errors)
        if not errors and self.values()["config"] is not None:
            config = FORMS[self.FORM]["config"](self.values()["config"], self.values(), None)
            self.set_status(f"valid: pool {config.pool} ({config.pool_size} subnets)")

    def apply(self, values: Mapping[str, str | None]) -> str:
        self.stored = config_set(self.app.ctx, self.etcd, values["config"])
        return f"{self.etcd.prefix}/config stored: pool {self.stored.pool}"


class AcquireForm(_Ready, FormScreen):
    TITLE = "Acquire a lease"
    FORM = "flannel.lease.acquire"
    VERB = "acquire"

    def __init__(self, etcd: EtcdGiven, public_ip: str, vtep_mac: str) -> None:
        super().__init__(public_ip=public_ip, vtep_mac=vtep_mac)
        self.etcd = etcd

    def fields(self) -> tuple[Field, ...]:
        return (
            Field("public_ip", "PublicIP", "the host's underlay address"),
            Field("vtep_mac", "VTEP MAC", "its flannel device's MAC (blank: a random one)"),
        )

    def apply(self, values: Mapping[str, str | None]) -> str:
        lease = lease_acquire(self.app.ctx, self.etcd, values["public_ip"] or "", values["vtep_mac"])
        return f"{lease.subnet}: acquired for {lease.attrs.public_ip}"


class RevokeConfirm(_Ready, ConfirmScreen):
    TITLE = "Revoke a lease"

    def __init__(self, etcd: EtcdGiven, lease: Lease) -> None:
        super().__init__()
        self.etcd, self.lease = etcd, lease

    def question(self, facts: HostFacts | None) -> str:
        return f"Revoke the lease {self.lease.subnet} of {self.lease.attrs.public_ip}? Its host loses its subnet."

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm":
            return not self.busy
        return super().check_action(action, parameters)

    def action_confirm(self) -> None:
        if not self.busy:
            self.start({})

    def apply(self, values: Mapping[str, str | None]) -> str:
        lease_revoke(self.app.ctx, self.etcd, self.lease.subnet)
        return f"{self.lease.subnet}: revoked"
