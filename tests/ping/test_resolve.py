"""Names resolved the way the source resolves them, from inside its namespace."""

from __future__ import annotations

import pytest

from netcon.core.context import HostContext
from netcon.core.ping.dns import decode_answer, encode_query
from netcon.core.ping.resolve import NameNotResolved, candidates, parse_resolv_conf, resolve
from netcon.core.ping.sources import find_source


def test_user_network_name_via_embedded_dns(trio):
    _net, boxes, _ = trio
    res = resolve(find_source(HostContext(), boxes["app1"].name), boxes["app2"].name)
    assert (res.ip, res.via) == (boxes["app2"].ip, "127.0.0.11")
    assert str(res) == f"{boxes['app2'].name} -> {boxes['app2'].ip} via 127.0.0.11"


def test_hosts_file_of_the_container_comes_first(trio):
    _net, boxes, _ = trio
    res = resolve(find_source(HostContext(), boxes["lone"].name), "localhost")
    assert (res.ip, res.via) == ("127.0.0.1", "/etc/hosts")


def test_default_bridge_does_not_resolve_container_names(trio):
    _net, boxes, _ = trio
    lone = find_source(HostContext(), boxes["lone"].name)
    with pytest.raises(NameNotResolved) as caught:
        resolve(lone, boxes["app1"].name)
    message = str(caught.value)
    assert message.startswith(f"{boxes['app1'].name} does not resolve from container {boxes['lone'].name}: ")
    assert "127.0.0.11" not in message and "nameserver 127.0.0.1 said refused" in message


def test_other_network_name_is_nxdomain_from_embedded_dns(trio):
    _net, boxes, _ = trio
    with pytest.raises(NameNotResolved, match=r"nameserver 127\.0\.0\.11 said NXDOMAIN"):
        resolve(find_source(HostContext(), boxes["app1"].name), boxes["lone"].name)


def test_resolv_conf_search_and_dns_codec():
    conf = parse_resolv_conf("nameserver 127.0.0.11\nsearch corp lan\noptions ndots:0 timeout:9 attempts:5\n")
    assert conf.nameservers == ("127.0.0.11",) and conf.timeout == 2.0 and conf.attempts == 2
    assert candidates("db", conf) == ["db", "db.corp", "db.lan"]
    assert candidates("db", parse_resolv_conf("search corp")) == ["db.corp", "db"]
    ident, query = encode_query("app2", ident=7)
    # an answer built by hand (RFC 1035): header, the question echoed, one A record with a compressed name
    answer = (
        b"\x00\x07\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
        + query[12:]
        + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x02\x58\x00\x04\xac\x13\x00\x03"
    )
    assert decode_answer(answer, ident).addresses == ("172.19.0.3",)
