"""The console's Docker changes (issue 4): create/remove a network, connect/disconnect a container, run/remove
a container. Each is a form or a confirmation over ``core.network_ops`` / ``core.container_ops``, run through the
current host's ``change`` (in-process, or by the netcon on a host read over SSH, which audits it there); the panes'
mutating actions open them."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Input, OptionList, Select
from textual.widgets.option_list import Option

from netcon.core.host_facts import PREDEFINED_NETWORKS, ContainerFact, HostFacts, NetworkFact
from netcon.core.image import BUSYBOX_IMAGE
from netcon.core.naming import natural_key
from netcon.core.validate.containers import split_command
from netcon.core.validate.items import split_items
from netcon.core.validate.networks import shared_stack_reason
from netcon.tui.forms import ConfirmScreen, Field, FormScreen


class CreateNetworkForm(FormScreen):
    TITLE = "Create a Docker network"
    FORM = "network.create"
    VERB = "create"

    def fields(self) -> tuple[Field, ...]:
        return (
            Field("name", "Name", "e.g. app"),
            Field("driver", "Driver", "bridge", "bridge"),
            Field("subnet", "Subnet", "optional CIDR, e.g. 10.1.2.0/24"),
            Field("gateway", "Gateway", "optional, inside the subnet"),
            Field("ip_range", "IP range", "optional CIDR inside the subnet"),
            Field("labels", "Labels", "optional key=value, separated by spaces or commas"),
            Field("options", "Options", "optional key=value, e.g. com.docker.network.bridge.name=br-app"),
        )

    def apply(self, values: Mapping[str, str | None]) -> str:
        made = self.app.host.change(
            "network.create",
            {
                "name": values["name"],
                "driver": values["driver"] or "bridge",
                "subnet": values["subnet"],
                "gateway": values["gateway"],
                "ip_range": values["ip_range"],
                "labels": split_items(values["labels"]),
                "options": split_items(values["options"]),
            },
        )
        subnet = f" {made.subnet}" if made.subnet else ""
        return f"Created network {made.name}{subnet} ({made.id[:12]})." + (
            f" Docker: {made.warning}" if made.warning else ""
        )


class ContainerPickerForm(FormScreen):
    """A form with a list of the host's containers below the container field: Enter on one fills it in."""

    DEFAULT_CSS = """
    ContainerPickerForm OptionList { height: auto; max-height: 8; margin-left: 10; }
    """

    def after_field(self, field: Field) -> ComposeResult:
        if field.key == "container":
            yield OptionList(Option("reading the host's containers…", disabled=True), id="picker", compact=True)

    def choices(self, facts: HostFacts, network: NetworkFact | None) -> list[Option]:
        raise NotImplementedError

    def fill_picker(self) -> None:
        if self.facts is None:
            return
        network = self.facts.network(self.query_one("#field-network", Input).value.strip())
        choices = self.choices(self.facts, network) or [Option("no container to pick", disabled=True)]
        self.query_one("#picker", OptionList).set_options(choices)

    def facts_ready(self, facts: HostFacts) -> None:
        super().facts_ready(facts)
        self.fill_picker()

    def _changed(self, widget_id: str | None) -> None:
        super()._changed(widget_id)
        if widget_id == "field-network":
            self.fill_picker()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#field-container", Input).value = event.option.id or ""
        self.focus_next()


def _mode(c: ContainerFact, facts: HostFacts) -> str:
    """The container's network mode, with the owner's name for container: mode (Docker records its id)."""
    if c.network_mode.startswith("container:"):
        owner = facts.container(c.network_mode.split(":", 1)[1])
        return f"container:{owner.name}" if owner else c.network_mode[:22]
    return c.network_mode


class ConnectForm(ContainerPickerForm):
    TITLE = "Connect a container to a network"
    FORM = "network.connect"
    VERB = "connect"

    def fields(self) -> tuple[Field, ...]:
        return (
            Field("network", "Network"),
            Field("container", "Container", "type a name, or pick one below"),
            Field("ip", "IP", "optional address inside the network's subnet"),
            Field("aliases", "Aliases", "optional DNS names on this network"),
        )

    def choices(self, facts: HostFacts, network: NetworkFact | None) -> list[Option]:
        options = []
        for c in sorted(facts.containers, key=lambda c: natural_key(c.name)):
            reason = shared_stack_reason(c, facts)
            if reason is None and network is not None and any(e.network_id == network.id for e in c.endpoints):
                reason = f"already connected to {network.name}"
            line = Text(f"{c.name}  ({_mode(c, facts)}, {c.state})")
            if reason:
                line.append(f"  not connectable: {reason}", style="dim")
            options.append(Option(line, id=c.name, disabled=reason is not None))
        return options

    def apply(self, values: Mapping[str, str | None]) -> str:
        done = self.app.host.change(
            "network.connect",
            {
                "network": values["network"],
                "container": values["container"],
                "ip": values["ip"],
                "aliases": split_items(values["aliases"]),
            },
        )
        return f"Connected {done.container} to {done.network}" + (f" as {done.ip}." if done.ip else ".")


