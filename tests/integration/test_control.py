"""Every ctl/* request gets exactly one answer (issue 11, defects 1, 4, 7):
the result, or an error {"verb", "code", "reason"} on
fynlo/v1/client/{cid}/error that the client can act on: after a PostgreSQL
restart, while PostgreSQL is down, for verbs and topics that do not exist,
and while another client floods the hub with requests (fair service: the
flood's excess is answered `busy` and other restaurants are served within
a second)."""

import json
import time
import uuid

import pytest

from harness import Broker, event
from test_resume import append_directly, drain, fill, kind, orders, read_until, rid


def answer(client, timeout=15):
    """The next message on the client's own reply topics: (kind, doc)."""
    got = read_until(client, lambda t, d: kind(client, t) is not None, timeout)
    topic, doc = got[-1]
    return kind(client, topic), doc


@pytest.fixture(scope="module")
def own_broker(postgres):
    b = Broker(postgres)
    yield b
    b.assert_clean_exit()
    b.destroy()


# ---------------------------------------------------------------------------
# defect 7: no silence for requests that do not exist

@pytest.mark.parametrize("topic, verb", [
    ("fynlo/v1/ctl/bogus", "bogus"),
    ("fynlo/v1/ctl/resume/x", "resume/x"),
    ("fynlo/v1/ctl/", ""),
    ("fynlo/v1/ctl", ""),
])
def test_unknown_control_verbs_are_answered_invalid(own_broker, topic, verb):
    client = own_broker.client("staff", ["r1"])
    try:
        client.publish(topic, {"streams": {"r1": 0}})
        got = drain(client, 1.0)
        assert len(got) == 1, got
        assert got[0][0] == f"fynlo/v1/client/{client.client_id}/error"
        error = got[0][1]
        assert error == {"verb": verb, "code": "invalid", "reason": error["reason"]}
        assert "unknown" in error["reason"]
    finally:
        client.close()


def test_the_bare_submission_topic_is_answered_invalid(own_broker):
    client = own_broker.client("staff", ["r1"])
    try:
        e = event()
        client.publish("fynlo/v1/in", e)
        got = drain(client, 1.0)
        assert [kind(client, t) for t, _ in got] == ["ack"], got
        ack = got[0][1]
        assert ack["id"] == e["id"] and ack["status"] == "rejected" and ack["code"] == "invalid", ack
        assert "fynlo/v1/in/" in ack["reason"]
    finally:
        client.close()
