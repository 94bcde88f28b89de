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
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and set(rows[0]) == {
        "subnet",
        "public_ip",
        "backend_type",
        "vni",
        "vtep_mac",
        "expires_at",
        "ttl_seconds",
        "reservation",
    }
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
