"""``netcon flannel ...`` and ``netcon show leases`` end to end on the real etcd."""

from __future__ import annotations

import json
import uuid

import pytest

from netcon.cli.main import main
from tests.flannel.conftest import SEED_CONFIG


@pytest.fixture
def prefix(etcd_endpoint):
    from netcon.core.etcd import EtcdOptions, open_client
    from tests.flannel.conftest import wipe

    value = f"/nct{uuid.uuid4().hex[:8]}/atomic.io/network"
    yield value
    for api in ("2", "3"):
        client = open_client(EtcdOptions(endpoints=(etcd_endpoint,), api=api))
        wipe(client, value)
        client.close()


def test_seed_commands_on_v2(prefix, etcd_endpoint, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ETCDCTL_API", "2")
    monkeypatch.setenv("ETCDCTL_ENDPOINTS", etcd_endpoint)
    assert main(["flannel", "config", "set", SEED_CONFIG, f"--etcd-prefix={prefix}/"]) == 0
    assert "stored" in capsys.readouterr().out
    monkeypatch.delenv("ETCDCTL_API")  # auto finds the config under v2
    assert main(["flannel", "config", "show", "--json", "--etcd-prefix", prefix]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["api"] == 2 and shown["effective"]["SubnetLen"] == 24 and shown["effective"]["Backend"]["VNI"] == 1
    env = tmp_path / "subnet.env"
    assert (
        main(
            [
                "flannel",
                "lease",
                "acquire",
                "--public-ip",
                "10.10.110.31",
                "--vtep-mac",
                "3e:f4:3d:f3:0d:4d",
                "--etcd-prefix",
                prefix,
            ]
        )
        == 0
    )
    assert "acquired for 10.10.110.31" in capsys.readouterr().out
    assert main(["show", "leases", "--json", "--etcd-prefix", prefix]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["not_read"] == []
    rows = shown["leases"]
    assert (
        len(rows) == 1
        and rows[0]["broken"] is False
        and set(rows[0])
        == {
            "key",
            "broken",
            "error",
            "subnet",
            "public_ip",
            "backend_type",
            "vni",
            "vtep_mac",
            "expires_at",
            "ttl_seconds",
            "reservation",
        }
    )
    subnet = rows[0]["subnet"]
    assert main(["flannel", "lease", "reserve", subnet, "--etcd-prefix", prefix]) == 0
    assert main(["flannel", "lease", "renew", subnet, "--etcd-prefix", prefix]) == 0
    assert main(["flannel", "lease", "list", "--etcd-prefix", prefix]) == 0
    assert "reserved" in capsys.readouterr().out
    assert main(["--read-only", "flannel", "lease", "revoke", subnet, "--etcd-prefix", prefix]) == 3
    assert main(["flannel", "lease", "revoke", subnet, "--etcd-prefix", prefix]) == 0
    env.write_text(
        "FLANNEL_NETWORK=172.17.0.0/16\nFLANNEL_SUBNET=172.17.19.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n"
    )
    out = tmp_path / "docker"
    assert main(["flannel", "docker-opts", "-k", "DOCKER_NETWORK_OPTIONS", "-d", str(out), "-f", str(env)]) == 0
    assert (
        out.read_text().splitlines()[-1] == 'DOCKER_NETWORK_OPTIONS=" --bip=172.17.19.1/24 --ip-masq=true --mtu=1450"'
    )


def test_errors_are_one_line_and_change_nothing(prefix, etcd_endpoint, capsys):
    args = ["--etcd-endpoints", etcd_endpoint, "--etcd-prefix", prefix]
    assert main(["flannel", "config", "set", '{"Network": "10.0.0.0/30"}', *args]) == 2
    assert main(["flannel", "config", "set", '{"Network": "10.0.0.0/16", "Backend": {"Type": "x"}}', *args]) == 2
    assert main(["flannel", "config", "validate", '{"Network": "10.0.0.0/16", "SubnetLen": 33}']) == 2
    assert main(["show", "leases", *args]) == 2  # no config under that prefix
    assert main(["show", "leases", "--etcd-endpoints", "http://127.0.0.1:9", "--etcd-api", "3"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("netcon: ") for line in lines)
    assert "No flannel config at" in lines[3] and "connection refused" in lines[4]
    assert main(["flannel", "config", "show", *args]) == 2


BROKEN_VALUE = '{"PublicIP":"198.18.0.99",BROKEN'


def _netcon(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("api", ["2", "3"])
def test_broken_keys_are_shown_not_hidden(prefix, etcd_endpoint, capsys, api):
    """Issue 12 item 4: a lease value that is not flannel JSON, a key that is not a subnet, a value that is not
    UTF-8 (v3 only: v2 stores text) are rows marked broken with the key and the reason; the good lease stays."""
    from netcon.core.context import HostContext
    from netcon.core.etcd import EtcdOptions, open_client
    from netcon.core.flannel.lease import vxlan_attrs
    from netcon.core.flannel.registry import FlannelStore, set_config

    client = open_client(EtcdOptions(endpoints=(etcd_endpoint,), api=api))
    store = FlannelStore(client, prefix)
    set_config(HostContext(), store, SEED_CONFIG)
    store.create_lease(HostContext(), "172.17.5.0/24", vxlan_attrs("198.18.0.5", 1, "02:00:00:00:00:05"), 600)
    client.put(f"{prefix}/subnets/172.17.99.0-24", BROKEN_VALUE)
    client.put(f"{prefix}/subnets/garbagekey", "{}")
    broken_keys = {f"{prefix}/subnets/172.17.99.0-24", f"{prefix}/subnets/garbagekey"}
    if api == "3":

        async def put_bytes(c):  # the client itself only writes text; etcd holds any bytes
            await c.put(f"{prefix}/subnets/172.17.98.0-24".encode(), b'{"PublicIP":"\xff\xfe"}')

        client._call("put bytes", put_bytes)
        broken_keys.add(f"{prefix}/subnets/172.17.98.0-24")
    args = ["--etcd-endpoints", etcd_endpoint, "--etcd-prefix", prefix, "--etcd-api", api]
    for command in (["show", "leases", "--json"], ["flannel", "lease", "list", "--json"]):
        code, out, err = _netcon(capsys, *command, *args)
        assert code == 0 and err == ""
        shown = json.loads(out)
        rows = {row["key"]: row for row in shown["leases"]}
        assert rows[f"{prefix}/subnets/172.17.5.0-24"]["broken"] is False
        assert rows[f"{prefix}/subnets/172.17.5.0-24"]["public_ip"] == "198.18.0.5"
        assert {k for k, row in rows.items() if row["broken"]} == broken_keys
        bad = rows[f"{prefix}/subnets/172.17.99.0-24"]
        assert bad["error"].startswith("The value is not JSON") and BROKEN_VALUE in bad["error"]
        assert bad["subnet"] is None and bad["public_ip"] is None and bad["ttl_seconds"] is None
        assert "is not a subnet" in rows[f"{prefix}/subnets/garbagekey"]["error"]
        if api == "3":
            assert rows[f"{prefix}/subnets/172.17.98.0-24"]["error"] == "The value is not UTF-8 text."
        assert shown["not_read"] == [
            f"{len(broken_keys)} keys under {prefix}/subnets could not be read as flannel leases (marked broken)."
        ]
    code, out, err = _netcon(capsys, "show", "leases", *args)
    assert code == 0 and "198.18.0.5" in out
    assert f"BROKEN           key {prefix}/subnets/garbagekey: The key name 'garbagekey'" in out
    assert "could not be read as flannel leases" in err
    store.close()


def _audit(path) -> list[dict]:
    """Each attempt's outcome line (a log that also writes a "started" line before a change has those skipped)."""
    lines = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return [r for r in lines if r["outcome"] != "started"]


@pytest.fixture
def audit_log(tmp_path, monkeypatch):
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("NETCON_AUDIT_LOG", str(path))
    monkeypatch.delenv("NETCON_READ_ONLY", raising=False)
    return path


def test_refusals_and_invalid_values_are_audited_with_what_was_given(prefix, etcd_endpoint, capsys, audit_log):
    """Issue 12 item 6: read-only refusals and invalid values go through the core's one mutation wrapper: exit
    3 or 2, one sentence, and one audit line recording only what the user gave (never a store's repr)."""
    args = ["--etcd-endpoints", etcd_endpoint, "--etcd-prefix", prefix, "--etcd-password", "s3cret",
            "--etcd-username", "root"]  # fmt: skip
    cases = [
        (["--read-only", "flannel", "lease", "acquire", "--public-ip", "198.18.0.7"], 3, "read-only"),
        (["--read-only", "flannel", "lease", "renew", "172.17.5.0/24"], 3, "read-only"),
        (["--read-only", "flannel", "lease", "revoke", "172.17.5.0/24"], 3, "read-only"),
        (["--read-only", "flannel", "lease", "reserve", "172.17.5.0/24"], 3, "read-only"),
        (["--read-only", "flannel", "agent", "--iface", "lo"], 3, "read-only"),
        (["flannel", "config", "set", "--file", "/nonexistent"], 2, "invalid"),
        (["flannel", "lease", "acquire", "--public-ip", "notanip"], 2, "invalid"),
    ]
    for argv, code, _ in cases:
        got, out, err = _netcon(capsys, *argv, *args)
        assert (got, out) == (code, ""), err
        assert err.startswith("netcon: ") and err.count("\n") == 1, err
    records = _audit(audit_log)
    assert [r["outcome"] for r in records] == [outcome for _, _, outcome in cases]
    assert [r["operation"] for r in records] == [
        "flannel.lease.acquire",
        "flannel.lease.renew",
        "flannel.lease.revoke",
        "flannel.lease.reserve",
        "flannel.agent",
        "flannel.config.set",
        "flannel.lease.acquire",
    ]
    first = records[0]["arguments"]
    assert first["etcd"]["endpoints"] == etcd_endpoint and first["etcd"]["prefix"] == prefix
    assert first["etcd"]["password"] == "(hidden)" and first["public_ip"] == "198.18.0.7"
    assert first.get("vtep_mac") is None and first.get("subnet_file") is None  # not given: no default recorded
    assert records[5]["arguments"]["file"] == "/nonexistent"
    assert "s3cret" not in audit_log.read_text() and "FlannelStore" not in audit_log.read_text()


BAD_ARGUMENTS = [
    (["flannel", "config", "set", "--file", "/nonexistent"], "Config file /nonexistent does not exist."),
    (["flannel", "config", "set", "--file", "/"], "Config file / is a directory, not a file."),
    (["flannel", "config", "validate", "--file", "/"], "Config file / is a directory, not a file."),
    (["flannel", "lease", "acquire", "--public-ip", "notanip"], "PublicIP 'notanip' is not an IPv4 address"),
    (["flannel", "lease", "acquire", "--public-ip", "198.18.0.1", "--vtep-mac", "zz"], "VTEP MAC 'zz' is not"),
    (["flannel", "lease", "acquire", "--public-ip", "198.18.0.1", "--subnet-file", "/"], "Subnet file / is a dir"),
    (["flannel", "lease", "renew", "172.17.5.1/24"], "has host bits set: did you mean 172.17.5.0/24?"),
    (["flannel", "lease", "reserve", "172.17.5.0/24", "--public-ip", "1.2"], "PublicIP '1.2' is not"),
    (["flannel", "agent", "--iface", "a/b"], "Interface 'a/b' is not a Linux interface name"),
    (["flannel", "agent", "--public-ip", "x"], "PublicIP 'x' is not an IPv4 address"),
    (["flannel", "agent", "--subnet-file", "/"], "Subnet file / is a directory"),
    (["flannel", "agent", "--ip-masq", "maybe"], "--ip-masq takes true or false"),
    (["flannel", "agent", "--subnet-lease-renew-margin", "x"], "is not a whole number"),
    (["flannel", "agent", "--retry-interval", "0"], "is out of range"),
    (["flannel", "docker-opts", "-f", "/"], "Subnet file / is a directory"),
    (["flannel", "docker-opts", "-f", "/nonexistent"], "Subnet file /nonexistent does not exist."),
    (["flannel", "docker-opts", "-f", "/etc/hostname", "-d", "/"], "Docker env file / is a directory"),
    (["show", "leases", "--etcd-endpoints", ""], "--etcd-endpoints is empty"),
    (["show", "leases", "--etcd-prefix", ""], "etcd prefix is empty."),
    (["show", "leases", "--etcd-prefix", "/"], "is the root"),
    (["show", "leases", "--etcd-endpoints", "http://h:70000"], "has a port that is not a number from 1 to 65535"),
    (["show", "leases", "--etcd-endpoints", "127.0.0.1:2379"], "is not a http:// or https:// URL"),
    (["show", "leases", "--etcd-endpoints", f"http://{'a' * 64}.example:2379"], "is not a host name"),
    (["show", "leases", "--etcd-endpoints", f"http://{'a.' * 130}x:2379"], "longer than the 253 characters"),
    (["show", "leases", "--etcd-cafile", "/etc/hostname"], "is not a PEM certificate file"),
    (["show", "leases", "--etcd-cafile", "/nonexistent"], "etcd CA file /nonexistent does not exist."),
]


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_every_path_and_address_argument_is_one_sentence(argv, message, capsys, audit_log, tmp_path):
    code, out, err = _netcon(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("netcon: ") and message in err and err.count("\n") == 1, err


def test_garbled_tls_file_is_one_sentence_and_grpc_stays_quiet(tmp_path):
    """A file that looks like PEM but is not: one sentence, no traceback, none of gRPC's C-core log lines."""
    import subprocess
    import sys

    bad = tmp_path / "ca.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nZm9v\n-----END CERTIFICATE-----\n")
    for api in ("2", "3"):
        done = subprocess.run(
            [sys.executable, "-m", "netcon.cli", "show", "leases", "--etcd-endpoints", "https://127.0.0.1:9",
             "--etcd-cafile", str(bad), "--etcd-api", api],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2 and done.stderr.startswith(f"netcon: etcd CA file {bad} holds no valid"), done
        assert done.stderr.count("\n") == 1


@pytest.fixture
def not_etcd():
    """An HTTP server that is not etcd, and a TCP port that answers with something that is not HTTP/gRPC."""
    import http.server
    import socket
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # the test reads this process's stderr
            pass

    http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    banner = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def greet() -> None:
        banner.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = banner.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    threads = [threading.Thread(target=http_server.serve_forever, daemon=True), threading.Thread(target=greet)]
    for thread in threads:
        thread.start()
    try:
        yield {
            "http": f"http://127.0.0.1:{http_server.server_address[1]}",
            "tcp": f"http://127.0.0.1:{banner.getsockname()[1]}",
        }
    finally:
        stop.set()
        http_server.shutdown()
        http_server.server_close()
        threads[1].join(5)
        banner.close()


@pytest.mark.parametrize("kind", ["http", "tcp"])
@pytest.mark.parametrize("api", ["2", "3"])
def test_an_endpoint_that_is_not_etcd_is_one_sentence(not_etcd, kind, api, capsys):
    code, out, err = _netcon(capsys, "show", "leases", "--etcd-endpoints", not_etcd[kind], "--etcd-api", api)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert not_etcd[kind] in err
    assert any(text in err for text in ("not with gRPC", "not with HTTP", "it is not etcd")), err


@pytest.mark.parametrize(
    "data, message",
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests JSON more than 64 levels deep"),
        (b'{"Network": "10.\xff"}', "is not UTF-8 text (byte 0xff at 16)"),
        (b"\x00\x01binary", "holds binary data, not text"),
        (b"", "The flannel config is empty."),
    ],
    ids=["deep", "not-utf8", "binary", "empty"],
)
def test_config_on_stdin_deep_or_binary_is_one_sentence(data, message, prefix, etcd_endpoint, capsys, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, _, err = _netcon(capsys, "flannel", "config", "set", "-", "--etcd-endpoints", etcd_endpoint,
                             "--etcd-prefix", prefix)  # fmt: skip
    assert code == 2 and message in err and err.count("\n") == 1, err
