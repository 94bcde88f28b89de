"""Every subcommand, every argument, every class of bad value: enumerated, not sampled.

For each command of netcon's parser a valid base command line is known; each of its arguments has a kind, and
each kind a set of bad values (plus the classes every argument must refuse: empty, blank, control characters,
bytes that are not UTF-8, absurdly long). Each case runs netcon in-process with the base line and one bad value
and asserts: a non-zero exit, one or two lines on stderr naming the problem, no traceback, and — for the
commands that change something — nothing changed in Docker, etcd or the kernel. A meta-test checks that the
table covers every argument the parser has, so a new option cannot escape it.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from netcon.cli.main import build_parser, main
from netcon.core.context import HostContext
from netcon.core.etcd import EtcdOptions
from netcon.core.exporter.server import Exporter
from netcon.core.flannel.agent import Agent
from netcon.core.flannel.lease import acquire_lease, vxlan_attrs
from netcon.core.flannel.registry import FlannelStore, set_config
from netcon.core.lab import lab
from netcon.tui.app import NetconApp
from netcon.tui.web_server import WebConsole
from tests.conftest import DockerObjects

TAG = f"nce{uuid.uuid4().hex[:5]}"
GENERIC = {"empty": "", "blank": "   ", "control": "a\x07b", "not-utf8": "\udcff\udcfe", "huge": "x" * 5000}
KINDS: dict[str, dict[str, str]] = {
    "text": {},
    "name": {"slash": "a/b", "space": "a b"},
    "ref": {"missing": f"{TAG}-missing"},
    "int": {"word": "many", "huge": "99999999999999999999", "fraction": "1.5", "negative": "-5"},
    "float": {"word": "soon", "nan": "nan", "inf": "inf", "negative": "-5"},
    "cidr": {"word": "net", "prefix": "10.0.0.0/33", "octet": "300.0.0.0/24", "host-bits": "10.0.0.1/24"},
    "ip": {"word": "notanip", "octet": "300.1.1.1", "short": "1.2.3"},
    "mac": {"word": "notamac", "short": "02:00:00:00:00"},
    "url": {
        "word": "words",
        "no-host": "http://",
        "port": "http://127.0.0.1:99999",
        "scheme": "ftp://127.0.0.1:2379",
        "long-host": "http://" + "a" * 300 + ":2379",
    },
    "docker-url": {"port": "tcp://127.0.0.1:99999", "relative": "unix://docker.sock", "scheme": "ftp://x"},
    "netns": {"missing": f"{TAG}-no-such-ns", "not-netns": "/etc/passwd"},
    "file-in": {"missing": "/nonexistent/netcon", "dir": "/", "binary": "{binary}", "latin1": "{latin1}"},
    "file-out": {"dir": "/", "no-parent": "/nonexistent/dir/file"},
    "kv": {"no-equals": "novalue", "no-key": "=x"},
    "publish": {"word": "web", "port": "99999:80"},
    "choice": {"other": "4"},
    "lab-prefix": {"slash": "a/b", "long": "abcdefghij"},
    "etcd-prefix": {"root": "/"},
    "json": {"not-json": "{", "deep": "[" * 100000, "tiny-network": '{"Network":"10.0.0.0/29","SubnetLen":30}'},
    "iface": {"slash": "a/b", "long": "x" * 20},
    "boolean": {"word": "maybe"},
    "host": {"octet": "300.1.1.1", "label": "a" * 64 + ".example"},
    "names": {"commas": ",", "one": "a", "twice": "a,a"},
    "target": {"missing": f"{TAG}-missing", "container": f"container:{TAG}-missing", "kind": "veth:"},
    "filter": {"syntax": "udp portt 8472", "unfinished": "host 10.0.0.1 and"},
    "listen": {"word": "nowhere", "no-port": "127.0.0.1", "port": "127.0.0.1:99999", "v6": "::1:80", "name": "a:1"},
    "token": {"short": "abc", "not-ascii": "é" * 20},
    "ssh-target": {
        "bare": "h2",  # a lab host's name is not an ssh target
        "scheme": "http://h2",
        "no-host": "ssh://",
        "user-only": "ssh://root@",
        "port": "ssh://h2:99999",
        "path": "ssh://h2/x",
        "user": "ssh://ro ot@h2",
    },
}


@dataclass(frozen=True)
class Arg:
    kind: str
    words: tuple[str, ...]  # any of these (lower case) in the message names the problem
    position: int | None = None  # index in the base line for a positional, None for an option


@dataclass(frozen=True)
class Command:
    base: tuple[str, ...]
    args: dict[str, Arg]
    changes: bool = False  # a mutating command: check Docker, etcd and the kernel after each case
    extra: dict[str, Arg] = field(default_factory=dict)


ETCD = ("--etcd-endpoints", "{etcd}", "--etcd-prefix", "/{p}/network", "--etcd-api", "2")
ETCD_ARGS = {
    "--etcd-endpoints": Arg("url", ("etcd endpoint", "--etcd-endpoints")),
    "--etcd-prefix": Arg("etcd-prefix", ("prefix",)),
    "--etcd-cafile": Arg("file-in", ("ca", "--etcd-cafile", "tls")),
    "--etcd-certfile": Arg("file-in", ("cert", "--etcd-certfile", "tls")),
    "--etcd-keyfile": Arg("file-in", ("key", "--etcd-keyfile", "tls")),
    "--etcd-username": Arg("text", ("user",)),
    "--etcd-password": Arg("text", ("password",)),
    "--etcd-api": Arg("choice", ("--etcd-api", "api")),
}
GLOBAL_ARGS = {
    "--docker-host": Arg("docker-url", ("docker-host", "docker endpoint")),
    "--netns": Arg("netns", ("netns", "network namespace")),
    "--host": Arg("ssh-target", ("--host",)),
    "--ssh-config": Arg("file-in", ("--ssh-config",)),
}


def _etcd(base: tuple[str, ...], args: dict[str, Arg], **kwargs) -> Command:
    return Command((*base, *ETCD), {**ETCD_ARGS, **args}, **kwargs)


COMMANDS: dict[str, Command] = {
    **{f"show {view}": Command(("show", view), {}) for view in ("networks", "containers", "bridges", "veths")},
    "show ports": Command(("show", "ports"), {}),
    "show leases": _etcd(("show", "leases"), {}),
    "console": _etcd(
        ("console",),
        {
            "--ping-max-probes": Arg("int", ("--ping-max-probes",)),
            "--ping-max-rate": Arg("float", ("--ping-max-rate",)),
            "--capture-max-pps": Arg("int", ("--capture-max-pps",)),
            "--capture-keep": Arg("int", ("--capture-keep",)),
            "--capture-stop-after": Arg("int", ("--capture-stop-after",)),
            "--lab": Arg("lab-prefix", ("prefix", "--lab")),
        },
    ),
    "capture": Command(  # a value wrongly accepted would capture on lo for 0.2 s and exit 0
        ("capture", "lo", "--duration", "0.2"),
        {
            "targets": Arg("target", ("target", "no interface", "no container", "veth:"), 1),
            "-f": Arg("filter", ("filter", "-f")),
            "-c": Arg("int", ("-c",)),
            "-w": Arg("file-out", ("-w",)),
            "-r": Arg("file-in", ("-r",)),
            "--duration": Arg("float", ("--duration",)),
            "--max-pps": Arg("int", ("--max-pps",)),
            "--ring-mb": Arg("int", ("--ring-mb",)),
        },
    ),
    "exporter": _etcd(  # Exporter.start is refused below: a value wrongly accepted fails the case
        ("exporter", "--listen", "127.0.0.1:9"),
        {"--listen": Arg("listen", ("--listen",)), "--config": Arg("file-in", ("config",))},
    ),
    "serve": _etcd(  # WebConsole.run is refused below, as the console is
        ("serve", "--web", "--listen", "127.0.0.1:9"),
        {"--listen": Arg("listen", ("--listen",)), "--token": Arg("token", ("--token",))},
    ),
    "network create": Command(
        ("network", "create", "{p}-new", "--label", "netcon.test={p}"),
        {
            "name": Arg("name", ("network name", "name"), 2),
            "--driver": Arg("name", ("driver",)),
            "--subnet": Arg("cidr", ("subnet",)),
            "--gateway": Arg("ip", ("gateway",)),
            "--ip-range": Arg("cidr", ("ip range",)),
            "--label": Arg("kv", ("label",)),
            "--opt": Arg("kv", ("option",)),
        },
        changes=True,
    ),
    "network rm": Command(("network", "rm", "{p}-net"), {"network": Arg("ref", ("network",), 2)}, changes=True),
    "network connect": Command(
        ("network", "connect", "{p}-other", "{p}-ctr"),
        {
            "network": Arg("ref", ("network",), 2),
            "container": Arg("ref", ("container",), 3),
            "--ip": Arg("ip", ("ip address",)),
            "--alias": Arg("name", ("alias",)),
        },
        changes=True,
    ),
    "network disconnect": Command(
        ("network", "disconnect", "{p}-net", "{p}-ctr"),
        {"network": Arg("ref", ("network",), 2), "container": Arg("ref", ("container",), 3)},
        changes=True,
    ),
    "container run": Command(
        ("container", "run", "{p}-run", "--label", "netcon.test={p}", "--", "sleep", "600"),
        {
            "name": Arg("name", ("container name",), 2),
            "--network": Arg("name", ("network",)),
            "--image": Arg("name", ("image",)),
            "--publish": Arg("publish", ("published port",)),
            "--label": Arg("kv", ("label",)),
        },
        changes=True,
    ),
    "container rm": Command(
        ("container", "rm", "{p}-ctr", "--force"), {"container": Arg("ref", ("container",), 2)}, changes=True
    ),
    "image ensure-busybox": Command(
        ("image", "ensure-busybox", "--image", "{p}/busybox:latest"), {"--image": Arg("name", ("image",))}, changes=True
    ),
    "lab up": Command(
        ("lab", "up", "--prefix", "{lab}"),
        {
            "--prefix": Arg("lab-prefix", ("prefix",)),
            "--hosts": Arg("int", ("--hosts", "hosts")),
            "--underlay": Arg("cidr", ("underlay",)),
            "--etcd-api": Arg("choice", ("--etcd-api",)),
            "--etcd-prefix": Arg("etcd-prefix", ("prefix",)),
        },
        changes=True,
    ),
    "lab status": Command(("lab", "status", "--prefix", "{lab}"), {"--prefix": Arg("lab-prefix", ("prefix",))}),
    "lab console": Command(
        ("lab", "console", "h1", "--prefix", "{lab}"),
        {"--prefix": Arg("lab-prefix", ("prefix",)), "host": Arg("text", ("host",), 2)},
    ),
    "lab exec": Command(
        ("lab", "exec", "h1", "--prefix", "{lab}", "--", "true"),
        {"--prefix": Arg("lab-prefix", ("prefix",)), "host": Arg("text", ("host",), 2)},
        changes=True,
    ),
    "lab down": Command(("lab", "down", "--prefix", "{lab}"), {"--prefix": Arg("lab-prefix", ("prefix",))}),
    "flannel config show": _etcd(("flannel", "config", "show"), {}),
    "flannel config set": _etcd(
        ("flannel", "config", "set", '{{"Network": "10.88.0.0/16"}}'),
        {"config": Arg("json", ("config",), 3), "--file": Arg("file-in", ("file", "config"))},
        changes=True,
    ),
    "flannel config validate": _etcd(
        ("flannel", "config", "validate", '{{"Network": "10.88.0.0/16"}}'),
        {"config": Arg("json", ("config",), 3), "--file": Arg("file-in", ("file", "config"))},
    ),
    "flannel docker-opts": Command(
        ("flannel", "docker-opts", "-f", "{subnet_file}", "-d", "{out}"),
        {
            "-f": Arg("file-in", ("subnet file", "-f")),
            "-d": Arg("file-out", ("-d", "docker options file", "file")),
            "-k": Arg("name", ("-k", "variable", "key")),
        },
        changes=True,
    ),
    "flannel lease list": _etcd(("flannel", "lease", "list"), {}),
    "flannel lease acquire": _etcd(
        ("flannel", "lease", "acquire", "--public-ip", "198.18.251.7"),
        {
            "--public-ip": Arg("ip", ("publicip", "public ip", "--public-ip")),
            "--vtep-mac": Arg("mac", ("mac",)),
            "--subnet-file": Arg("file-in", ("subnet file",)),
        },
        changes=True,
    ),
    **{
        f"flannel lease {verb}": _etcd(
            ("flannel", "lease", verb, "{subnet}"), {"subnet": Arg("cidr", ("subnet",), 3)}, changes=True
        )
        for verb in ("renew", "revoke")
    },
    "flannel lease reserve": _etcd(
        ("flannel", "lease", "reserve", "{subnet}"),
        {"subnet": Arg("cidr", ("subnet",), 3), "--public-ip": Arg("ip", ("publicip", "public ip", "--public-ip"))},
        changes=True,
    ),
    "flannel agent": _etcd(  # in a namespace of its own: an agent that started would make flannel.1 there
        ("--netns", "{netns}", "flannel", "agent", "--iface", "lo", "--subnet-file", "{agent_file}"),
        {
            "--iface": Arg("iface", ("iface", "interface")),
            "--public-ip": Arg("ip", ("publicip", "public ip", "--public-ip")),
            "--subnet-file": Arg("file-out", ("subnet file",)),
            "--ip-masq": Arg("boolean", ("--ip-masq",)),
            "--subnet-lease-renew-margin": Arg("int", ("renew margin", "--subnet-lease-renew-margin")),
            "--retry-interval": Arg("float", ("--retry-interval", "retry")),
        },
        changes=True,
    ),
    "ping": Command(
        ("ping", "--from", "{p}-ctr", "{ctr_ip}", "-c", "1", "-W", "0.5"),
        {
            "target": Arg("host", ("target", "address", "name"), 3),
            "--from": Arg("ref", ("source", "container", "--from")),
            "-c": Arg("int", ("-c", "count")),
            "-i": Arg("float", ("-i", "interval")),
            "-W": Arg("float", ("-w", "timeout")),
            "-s": Arg("int", ("-s", "size")),
            "-t": Arg("int", ("-t", "ttl")),
        },
    ),
    "ping matrix": Command(
        ("ping", "matrix", "--network", "{p}-net", "-c", "1"),
        {"--network": Arg("ref", ("network",)), "--lab": Arg("lab-prefix", ("prefix", "lab"))},
    ),
    "ping matrix --containers": Command(
        ("ping", "matrix", "--containers", "{p}-ctr,{p}-ctr2", "-c", "1"),
        {"--containers": Arg("names", ("--containers",))},
    ),
    "doctor": _etcd(("doctor",), {"--lab": Arg("lab-prefix", ("prefix", "lab"))}),
    **{  # a value wrongly accepted would read this machine (and the test lease's host, which does not answer)
        f"cluster {action}": _etcd(("cluster", action), {"--lab": Arg("lab-prefix", ("prefix", "lab"))})
        for action in ("status", "doctor")
    },
    "trace": _etcd(  # a value wrongly accepted would predict the path between two test containers and exit 0
        ("trace", "{p}-ctr", "{ctr_ip}", "--no-probe"),
        {
            "src": Arg("ref", ("source", "container"), 1),
            "dst": Arg("host", ("destination",), 2),
            "--proto": Arg("choice", ("--proto",)),
            "--port": Arg("int", ("--port",)),
            "-W": Arg("float", ("-w",)),
            "--lab": Arg("lab-prefix", ("prefix", "lab")),
            "--via": Arg("ssh-target", ("--via",)),
        },
    ),
}


@dataclass
class Scene:
    values: dict[str, str]
    objects: DockerObjects
    store: FlannelStore


@pytest.fixture(scope="module")
def scene(dclient, busybox, etcd_endpoint, tmp_path_factory):
    """A network with a running container, a second network, a flannel config and lease under this test's
    prefix, and files of every bad kind."""
    objects = DockerObjects(dclient, busybox)
    objects.prefix = TAG
    net = objects.network("net")
    objects.network("other")
    ctr = objects.container("ctr", network=net.name)
    objects.container("ctr2", network=net.name)
    ctr.reload()
    netns = f"{TAG}ns"
    for command in (["ip", "netns", "add", netns], ["ip", "-n", netns, "link", "set", "lo", "up"]):
        subprocess.run(command, check=True)
    files = tmp_path_factory.mktemp("bad")
    (files / "binary").write_bytes(b"\x00\x01\x02binary")
    (files / "latin1").write_bytes('{"Network": "10.88.0.0/16", "x": "caf\xe9"}'.encode("latin-1"))
    subnet_file = files / "subnet.env"
    subnet_file.write_text("FLANNEL_NETWORK=10.88.0.0/16\nFLANNEL_SUBNET=10.88.1.1/24\nFLANNEL_MTU=1450\n")
    store = FlannelStore.open(EtcdOptions(endpoints=(etcd_endpoint,), api="2"), f"/{TAG}/network")
    set_config(HostContext(), store, '{"Network": "10.88.0.0/16", "Backend": {"Type": "vxlan"}}')
    lease = acquire_lease(HostContext(), store, vxlan_attrs("198.18.251.1", 1, "02:00:00:00:01:01"))
    values = {
        "p": TAG,
        "lab": "nce",
        "etcd": etcd_endpoint,
        "subnet": lease.subnet,
        "subnet_file": str(subnet_file),
        "out": str(files / "docker.env"),
        "agent_file": str(files / "agent.env"),
        "ctr_ip": ctr.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"],
        "binary": str(files / "binary"),
        "latin1": str(files / "latin1"),
        "netns": netns,
    }
    try:
        yield Scene(values, objects, store)
    finally:
        for kv in store.client.list_prefix(store.prefix).items:
            store.client.delete(kv.key)
        store.close()
        objects.cleanup()
        subprocess.run(["ip", "netns", "del", netns], check=False)
        lab.down(HostContext(), values["lab"])  # only there when a bad value was accepted


def _links(*netns: str) -> list[str]:
    ip = ["ip", *(["-n", netns[0]] if netns else []), "-o", "link", "show"]
    return sorted(
        line.split(":")[1].strip() for line in subprocess.run(ip, capture_output=True, text=True).stdout.splitlines()
    )


def state(scene: Scene) -> dict[str, object]:
    """What no refused command may change: Docker's objects, this test's etcd keys, the kernel's objects the
    commands under test would make (the lab's namespaces and links, the agent's flannel.1 in its namespace:
    links other processes add and remove meanwhile are not this test's business)."""
    api = scene.objects.client.api
    mine = {"label": f"netcon.test={TAG}"}  # the scene's objects, and all a command under test would make
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.split()
    lab = scene.values["lab"]
    return {
        "networks": sorted((n["Id"], n["Name"]) for n in api.networks(filters=mine)),
        "containers": sorted(
            (c["Id"], c["State"], tuple(c["NetworkSettings"]["Networks"]))
            for c in api.containers(all=True, filters=mine)
        ),
        "images": sorted(tag for i in api.images() for tag in i.get("RepoTags") or () if tag.startswith(TAG)),
        "etcd": sorted((kv.key, kv.value) for kv in scene.store.client.list_prefix(scene.store.prefix).items),
        "lab": sorted([name for name in _links() if name.startswith(lab)] + [n for n in netns if n.startswith(lab)]),
        "agent netns": _links(scene.values["netns"]),
        "files": sorted(p.name for p in Path(scene.values["out"]).parent.iterdir()),
    }


def cases() -> list[tuple[str, str, str, str]]:
    found = []
    for name, command in sorted(COMMANDS.items()):
        for arg_name, arg in sorted({**GLOBAL_ARGS, **command.args}.items()):
            for case, value in sorted({**GENERIC, **KINDS[arg.kind]}.items()):
                found.append((name, arg_name, case, value))
    return found


def argv_for(command: Command, arg_name: str, arg: Arg, value: str, values: dict[str, str]) -> list[str]:
    argv = [word.format(**values) for word in command.base]
    bad = value.format(**values) if re.fullmatch(r"\{[a-z0-9_]+\}", value) else value  # {binary}: a file's path
    if arg.position is not None:
        argv[arg.position] = bad
        return argv
    at = argv.index("--") if "--" in argv else len(argv)
    # joined to its option, a value starting with '-' stays a value: --opt=VALUE, -cVALUE
    option = f"{arg_name}={bad}" if arg_name.startswith("--") else f"{arg_name}{bad}"
    return [*argv[:at], option, *argv[at:]]


def run(argv: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
    return code, capsys.readouterr().err


@pytest.fixture(autouse=True)
def nothing_runs_for_good(monkeypatch):
    """A console or a flannel agent that got past its checks would run until stopped (the console taking over
    the test's terminal): starting one fails the case instead. The checks before them are the real ones; the
    agent's signal handlers, installed just before it runs, are put back."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"{type(self).__name__} started: a bad value was accepted")

    monkeypatch.setattr(NetconApp, "run", refuse)
    monkeypatch.setattr(Exporter, "start", refuse)
    monkeypatch.setattr(WebConsole, "run", refuse)
    monkeypatch.setattr(Agent, "run", refuse)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize(("command", "arg", "case", "value"), cases(), ids=lambda x: x if len(x) < 30 else x[:8])
def test_bad_value_is_refused(command, arg, case, value, scene, capsys):
    spec = COMMANDS[command]
    argument = {**GLOBAL_ARGS, **spec.args}[arg]
    before = state(scene) if spec.changes else None
    argv = argv_for(spec, arg, argument, value, scene.values)
    code, err = run(argv, capsys)
    lines = err.strip().splitlines()
    assert code != 0, f"exit 0 for {arg}={value[:40]!r}: {err}"
    assert 1 <= len(lines) <= 2 and lines[0].startswith("netcon"), err
    assert "Traceback" not in err and "internal error" not in err, err
    assert any(word in err.lower() for word in argument.words), f"{err.strip()} does not name {arg}"
    if before is not None:
        assert state(scene) == before


def test_the_table_covers_every_argument():
    """Every command of the parser is in COMMANDS, with every argument that takes a value."""

    def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...]):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield " ".join(path), parser
            return
        for name, sub in subs[0].choices.items():
            yield from leaves(sub, (*path, name))

    parser = build_parser(["--help"])
    found = {}
    for name, leaf in leaves(parser, ()):
        found[name] = {
            a.option_strings[0] if a.option_strings else a.dest
            for a in leaf._actions
            if a.nargs != 0 and not isinstance(a, argparse._HelpAction)
        }
    variants = {name: name.split(" matrix")[0] for name in COMMANDS}  # ping matrix is ping with TARGET matrix
    assert set(found) == set(variants.values())
    for name, args in found.items():
        covered = set().union(*(set(COMMANDS[v].args) for v, parsed in variants.items() if parsed == name))
        assert args == covered | set(GLOBAL_ARGS), name
    assert json.dumps(sorted(found))  # the table was read from the parser, not assumed
