"""Cross-node fan-out (docs/scale.md): two brokers on one PostgreSQL. Each
publishes every confirmed event to its own subscribers, whichever broker
accepted it, in seq order and exactly once, also when both take
submissions for one restaurant at the same time, and also when the
database's notification never comes."""

import json
import os
import threading
import time
import urllib.request

import psycopg2
import pytest

from harness import Broker, event

LONG = os.environ.get("FYNSYNC_LONG") == "1"


@pytest.fixture(scope="module")
def nodes(postgres):
    secret = os.urandom(32).hex()
    started = []
    try:
        for _ in range(2):
            started.append(Broker(postgres, secret=secret))
        yield started
        for b in started:
            b.assert_clean_exit()
    finally:
        for b in started:
            b.destroy()


def events_of(client, rid, count, timeout=20):
    """The next count confirmed events of rid (full view), as received."""
    out = []
    deadline = time.time() + timeout
    while len(out) < count:
        _, payload, _ = client.next_message(max(0.01, deadline - time.time()), f"fynlo/v1/ev/{rid}/full/#")
        out.append(json.loads(payload))
    return out


def stored(postgres, rid):
    return postgres.query("SELECT seq, id::text FROM events WHERE restaurant = %s ORDER BY seq", rid)


def metrics(broker):
    """The node's unlabelled samples (but for node) from GET /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{broker.metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {line.split("{", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if not line.startswith("#") and "{node=" in line and "," not in line.split("}", 1)[0]}


def metrics_after(broker, until, timeout=5):
    """The metrics once until(metrics) holds (the endpoint's snapshot is
    renewed once a second), or the last ones."""
    deadline = time.time() + timeout
    while True:
        m = metrics(broker)
        if until(m) or time.time() > deadline:
            return m
        time.sleep(0.2)


def delivered_by_writer(m):
    """Events published on the writer's path, when committed: those carry
    their submission's receipt time (the delivery latency histogram), those
    published later from the event log do not."""
    return m["fynsync_delivery_latency_seconds_count"]




def test_an_event_accepted_on_one_node_reaches_subscribers_of_the_other(nodes, postgres):
    a, b = nodes
    kds_b = b.client("restaurant_owner", ["x1"], sub="kds-b")
    kds_a = a.client("restaurant_owner", ["x1"], sub="kds-a")
    kds_b.subscribe("fynlo/v1/ev/x1/full/#")
    kds_a.subscribe("fynlo/v1/ev/x1/full/#")
    till_a = a.client("staff", ["x1"], sub="till-a")
    till_b = b.client("staff", ["x1"], sub="till-b")
    before = [metrics(n) for n in nodes]

    first = till_a.submit("x1", event())
    second = till_b.submit("x1", event())

    assert first["status"] == second["status"] == "accepted"
    for kds in (kds_a, kds_b):
        got = events_of(kds, "x1", 2)
        assert [e["seq"] for e in got] == [first["seq"], second["seq"]]
        assert kds.drain(0.5) == []   # once each
    # Each node's follower published the other's event, told by a notification.
    # Both commits notify both nodes, but a node's own notification may come
    # after it has published the other's event: wait for both counters.
    for n, was in zip(nodes, before):
        m = metrics_after(n, lambda m, was=was: (
            m["fynsync_fanout_events_total"] > was["fynsync_fanout_events_total"]
            and m["fynsync_fanout_notifications_total"] - was["fynsync_fanout_notifications_total"] >= 2))
        assert m["fynsync_fanout_events_total"] - was["fynsync_fanout_events_total"] == 1
        assert m["fynsync_fanout_notifications_total"] - was["fynsync_fanout_notifications_total"] >= 2
        assert 0 <= m["fynsync_fanout_lag_seconds"] < 5   # recorded_at has milliseconds: 0 is possible
        assert delivered_by_writer(m) - delivered_by_writer(was) == 1   # its own, from its writer
    for c in (kds_a, kds_b, till_a, till_b):
        c.close()


def test_the_other_node_publishes_in_each_view(nodes):
    a, b = nodes
    staff_b = b.client("staff", ["x2"], sub="staff-b")
    staff_b.subscribe("fynlo/v1/ev/x2/redacted/#")
    till_a = a.client("staff", ["x2"], sub="till-a")
    ack = till_a.submit("x2", event())
    _, payload, _ = staff_b.next_message(10, "fynlo/v1/ev/x2/redacted/#")
    assert json.loads(payload)["seq"] == ack["seq"]
    assert b"cost" not in payload
    staff_b.close()
    till_a.close()


def test_concurrent_submission_to_both_nodes_is_seen_in_seq_order_exactly_once_on_each(nodes, postgres):
    a, b = nodes
    per_till = 400 if LONG else 100
    subscribers = [n.client("restaurant_owner", ["x3"], sub=f"kds-{i}") for i, n in enumerate(nodes)]
    for s in subscribers:
        s.subscribe("fynlo/v1/ev/x3/full/#")
    tills = [n.client("staff", ["x3"], sub=f"till-{i}-{j}") for i, n in enumerate(nodes) for j in range(2)]
    acks = {}

    def run(till):
        pending = [event() for _ in range(per_till)]
        for e in pending:
            till.publish("fynlo/v1/in/x3/order/created", e)
        for e in pending:
            acks[e["id"]] = till.ack_for(e["id"], timeout=30)

    threads = [threading.Thread(target=run, args=(t,)) for t in tills]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert all(ack["status"] == "accepted" for ack in acks.values())
    log = stored(postgres, "x3")
    assert len(log) == len(tills) * per_till
    assert sorted(acks[i]["seq"] for _, i in log) == [s for s, _ in log]
    for s in subscribers:
        got = events_of(s, "x3", len(log), timeout=30)
        # In seq order and exactly once, without even dropping duplicates.
        assert [(e["seq"], e["id"]) for e in got] == log
        assert s.drain(0.5) == []
    for c in subscribers + tills:
        c.close()


def test_an_event_whose_notification_never_comes_is_still_published_by_every_node(nodes, postgres):
    """Stored with triggers off (session_replication_role = replica), so no
    NOTIFY is sent: both nodes find it when they compare the heads."""
    subscribers = [n.client("restaurant_owner", ["x4"], sub=f"kds-{i}") for i, n in enumerate(nodes)]
    for s in subscribers:
        s.subscribe("fynlo/v1/ev/x4/full/#")
    before = [metrics(n) for n in nodes]
    stored_event = store_without_notification(postgres, "x4")
    for s in subscribers:
        got = events_of(s, "x4", 1, timeout=15)
        assert (got[0]["id"], got[0]["seq"]) == stored_event
    for n, was in zip(nodes, before):   # found by a periodic heads comparison, counted as a gap
        m = metrics_after(n, lambda m: m["fynsync_fanout_gap_polls_total"] > was["fynsync_fanout_gap_polls_total"])
        assert m["fynsync_fanout_gap_polls_total"] > was["fynsync_fanout_gap_polls_total"]
    for s in subscribers:
        s.close()

def store_without_notification(postgres, rid):
    deadline = time.time() + 20   # the brokers migrate the database as they connect
    while not postgres.query("SELECT to_regclass('schema_migrations') IS NOT NULL "
                             "AND to_regprocedure('fynsync_heads(timestamptz)') IS NOT NULL")[0][0]:
        assert time.time() < deadline, "the brokers did not migrate the database"
        time.sleep(0.1)
    e = event()
    element = dict(e, restaurant=rid, created_by="backfill")
    with psycopg2.connect(postgres.conninfo) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        cur.execute("SELECT status, seq FROM fynsync_append(%s::jsonb)", (json.dumps([element]),))
        status, seq = cur.fetchone()
    assert status == "accepted"
    return e["id"], seq


def test_a_new_nodes_own_events_go_out_live_from_its_first_commit(postgres, nodes):
    """Last but one: it stops the module's PostgreSQL. A node that starts
    while the database is away has no baseline yet (where each stream's live
    fan-out begins) when the database comes back, and its follower is still
    backing off (up to 1 s). Its writer takes the baseline itself before its
    first append, so the first event goes out live when committed, in order
    after the stream's earlier events, and once."""
    past_id, _ = store_without_notification(postgres, "x6")   # the stream has a past, for resume only
    postgres.stop()
    late = Broker(postgres)
    try:
        kds = late.client("restaurant_owner", ["x6"], sub="kds-first")
        kds.subscribe("fynlo/v1/ev/x6/full/#")
        till = late.client("staff", ["x6"], sub="till-first")
        time.sleep(2)   # the follower's backoff grows to its longest
        postgres.start()
        before = delivered_by_writer(metrics(late))
        first = event()
        ack = till.submit("x6", first, timeout=20)
        assert ack["status"] == "accepted"
        got = events_of(kds, "x6", 1, timeout=10)
        assert (got[0]["id"], got[0]["seq"]) == (first["id"], ack["seq"]) and past_id != first["id"]
        m = metrics_after(late, lambda m: delivered_by_writer(m) > before)
        assert delivered_by_writer(m) == before + 1, "published late, from the event log"
        assert m["fynsync_fanout_events_total"] == 0
        assert kds.drain(1.5) == []   # once: the follower, back, does not publish it again
        for n in nodes:   # the older nodes' followers lost PostgreSQL and came back
            assert metrics_after(n, lambda m: m["fynsync_fanout_reconnects_total"] >= 1)["fynsync_fanout_reconnects_total"] >= 1
        till.close()
        kds.close()
        late.assert_clean_exit()
    finally:
        late.destroy()


def test_a_node_started_while_the_database_was_away_publishes_what_was_stored_since(postgres, nodes):
    """Last: it stops the module's PostgreSQL. The event is stored before
    the new node's follower first reaches the database, so taking the heads
    of that moment as the start would skip it."""
    before_id, _ = store_without_notification(postgres, "x5")
    time.sleep(0.5)   # clearly before the node's start
    postgres.stop()
    late = Broker(postgres)
    try:
        kds = late.client("restaurant_owner", ["x5"], sub="kds-late")
        kds.subscribe("fynlo/v1/ev/x5/full/#")
        postgres.start()
        after = store_without_notification(postgres, "x5")
        got = events_of(kds, "x5", 1, timeout=15)
        assert (got[0]["id"], got[0]["seq"]) == after
        assert before_id not in [e["id"] for e in got + [json.loads(p) for _, p, _ in kds.drain(1)]]
        kds.close()
        late.assert_clean_exit()
    finally:
        late.destroy()

