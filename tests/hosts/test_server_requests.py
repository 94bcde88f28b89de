"""``netcon serve --stdio`` run for real (on this machine, no SSH needed): a request it cannot serve is answered
at once under the request's own id, so a newer client asking an older netcon (e.g. for a trace's part) gets
one sentence instead of waiting for its timeout."""

from __future__ import annotations

import json
import subprocess
import sys


def ask(*requests: dict) -> list[dict]:
    lines = "".join(json.dumps(r) + "\n" for r in requests)
    done = subprocess.run(
        [sys.executable, "-m", "netcon.cli", "--read-only", "serve", "--stdio"],
        input=lines,
        capture_output=True,
        text=True,
        timeout=30,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert answers[0]["netcon"] == "netcon-stdio"  # the greeting
    return answers[1:]


def test_an_unknown_operation_is_answered_under_its_id():
    (answer,) = ask({"id": 7, "op": "trace_hops_v9", "args": {}})
    assert answer["id"] == 7 and answer["error"]["kind"] == "ProtocolError"
    assert "'trace_hops_v9' is not served by netcon" in answer["error"]["message"]


def test_bad_arguments_and_a_bad_trace_request_are_answered_under_their_ids():
    answers = ask({"id": 3, "op": "snapshot", "args": [1]}, {"id": 4, "op": "trace_walk", "args": {"leg": {"x": 1}}})
    by_id = {a["id"]: a for a in answers}
    assert by_id[3]["error"]["message"] == "Bad request: the arguments of snapshot are not an object."
    assert by_id[4]["error"]["message"].startswith("Bad trace request: Leg lacks its field")


def test_a_bad_whole_trace_request_is_one_sentence_and_a_bad_name_is_the_traces_own():
    """The console's Trace pane on a host read over SSH asks for a whole trace: a malformed ask, and an ask for
    a container that does not exist (refused by the trace itself, before anything is sent)."""
    answers = ask(
        {"id": 5, "op": "trace", "args": {"ask": {"src": "a"}}},
        {"id": 6, "op": "trace", "args": {"ask": {"src": "no-such-container-x9", "dst": "198.18.0.1"}}},
    )
    by_id = {a["id"]: a for a in answers}
    assert by_id[5]["error"]["message"].startswith("Bad trace request: TraceAsk lacks its field")
    assert by_id[6]["error"]["kind"] in ("NotFound", "UsageError"), by_id[6]
    assert "no-such-container-x9" in by_id[6]["error"]["message"]


def test_capture_requests_are_checked_there_and_allowed_read_only():
    """A capture is a read: a read-only netcon serves it (on lo here; the stream ends with the input). A bad
    request, a bad filter or a bad cap is one sentence under the request's id, and nothing is opened."""
    answers = ask(
        {"id": 1, "op": "capture", "args": {"request": {"targets": "lo"}}},
        {"id": 2, "op": "capture", "args": {"request": {"targets": ["lo"], "filter": "icmp andd"}}},
        {"id": 3, "op": "capture", "args": {"request": {"targets": ["lo"], "max_pps": 0}}},
        {"id": 4, "op": "capture", "args": {"request": {"targets": ["lo"], "filter": "icmp", "max_pps": 50}}},
    )
    by_id = {a["id"]: a for a in answers if "event" not in a}
    assert by_id[1]["error"]["message"].startswith("Bad capture request: expected a list")
    assert by_id[2]["error"]["kind"] == "UsageError" and "can't parse filter expression" in by_id[2]["error"]["message"]
    assert by_id[3]["error"]["kind"] == "UsageError" and "--max-pps 0" in by_id[3]["error"]["message"]
    started = by_id[4]["result"]
    assert [e["ifname"] for e in started["endpoints"]] == ["lo"]
    assert (started["expression"], started["max_pps"], started["max_bytes"]) == ("icmp", 50, 1 << 20)
