"""The event pipeline, end to end: MQTT publish -> PostgreSQL -> confirmed
fan-out, against a real broker with the plugin and a real PostgreSQL."""

import json
import threading
import time
import uuid

import pytest

from harness import Broker, Client, event


def test_submit_is_acked_with_seq_fanned_out_and_stored(broker, postgres):
    dashboard = broker.client("restaurant_owner", ["r1"])
    assert dashboard.subscribe("fynlo/v1/ev/r1/full/#") == [1]
    till = broker.client("staff", ["r1"], sub="alice")
    e = event(created_by="mallory", seq=99)

    ack = till.submit("r1", e)

    assert ack["status"] == "accepted" and isinstance(ack["seq"], int) and ack["seq"] >= 1
    topic, payload, _ = dashboard.next_message(topic_filter="fynlo/v1/ev/r1/full/#")
    confirmed = json.loads(payload)
    assert topic == "fynlo/v1/ev/r1/full/order/created"
    assert confirmed["id"] == e["id"] and confirmed["seq"] == ack["seq"]
    assert confirmed["restaurant"] == "r1" and confirmed["created_by"] == "alice"
    assert confirmed["metadata"] == {"device": "till-2", "client_id": till.client_id}
    assert confirmed["payload"] == e["payload"] and "recorded_at" in confirmed
    rows = postgres.query("SELECT restaurant, seq, created_by, event_type, aggregate_id FROM events WHERE id = %s", e["id"])
    assert rows == [("r1", ack["seq"], "alice", "order.created", e["aggregate_id"])]
    till.close()
    dashboard.close()


def test_resubmitted_id_returns_the_original_seq_and_stores_one_row(broker, postgres):
    till = broker.client("staff", ["r1"])
    e = event()
    first = till.submit("r1", e)
    second = till.submit("r1", dict(e, payload={"status": "open", "total": 1, "items": []}))
    assert first["status"] == second["status"] == "accepted"
    assert second["seq"] == first["seq"]
    assert postgres.query("SELECT count(*) FROM events WHERE id = %s", e["id"]) == [(1,)]
    till.close()


def rejection(client, topic, payload, event_id=None):
    client.publish(topic, payload)
    _, body, _ = client.next_message(topic_filter=f"fynlo/v1/client/{client.client_id}/ack")
    ack = json.loads(body)
    assert ack["status"] == "rejected", ack
    assert ack["id"] == event_id
    assert ack["reason"]
    return ack["code"]


@pytest.mark.parametrize("payload, code", [
    (b"{not json", "invalid"),
    (b"\xff\xfe{}", "invalid"),
    (b"[1, 2]", "invalid"),
    (b'{"id": "a", "id": "b"}', "invalid"),
])
def test_unparseable_submissions_are_invalid(broker, payload, code):
    till = broker.client("staff", ["r1"])
    assert rejection(till, "fynlo/v1/in/r1/order/created", payload) == code
    till.close()


@pytest.mark.parametrize("change, reason_word", [
    ({"id": None}, "id"),
    ({"id": "not-a-uuid"}, "id"),
    ({"aggregate_id": 42}, "aggregate_id"),
    ({"event_type": "order.updated"}, "event_type"),
    ({"payload": "text"}, "payload"),
    ({"metadata": [1]}, "metadata"),
    ({"correlation_id": "nope"}, "correlation_id"),
    ({"created_at": "yesterday"}, "created_at"),
])
def test_ill_typed_fields_are_invalid(broker, postgres, change, reason_word):
    till = broker.client("staff", ["r1"])
    e = event()
    e.update(change)
    if change.get("id", "") is None:
        del e["id"]
    till.publish("fynlo/v1/in/r1/order/created", e)
    _, body, _ = till.next_message(topic_filter=f"fynlo/v1/client/{till.client_id}/ack")
    ack = json.loads(body)
    assert ack["status"] == "rejected" and ack["code"] == "invalid"
    assert reason_word in ack["reason"]
    if isinstance(e.get("id"), str) and len(e["id"]) == 36:
        assert postgres.query("SELECT count(*) FROM events WHERE id = %s", e["id"]) == [(0,)]
    till.close()


def test_too_large_event_is_refused_with_its_id(broker):
    till = broker.client("staff", ["r1"])
    e = event(payload={"status": "open", "total": 1, "items": [], "note": "x" * 70000})
    assert rejection(till, "fynlo/v1/in/r1/order/created", json.dumps(e), e["id"]) == "too_large"
    till.close()


def test_other_restaurant_is_forbidden_and_nothing_is_stored(broker, postgres):
    till = broker.client("staff", ["r1"])
    e = event()
    assert rejection(till, "fynlo/v1/in/r2/order/created", json.dumps(e), e["id"]) == "forbidden"
    assert postgres.query("SELECT count(*) FROM events WHERE id = %s", e["id"]) == [(0,)]
    till.close()


def test_malformed_submission_topic_is_invalid(broker):
    till = broker.client("staff", ["r1"])
    e = event()
    assert rejection(till, "fynlo/v1/in/r1/order", json.dumps(e), e["id"]) == "invalid"
    till.close()


def test_mqtt311_client_gets_its_ack_and_retain_is_ignored(broker):
    till = broker.client("staff", ["r1"], version=3)
    e = event()
    till.publish("fynlo/v1/in/r1/order/created", json.dumps(e), retain=True)
    ack = till.ack_for(e["id"])
    assert ack["status"] == "accepted"
    late = broker.client("platform_owner", None)
    late.subscribe("fynlo/v1/ev/+/full/#")
    assert late.drain(0.5) == []
    till.close()
    late.close()


