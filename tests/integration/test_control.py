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


# ---------------------------------------------------------------------------
# defect 7: no silence for requests that do not exist

@pytest.mark.parametrize("topic, verb", [
    ("fynlo/v1/ctl/bogus", "bogus"),
    ("fynlo/v1/ctl/resume/x", "resume/x"),
    ("fynlo/v1/ctl/", ""),
    ("fynlo/v1/ctl", ""),
])
def test_unknown_control_verbs_are_answered_invalid(broker, topic, verb):
    client = broker.client("staff", ["r1"])
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


def test_the_bare_submission_topic_is_answered_invalid(broker):
    client = broker.client("staff", ["r1"])
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


# ---------------------------------------------------------------------------
# defect 4: fair service under a flood

FLOOD_SNAPSHOTS = 300
FLOOD_RESUMES = 50


def timed(client, topic, request, done_kind, timeout=120):
    """Seconds from publishing request to the client's first reply of
    done_kind (replay.done for a resume, snapshot for a snapshot); the reply
    must not be an error."""
    start = time.monotonic()
    client.publish(topic, request)
    got = read_until(client, lambda t, d: kind(client, t) in (done_kind, "error"), timeout)
    assert kind(client, got[-1][0]) == done_kind, got[-1]
    return time.monotonic() - start


def victim_latencies(victim, stream):
    snapshot_s = timed(victim, "fynlo/v1/ctl/snapshot", {"stream": stream}, "snapshot")
    replay_s = timed(victim, "fynlo/v1/ctl/resume", {"streams": {stream: 0}}, "replay.done")
    return snapshot_s, replay_s


def test_a_flood_of_requests_does_not_starve_another_restaurant(postgres):
    """One staff client floods a 5,000-order restaurant with 300 snapshots
    and 50 resumes from 0; another restaurant's snapshot and replay are
    still answered within 1 s, the flood's excess is answered busy at once,
    and every one of the flood's requests gets exactly one answer."""
    b = Broker(postgres)
    try:
        big, small = rid("flood"), rid("victim")
        append_directly(b, postgres, big, orders(5000))
        fill(b, small, 20)
        victim = b.client("staff", [small])
        quiet = victim_latencies(victim, small)
        drain(victim)

        flooder = b.client("staff", [big])
        for _ in range(FLOOD_RESUMES):
            flooder.publish("fynlo/v1/ctl/resume", {"streams": {big: 0}}, qos=0)
        for _ in range(FLOOD_SNAPSHOTS):
            flooder.publish("fynlo/v1/ctl/snapshot", {"stream": big}, qos=0)
        time.sleep(0.5)   # the whole flood is at the hub
        flooded = victim_latencies(victim, small)
        print(f"\nvictim latency, snapshot / replay: quiet {quiet[0] * 1000:.0f} / {quiet[1] * 1000:.0f} ms, "
              f"under the flood {flooded[0] * 1000:.0f} / {flooded[1] * 1000:.0f} ms")

        answers = {"snapshot": [], "resume": []}

        def all_answered(topic, doc):
            k = kind(flooder, topic)
            if k == "snapshot" or (k == "error" and doc["verb"] == "snapshot"):
                answers["snapshot"].append(doc.get("code", "ok"))
            elif k == "replay.done" or (k == "error" and doc["verb"] == "resume"):
                answers["resume"].append(doc.get("code", "ok"))
            return len(answers["snapshot"]) == FLOOD_SNAPSHOTS and len(answers["resume"]) == FLOOD_RESUMES

        read_until(flooder, all_answered, timeout=180)
        late = drain(flooder, 1.0)
        assert not [d for t, d in late if kind(flooder, t) is not None], late   # exactly one answer each
        busy = {verb: codes.count("busy") for verb, codes in answers.items()}
        print(f"flood answered: snapshots {answers['snapshot'].count('ok')} served, {busy['snapshot']} busy; "
              f"resumes {answers['resume'].count('ok')} served, {busy['resume']} busy")
        assert set(answers["snapshot"]) == {"ok", "busy"} and set(answers["resume"]) == {"ok", "busy"}, answers
        assert flooded[0] < 1.0 and flooded[1] < 1.0, flooded
        # answered requests no longer count: the flooder is served again
        assert timed(flooder, "fynlo/v1/ctl/snapshot", {"stream": big}, "snapshot", timeout=15) < 15
        victim.close()
        flooder.close()
    finally:
        b.stop()
        b.destroy()
