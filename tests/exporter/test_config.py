"""The exporter's config: the example parses, every mistake is one sentence naming the line, the table and
the key, and nothing else is accepted silently."""

from __future__ import annotations

import pytest

from netcon.core.errors import UsageError
from netcon.core.exporter.config import EXAMPLE, load, parse

GOOD = """\
[counters]
interval = "2s"

[[probe]]
source = "app1"
target = "app2"
interval = "1s"

[[probe]]
source = "host"
target = "198.51.100.7"
interval = 5
"""


def test_the_example_config_is_a_valid_config():
    config = parse(EXAMPLE)
    assert [(p.source, p.target, p.interval, p.timeout) for p in config.probes] == [
        ("app1", "app2", 1.0, 1.0),
        ("host", "198.51.100.7", 5.0, 2.0),
    ]
    assert [(m.network, m.interval) for m in config.matrices] == [("app", 30.0)]


def test_values_and_defaults():
    config = parse(GOOD)
    assert config.counters_interval == 2.0 and config.snapshot_interval == 15.0
    assert config.probes[1].interval == 5.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[probe]]\nsource = \n", "line 2"),  # tomllib's own position
        (GOOD.replace('interval = "1s"', 'interval = "1x"'), "line 7: [[probe]] 1 key 'interval': interval '1x'"),
        (GOOD.replace('target = "198.51.100.7"', 'target = ""'), "line 11: [[probe]] 2 key 'target': target is empty"),
        (GOOD.replace('source = "host"\n', ""), "line 9: [[probe]] 2: 'source' is missing"),
        (GOOD.replace("interval = 5", "interval = 5\ncount = 3"), "line 13: [[probe]] 2 key 'count': unknown key"),
        (GOOD.replace("interval = 5", "interval = 0.1"), "[[probe]] 2 key 'interval': interval 0.1 is out of range"),
        (GOOD.replace('target = "app2"', 'target = "300.1.1.1"'), "[[probe]] 1 key 'target'"),
        (GOOD.replace('target = "app2"', "target = 7"), "[[probe]] 1 key 'target': 7 is not a string"),
        (GOOD + '[[matrix]]\ninterval = "30s"\n', "line 13: [[matrix]] 1: 'network' is missing"),
        (GOOD.replace("[counters]", "[counter]"), "line 1: 'counter': there is no section 'counter'"),
        ('[counters]\ninterval = "0s"\n', "line 2: [counters] key 'interval'"),
        ("probe = 3\n", "'probe' must be an array of tables"),
    ],
)
def test_a_mistake_is_one_sentence_naming_where(text, expected):
    with pytest.raises(UsageError) as caught:
        parse(text, "netcon.toml")
    message = str(caught.value)
    assert message.startswith("netcon.toml") and expected.lower() in message.lower(), message
    assert "\n" not in message


def test_files_that_are_not_configs(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load(str(tmp_path / "missing.toml"))
    with pytest.raises(UsageError, match="is a directory"):
        load(str(tmp_path))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\x00\x01")
    with pytest.raises(UsageError, match="binary"):
        load(str(binary))