class DisconnectForm(ContainerPickerForm):
    TITLE = "Disconnect a container from a network"
    FORM = "network.disconnect"
    VERB = "disconnect"

    def fields(self) -> tuple[Field, ...]:
        return (
            Field("network", "Network"),
            Field("container", "Container", "type a name, or pick one of the attached ones below"),
        )

    def choices(self, facts: HostFacts, network: NetworkFact | None) -> list[Option]:
        if network is None:
            return []
        attached = sorted(
            (c for c in facts.containers if any(e.network_id == network.id for e in c.endpoints)),
            key=lambda c: natural_key(c.name),
        )
        return [
            Option(
                Text(f"{c.name}  ({c.state}, {ip})" if (ip := _address(c, network)) else f"{c.name}  ({c.state})"),
                id=c.name,
            )
            for c in attached
        ]

    def apply(self, values: Mapping[str, str | None]) -> str:
        done = self.app.host.change(
            "network.disconnect", {"network": values["network"], "container": values["container"]}
        )
        return f"Disconnected {done.container} from {done.network}."


def _address(c: ContainerFact, network: NetworkFact) -> str | None:
    return next((e.ipv4 for e in c.endpoints if e.network_id == network.id and e.ipv4), None)


BASE_MODES = [
    ("bridge (Docker's default bridge)", "bridge"),
    ("host (the host's own network stack)", "host"),
    ("none (loopback only)", "none"),
]


def network_modes(facts: HostFacts) -> list[tuple[str, str]]:
    """The mode picker: bridge, each user network, host, none, container:<each running container>."""
    user = [
        (f"{n.name} (user network, {n.driver})", n.name)
        for n in sorted(facts.networks, key=lambda n: natural_key(n.name))
        if n.name not in PREDEFINED_NETWORKS and n.driver not in ("host", "null")
    ]
    shared = [
        (f"container:{c.name} (share its network namespace)", f"container:{c.name}")
        for c in sorted(facts.containers, key=lambda c: natural_key(c.name))
        if c.running
    ]
    return [BASE_MODES[0], *user, *BASE_MODES[1:], *shared]


class RunContainerForm(FormScreen):
    TITLE = "Run a container"
    FORM = "container.run"
    VERB = "run"

    def fields(self) -> tuple[Field, ...]:
        return (
            Field("name", "Name", "e.g. web"),
            Field("network", "Network"),
            Field("image", "Image", BUSYBOX_IMAGE, BUSYBOX_IMAGE),
            Field("publish", "Publish", "optional HOST:CONTAINER[/udp], separated by spaces or commas"),
            Field("command", "Command", "optional; the default keeps it running"),
            Field("labels", "Labels", "optional key=value, separated by spaces or commas"),
        )

    def field_widget(self, field: Field) -> Widget:
        if field.key == "network":
            return Select(BASE_MODES, allow_blank=False, value="bridge", compact=True, id="field-network")
        return super().field_widget(field)

    def facts_ready(self, facts: HostFacts) -> None:
        picker = self.query_one("#field-network", Select)
        chosen, modes = picker.value, network_modes(facts)
        picker.set_options(modes)
        if chosen in {value for _, value in modes}:
            picker.value = chosen
        super().facts_ready(facts)

    def apply(self, values: Mapping[str, str | None]) -> str:
        run = self.app.host.change(
            "container.run",
            {
                "name": values["name"],
                "network": values["network"] or "bridge",
                "image": values["image"] or BUSYBOX_IMAGE,
                "publish": split_items(values["publish"]),
                "command": split_command(values["command"]),
                "labels": split_items(values["labels"]),
            },
        )
        where = f" at {', '.join(run.ipv4)}" if run.ipv4 else ""
        warned = "".join(f" Docker: {w}." for w in run.warnings)
        return f"Started container {run.name} ({run.network_mode}){where}.{warned}"


class RemoveNetwork(ConfirmScreen):
    TITLE = "Remove a network"

    def __init__(self, network: str) -> None:
        super().__init__()
        self.network = network

    def question(self, facts: HostFacts) -> str:
        net = facts.network(self.network)
        if net is None:
            return f"Network {self.network[:12]} no longer exists. Try anyway?"
        attached = facts.attached(net)
        then = (
            f"These containers will be disconnected from it first (force): {', '.join(c.name for c in attached)}."
            if attached
            else "No running container is attached to it."
        )
        return f"Remove network {net.name} ({net.driver}, id {net.id[:12]})?\n{then}"

    def apply(self, values: Mapping[str, str | None]) -> str:
        done = self.app.host.change("network.rm", {"network": self.network, "force": True})
        return f"Removed network {done.name}" + (
            f"; disconnected {', '.join(done.disconnected)} first." if done.disconnected else "."
        )


class RemoveContainer(ConfirmScreen):
    TITLE = "Remove a container"

    def __init__(self, container: str) -> None:
        super().__init__()
        self.container = container

    def question(self, facts: HostFacts) -> str:
        c = facts.container(self.container)
        if c is None:
            return f"Container {self.container[:12]} no longer exists. Try anyway?"
        lines = [f"Remove container {c.name} ({c.state}, id {c.id[:12]})?"]
        if c.running:
            lines.append("It is running: it will be killed first (force).")
        sharing = [o.name for o in facts.containers if o.network_mode in (f"container:{c.id}", f"container:{c.name}")]
        if sharing:
            names = ", ".join(sorted(sharing, key=natural_key))
            lines.append(f"{names} share its network namespace and will lose their network.")
        return "\n".join(lines)

    def apply(self, values: Mapping[str, str | None]) -> str:
        done = self.app.host.change("container.rm", {"container": self.container, "force": True})
        return f"Removed container {done.name}" + (" (it was running)." if done.was_running else ".")