def test_1000_events_from_4_clients_get_gap_free_seqs(postgres):
    b = Broker(postgres)
    try:
        tills = [b.client("staff", ["load"], sub=f"till-{i}") for i in range(4)]
        acks = [dict() for _ in tills]

        def run(index):
            till = tills[index]
            events = [event() for _ in range(250)]
            for e in events:
                till.publish("fynlo/v1/in/load/order/created", e)
            for e in events:
                ack = till.ack_for(e["id"], timeout=30)
                acks[index][e["id"]] = ack

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        all_acks = {k: v for a in acks for k, v in a.items()}
        assert len(all_acks) == 1000
        assert all(a["status"] == "accepted" for a in all_acks.values())
        assert sorted(a["seq"] for a in all_acks.values()) == list(range(1, 1001))
        stored = dict(postgres.query("SELECT id::text, seq FROM events WHERE restaurant = 'load'"))
        assert stored == {k: v["seq"] for k, v in all_acks.items()}
        for till in tills:
            till.close()
    finally:
        b.assert_clean_exit()
        b.destroy()


def test_restaurants_spread_over_writers_keep_their_order(postgres):
    """With several writers, each restaurant's events still get seqs in
    submission order, gap-free, and different restaurants all get through."""
    b = Broker(postgres, options={"writers": 3})
    try:
        rids = [f"w{i}" for i in range(8)]
        till = b.client("staff", rids, sub="till-w")
        sent = {rid: [] for rid in rids}
        for n in range(400):
            rid = rids[n % len(rids)]
            e = event()
            sent[rid].append(e["id"])
            till.publish(f"fynlo/v1/in/{rid}/order/created", e)
        acks = {}
        deadline = time.time() + 30
        while len(acks) < 400:
            _, payload, _ = till.next_message(max(0.01, deadline - time.time()), f"fynlo/v1/client/{till.client_id}/ack")
            ack = json.loads(payload)
            acks[ack["id"]] = ack
        for rid in rids:
            seqs = [acks[event_id]["seq"] for event_id in sent[rid]]
            assert seqs == list(range(1, 51)), (rid, seqs)
        stored = postgres.query("SELECT restaurant, count(*), max(seq) FROM events WHERE restaurant LIKE 'w%%' GROUP BY 1")
        assert sorted(stored) == [(rid, 50, 50) for rid in rids]
        assert "writers 3" in b.read_log()
        till.close()
    finally:
        b.assert_clean_exit()
        b.destroy()


def test_postgres_outage_answers_unavailable_then_recovers_without_restart(postgres):
    b = Broker(postgres, options={"commit_timeout_ms": 800})
    try:
        till = b.client("staff", ["outage"])
        watcher = b.client("restaurant_owner", ["outage"])
        watcher.subscribe("fynlo/v1/ev/outage/full/#")
        outcomes = {}

        def submit_all(count):
            for _ in range(count):
                e = event()
                outcomes[e["id"]] = till.submit("outage", e, timeout=15)

        submit_all(20)
        postgres.stop()
        submit_all(5)
        assert all(outcomes[k]["code"] == "unavailable" for k in list(outcomes)[20:]), list(outcomes.values())[20:]
        postgres.start()
        deadline = time.time() + 15
        retried = [k for k, v in outcomes.items() if v["status"] != "accepted"]
        while retried and time.time() < deadline:
            for event_id in list(retried):
                e = event()
                e["id"] = event_id
                ack = till.submit("outage", e, timeout=15)
                outcomes[event_id] = ack
                if ack["status"] == "accepted":
                    retried.remove(event_id)
            time.sleep(0.2)
        assert not retried, "the hub did not recover after PostgreSQL came back"
        submit_all(10)

        accepted = {k: v["seq"] for k, v in outcomes.items()}
        assert all(v["status"] == "accepted" for v in outcomes.values())
        stored = dict(postgres.query("SELECT id::text, seq FROM events WHERE restaurant = 'outage'"))
        assert stored == accepted
        assert sorted(stored.values()) == list(range(1, len(stored) + 1))
        assert "PostgreSQL is unreachable" in b.read_log()
        assert "reachable again" in b.read_log()
        till.close()
        watcher.close()
    finally:
        b.assert_clean_exit()
        b.destroy()


def test_seq_continues_after_broker_restart(postgres):
    b = Broker(postgres)
    try:
        till = b.client("staff", ["restart"])
        first = till.submit("restart", event())
        till.close()
        b.assert_clean_exit()
        b.start()
        till = b.client("staff", ["restart"])
        second = till.submit("restart", event())
        assert second["status"] == "accepted" and second["seq"] == first["seq"] + 1
        till.close()
    finally:
        b.assert_clean_exit()
        b.destroy()


def test_metrics_are_retained_for_the_platform_owner_only(broker):
    owner = broker.client("platform_owner", None)
    assert owner.subscribe("fynlo/v1/sys/metrics") == [1]
    _, payload, retained = owner.next_message(7, "fynlo/v1/sys/metrics")
    assert retained and {"at", "queued", "answered", "unavailable", "batches"} <= set(json.loads(payload))
    _, payload, _ = owner.next_message(7, "fynlo/v1/sys/metrics")   # the next 5 s refresh
    metrics = json.loads(payload)
    assert metrics["store_up"] is True and metrics["clients"] >= 1
    staff = broker.client("staff", ["r1"])
    assert staff.subscribe("fynlo/v1/sys/metrics")[0] >= 0x80
    owner.close()
    staff.close()
