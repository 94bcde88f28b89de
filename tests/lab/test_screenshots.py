"""The README's screenshots are taken of the real console on a real lab (``python -m netcon.tui.screenshots``),
and each picture is checked against what the lab holds, so none can silently become empty or show a failure."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import docker

from netcon.core.context import HostContext
from netcon.core.lab import lab, overlay
from netcon.core.lab import state as lab_state
from netcon.core.lab.procs import processes_mentioning
from netcon.core.lab.scenario import SEED
from netcon.tui.panes import SLOTS
from netcon.tui.screenshots import main

NAMES = [slot.picture for slot in SLOTS]


def screenshots(*args: str | Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "netcon.tui.screenshots", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=240)


def screen(svg: Path) -> list[str]:
    """The terminal's lines as text. Rich's SVG export draws each run of one style as a <text> element at its
    cell's x and its line's y, spaces as no-break spaces."""
    cells: dict[float, dict[int, str]] = {}
    for element in ET.parse(svg).iter("{http://www.w3.org/2000/svg}text"):
        text, length = (element.text or "").replace("\xa0", " "), element.get("textLength")
        if not text or length is None:
            continue
        width = float(length) / len(text)
        first = round(float(element.get("x", 0)) / width)
        line = cells.setdefault(float(element.get("y", 0)), {})
        line.update({first + i: char for i, char in enumerate(text)})
    return [
        "".join(line.get(i, " ") for i in range(max(line) + 1)).rstrip() for _, line in sorted(cells.items()) if line
    ]


def line_with(lines: list[str], *parts: str, start: str = "") -> str:
    """The first line that starts with ``start`` (after the margin) and shows every one of ``parts``."""
    found = [line for line in lines if line.lstrip().startswith(start) and all(part in line for part in parts)]
    assert found, f"no line {start!r}... shows {parts}; the picture shows:\n" + "\n".join(lines)
    return found[0]


def lease(host: lab_state.LabHost) -> str:
    """The host's flannel lease (172.17.x.0/24) from its agent's subnet.env."""
    subnet = overlay.flannel_subnet(host)
    assert subnet, f"{host.name} has no FLANNEL_SUBNET"
    return str(ipaddress.ip_interface(subnet).network)


def check_pictures(out: Path, state: lab_state.LabState) -> None:
    h1, h2 = state.hosts
    app2_ip = docker.APIClient(base_url=h1.docker_host).inspect_container("app2")["NetworkSettings"]["Networks"]["app"][
        "IPAddress"
    ]
    shown = {name: screen(out / name) for name in NAMES}
    for name, lines in shown.items():
        assert lines[0].startswith(" netcon"), name
        line_with(lines, h1.netns, "Docker ", f"etcd: {state.etcd_endpoint}", " up")  # the header, h1's console

    networks = shown["1-networks.svg"]
    line_with(networks, "bridge", "app1, app2", start="app ")
    line_with(networks, lease(h1), "docker0", "busybox", start="bridge ")  # docker0 took h1's flannel lease
    line_with(networks, "nginx", start="host ")
    line_with(networks, "busybox-3", start="none ")

    containers = shown["2-containers.svg"]
    for planned in SEED:
        line_with(containers, "running", planned.network, start=f"{planned.name} ")

    bridges = shown["3-bridges.svg"]
    line_with(bridges, "docker0", "network bridge")
    line_with(bridges, "network app")
    for name in ("app1", "app2", "busybox"):
        line_with(bridges, "veth", name)

    veths = shown["4-veths.svg"]
    line_with(veths, "eth0@if", "br-", "B/s", start="app1 ")
    line_with(veths, "eth0@if", "docker0", "1450", "B/s", start="busybox ")

    flannel = shown["5-flannel.svg"]
    line_with(flannel, "Network", "172.17.0.0/16", "vxlan")
    line_with(flannel, lease(h1), h1.address, start="●")  # this host's lease, marked
    line_with(flannel, lease(h2), h2.address, "ok")  # h2's, with h1's route, FDB and neighbour entries

    ping = shown["6-ping.svg"]
    line_with(ping, "app2", app2_ip, "running", start="app1 ")

    ports = shown["7-ports.svg"]
    line_with(ports, ":80 ", "httpd", "nginx", "host", start="tcp ")

    capture = shown["9-capture.svg"]  # the probe's echoes, captured inside app1's namespace
    line_with(capture, "capturing on eth0 [container app1]", "0 dropped by kernel")
    line_with(capture, "eth0", "container app1", f"> {app2_ip}: ICMP echo request")

    trace = shown["0-trace.svg"]  # app1 -> app2 through their bridge, the probe seen on every interface
    line_with(trace, "app1", f"→ app2 ({app2_ip}) icmp", "reached, reply seen")
    line_with(trace, "container app2", "eth0", "veth", "seen")

    cluster = shown["cluster.svg"]  # h1 in-process; h2 too when the lab has its sshd, read over SSH
    line_with(cluster, "h1", "yes", lease(h1), start="▶")
    if state.ssh:
        line_with(cluster, "h2", h2.address, "yes", lease(h2))

    doctor = shown["8-doctor.svg"]
    line_with(doctor, f"{h1.netns}: ", " checks")  # the real doctor's report on h1 ...
    line_with(doctor, state.etcd_endpoint)  # ... with the flannel checks against the lab's etcd


def test_pictures_of_a_lab_and_bad_input(tmp_path, capsys):
    """The command on an existing lab: every pane pictured with the lab's data; then the refusals, which leave the
    lab as it was."""
    ctx = HostContext()
    prefix = f"u{uuid.uuid4().hex[:5]}"
    try:
        state = lab.up(ctx, prefix)
        out = tmp_path / "shots"
        result = screenshots("--prefix", prefix, "--out", out)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [str(out / name) for name in NAMES]
        check_pictures(out, state)

        for args, message in (
            (("--build",), f"Lab {prefix} exists already"),
            (("--host", "h9"), f"Lab {prefix} has no host h9 (hosts: h1, h2)."),
        ):
            assert main(["--prefix", prefix, "--out", str(tmp_path / "refused"), *args]) == 2
            stderr = capsys.readouterr().err
            assert message in stderr and len(stderr.strip().splitlines()) == 1, stderr
        assert not (tmp_path / "refused").exists()
        assert lab.status(prefix).healthy
    finally:
        lab.down(ctx, prefix)


def test_build_makes_the_pictures_on_a_lab_of_its_own_and_removes_it(tmp_path):
    """The README's command: --build brings a lab up for the pictures and takes it down again."""
    ctx = HostContext()
    prefix = f"u{uuid.uuid4().hex[:5]}"
    out = tmp_path / "shots"
    try:
        result = screenshots("--build", "--prefix", prefix, "--out", out)
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)
        assert "app1, app2" in "\n".join(screen(out / NAMES[0]))
        assert lab_state.load(prefix) is None
        assert not [n for n in os.listdir("/var/run/netns") if n.startswith(f"{prefix}-")]
        assert processes_mentioning(f"lab-{prefix}") == []
    finally:
        lab.down(ctx, prefix)


def test_no_lab_is_one_sentence(tmp_path, capsys):
    assert main(["--prefix", "nolab", "--out", str(tmp_path / "shots")]) == 2
    assert capsys.readouterr().err == (
        "netcon screenshots: No lab nolab here: build one with netcon lab up --prefix nolab, or pass --build.\n"
    )
    assert not (tmp_path / "shots").exists()
