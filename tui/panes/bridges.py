"""Pane 3: ``brctl show`` as a tree: each bridge with its id and STP, its ports in kernel order, and the
container behind each port. Nodes are updated in place, so expansion and the cursor survive refreshes."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Tree
from textual.widgets.tree import TreeNode

from netcon.core.model import Bridge, Snapshot
from netcon.core.naming import natural_key
from netcon.tui.actions import Action, bindings
from netcon.tui.panes.base import FilteredPane
from netcon.tui.panes.capture import capture_on


def bridge_label(b: Bridge) -> Text:
    text = Text.assemble((b.name, "bold"), f"  {b.bridge_id}  STP {'on' if b.stp else 'off'}  ")
    text.append(f"network {b.network}" if b.network else "not Docker's", style="" if b.network else "italic")
    if b.state != "UP":
        text.append(f"  {b.state}", style="yellow")
    return text


def port_label(snapshot: Snapshot, port: str) -> Text:
    veth = next((v for v in snapshot.veths if v.ifname == port), None)
    if veth is None:
        kind = next((i.kind for i in snapshot.interfaces if i.ifname == port), None)
        return Text(f"{port}  ({kind or 'port'})")
    text = Text.assemble((port, "bold"), f"  → {veth.peer_ifname or '?'}")
    if veth.container:
        text.append(" in ")
        text.append(veth.container, style="bold")
        owner = snapshot.container(veth.container_id or veth.container)
        if owner is not None and owner.shares_netns_with:
            text.append(f" (netns shared with {', '.join(owner.shares_netns_with)})")
    else:
        text.append("  (no container)", style="italic")
    return text


class BridgesPane(FilteredPane):
    title = "Bridges"
    DEFAULT_CSS = """
    BridgesPane > Tree { height: 1fr; }
    """
    ACTIONS = (
        Action(
            "details",
            "enter",
            "Details",
            "open the container behind a port, or fold a bridge",
            key_display="Enter",
            priority=True,
        ),
        Action("capture", "c", "Capture", "capture the packets on the highlighted bridge or port (pane 9)"),
    )
    BINDINGS = bindings(ACTIONS)

    def compose(self) -> ComposeResult:
        yield self.filter_input()
        tree: Tree[str] = Tree("bridges")
        tree.show_root = False
        yield tree

    @property
    def tree(self) -> Tree[str]:
        return self.query_one(Tree)

    @property
    def main(self) -> Tree[str]:
        return self.tree

    def _sync(self) -> None:
        if self.state is None:
            return
        snapshot, tree, needle = self.state.snapshot, self.tree, self.filter_text.lower()
        keep = tree.cursor_node
        wanted = {}
        for b in sorted(snapshot.bridges, key=lambda b: natural_key(b.name)):
            ports = {p: port_label(snapshot, p) for p in b.interfaces}
            label = bridge_label(b)
            if (
                needle
                and needle not in label.plain.lower()
                and not any(needle in t.plain.lower() for t in ports.values())
            ):
                continue
            wanted[b.name] = (label, ports)
        nodes = {node.data: node for node in tree.root.children}
        for name, node in nodes.items():
            if name not in wanted:
                node.remove()
        for index, (name, (label, ports)) in enumerate(wanted.items()):
            node = nodes.get(name)
            if node is None:
                node = tree.root.add(
                    label, data=name, expand=True, before=index if index < len(tree.root.children) else None
                )
            elif node.label != label:
                node.set_label(label)
            _sync_ports(node, ports)
        if keep is not None and _attached(keep):
            tree.cursor_line = _line_of(tree, keep)
        elif tree.root.children:
            tree.cursor_line = 0

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("details", "capture") and (
            isinstance(self.screen.focused, Input) or self.tree.cursor_node is None
        ):
            return False
        return super().check_action(action, parameters)

    def action_capture(self) -> None:
        node = self.tree.cursor_node
        if node is None or node.data is None or self.state is None:
            return
        if node.parent is self.tree.root:
            capture_on(self, f"bridge:{node.data}")
        elif any(v.ifname == node.data for v in self.state.snapshot.veths):
            capture_on(self, f"veth:{node.data}")
        else:
            capture_on(self, node.data)

    def action_details(self) -> None:
        node = self.tree.cursor_node
        if node is None:
            return
        if node.parent is self.tree.root:
            node.toggle()
            return
        veth = next((v for v in self.state.snapshot.veths if v.ifname == node.data), None)
        if veth is not None and veth.container_id:
            from netcon.tui.screens import ContainerDetail

            self.app.push_screen(ContainerDetail(veth.container_id))


def _sync_ports(node: TreeNode[str], ports: dict[str, Text]) -> None:
    existing = {child.data: child for child in node.children}
    for name, child in existing.items():
        if name not in ports:
            child.remove()
    for index, (name, label) in enumerate(ports.items()):
        child = existing.get(name)
        if child is None:
            node.add_leaf(label, data=name, before=index if index < len(node.children) else None)
        elif child.label != label:
            child.set_label(label)


def _attached(node: TreeNode[str]) -> bool:
    while node.parent is not None:
        if node not in node.parent.children:
            return False
        node = node.parent
    return True


def _line_of(tree: Tree[str], target: TreeNode[str]) -> int:
    """The display line of ``target`` (root hidden), counted the way the tree lays its lines out."""
    line = 0
    for node in tree.root.children:
        if node is target:
            return line
        line += 1
        if node.is_expanded:
            for child in node.children:
                if child is target:
                    return line
                line += 1
    return -1


PANE = BridgesPane
