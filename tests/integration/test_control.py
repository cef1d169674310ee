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


# ---------------------------------------------------------------------------
# defect 1: PostgreSQL restarts and outages

def test_reads_right_after_a_postgres_restart_are_answered(postgres):
    b = Broker(postgres)
    try:
        r = rid("restart")
        fill(b, r, 5)
        client = b.client("staff", [r])
        client.publish("fynlo/v1/ctl/snapshot", {"stream": r})   # both readers hold a connection now
        assert answer(client)[0] == "snapshot"
        client.publish("fynlo/v1/ctl/resume", {"streams": {r: 0}})
        assert answer(client)[0] == "replay.done"
        drain(client)

        postgres.stop("fast")
        postgres.start()
        start = time.time()
        client.publish("fynlo/v1/ctl/resume", {"streams": {r: 0}})
        got = read_until(client, lambda t, d: kind(client, t) in ("replay.done", "error"), timeout=10)
        assert kind(client, got[-1][0]) == "replay.done", got[-1]
        assert [d["seq"] for t, d in got if t.startswith("fynlo/v1/ev/")] == [1, 2, 3, 4, 5]
        assert got[-1][1]["head"] == 5
        client.publish("fynlo/v1/ctl/snapshot", {"stream": r})
        k, doc = answer(client, timeout=10)
        assert k == "snapshot" and doc["head"] == 5, doc
        assert time.time() - start < 10
        assert drain(client) == []
        client.close()
    finally:
        b.stop()
        b.destroy()


def test_reads_while_postgres_is_down_are_answered_unavailable(postgres):
    b = Broker(postgres)
    try:
        r = rid("down")
        fill(b, r, 3)
        client = b.client("staff", [r])
        postgres.stop("fast")
        try:
            client.publish("fynlo/v1/ctl/resume", {"streams": {r: 0}})
            k, doc = answer(client, timeout=15)
            assert k == "error" and doc["code"] == "unavailable" and doc["stream"] == r, doc
            assert doc["verb"] == "resume"
            client.publish("fynlo/v1/ctl/snapshot", {"stream": r})
            k, doc = answer(client, timeout=15)
            assert k == "error" and doc["code"] == "unavailable" and doc["verb"] == "snapshot", doc
            assert drain(client) == []
        finally:
            postgres.start()
        client.publish("fynlo/v1/ctl/resume", {"streams": {r: 0}})
        got = read_until(client, lambda t, d: kind(client, t) in ("replay.done", "error"), timeout=15)
        assert kind(client, got[-1][0]) == "replay.done" and got[-1][1]["head"] == 3, got[-1]
        client.close()
    finally:
        b.stop()
        b.destroy()
