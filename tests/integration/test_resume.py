"""ctl/resume and ctl/snapshot end to end: a real broker with the plugin and a
real PostgreSQL. A client that missed events asks for them with its last seq
and must get exactly those, in seq order, in its own view, then carry on live.

Each test uses restaurant ids of its own so that the module's broker and
database can be shared."""

import json
import os
import queue
import threading
import time
import uuid

import pytest

from harness import SOURCE_DIR, Broker, event

SENSITIVE = ("cost", "profit_margin")


# ---------------------------------------------------------------------------
# helpers

def rid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def read_until(client, done, timeout=15):
    """Parsed messages (topic, doc) in arrival order until done(topic, doc)
    holds for one of them (included); TimeoutError otherwise."""
    out = []
    deadline = time.time() + timeout
    while True:
        remaining = deadline - time.time()
        if remaining <= 0:
            raise TimeoutError(f"condition not met within {timeout}s; got {len(out)} messages, "
                               f"last: {out[-3:]}")
        try:
            topic, payload, _ = client.messages.get(timeout=remaining)
        except queue.Empty:
            continue
        doc = json.loads(payload)
        out.append((topic, doc))
        if done(topic, doc):
            return out


def drain(client, quiet=0.5):
    return [(t, json.loads(p)) for t, p, _ in client.drain(quiet)]


def kind(client, topic):
    """'ack', 'replay.done', 'snapshot', 'error' for the client's own topics, else None."""
    prefix = f"fynlo/v1/client/{client.client_id}/"
    return topic[len(prefix):] if topic.startswith(prefix) else None


def is_event(topic):
    return topic.startswith("fynlo/v1/ev/")


def submit_all(client, rid_, events, timeout=60):
    """Publishes every event at once (pipelined) and waits for all the acks;
    the client must not receive anything else. Returns {id: ack}."""
    for e in events:
        domain, action = e["event_type"].split(".", 1)
        client.publish(f"fynlo/v1/in/{rid_}/{domain}/{action}", e)
    wanted = {e["id"] for e in events}
    acks = {}
    deadline = time.time() + timeout
    while wanted - acks.keys():
        remaining = deadline - time.time()
        assert remaining > 0, f"{len(wanted - acks.keys())} acks missing"
        topic, payload, _ = client.messages.get(timeout=remaining)
        assert kind(client, topic) == "ack", topic
        ack = json.loads(payload)
        acks[ack["id"]] = ack
    return acks


def orders(n, prefix="o"):
    return [event("order.created", aggregate_id=f"{prefix}-{i}-{uuid.uuid4().hex[:4]}",
                  payload={"status": "open", "total": 100 + i,
                           "items": [{"item_id": "burger", "qty": 1, "price": 100 + i, "cost": 40}]})
            for i in range(n)]


def fill(broker, rid_, n, role="restaurant_owner"):
    """n accepted order.created events in stream rid_; returns the acks in submission order."""
    till = broker.client(role, [rid_])
    try:
        events = orders(n)
        acks = {}
        # In chunks below SmallQueueBroker's max_queued_messages (1000): a
        # till slow to take 1,500 pipelined acks would have some dropped.
        for i in range(0, n, 500):
            acks.update(submit_all(till, rid_, events[i:i + 500]))
        assert all(acks[e["id"]]["status"] == "accepted" for e in events)
        return [acks[e["id"]] for e in events]
    finally:
        till.close()


def append_directly(broker, postgres, rid_, events, created_by="backlog"):
    """Appends events to stream rid_ through the store's fynsync_append, in
    batches of 500 as the writer thread would (much quicker than MQTT for a
    large backlog). A snapshot first makes the hub connect, which migrates
    the database."""
    owner = broker.client("restaurant_owner", [rid_])
    snapshot(owner, rid_)
    owner.close()
    conn = postgres.connect()
    try:
        with conn.cursor() as cur:
            for start in range(0, len(events), 500):
                batch = [{"restaurant": rid_, "created_by": created_by, "client_id": "seed",
                          "id": e["id"], "aggregate_id": e["aggregate_id"], "event_type": e["event_type"],
                          "correlation_id": None, "payload": e["payload"], "metadata": None,
                          "created_at": e["created_at"]} for e in events[start:start + 500]]
                cur.execute("SELECT count(*) FROM fynsync_append(%s::jsonb) WHERE status = 'accepted'",
                            (json.dumps(batch),))
                assert cur.fetchone()[0] == len(batch)
    finally:
        conn.close()


def resume(client, streams):
    client.publish("fynlo/v1/ctl/resume", {"streams": streams})


def replay(client, streams, timeout=30):
    """Sends a resume and collects until a replay.done (or error) came for
    every stream. Returns (replayed events [(topic, doc)], done {stream: doc},
    everything else [(topic, doc)])."""
    resume(client, streams)
    done = {}

    def finished(topic, doc):
        assert not (kind(client, topic) == "error" and "stream" not in doc), doc
        if kind(client, topic) in ("replay.done", "error") and doc.get("stream") in streams:
            done[doc["stream"]] = dict(doc, kind=kind(client, topic))
        return set(done) == set(streams)

    got = read_until(client, finished, timeout)
    replayed = [(t, d) for t, d in got if is_event(t) and d.get("replay") is True]
    other = [(t, d) for t, d in got if not (is_event(t) and d.get("replay") is True)
             and kind(client, t) not in ("replay.done",)]
    return replayed, done, other


def snapshot(client, stream, views=None, timeout=15):
    request = {"stream": stream}
    if views is not None:
        request["views"] = views
    client.publish("fynlo/v1/ctl/snapshot", request)
    got = read_until(client, lambda t, d: kind(client, t) in ("snapshot", "error"), timeout)
    topic, doc = got[-1]
    assert kind(client, topic) == "snapshot", doc
    return doc, got[:-1]


def keys_at_any_depth(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from keys_at_any_depth(v)
    elif isinstance(value, list):
        for v in value:
            yield from keys_at_any_depth(v)


def event_topic(rid_, view, event_type):
    domain, action = event_type.split(".", 1)
    return f"fynlo/v1/ev/{rid_}/{view}/{domain}/{action}"


def apply_orders(state, doc):
    """Applies one confirmed order event to {order_id: merged order}."""
    if doc["event_type"] == "order.created":
        state[doc["aggregate_id"]] = dict(doc["payload"])
    elif doc["event_type"] == "order.updated":
        state[doc["aggregate_id"]].update(doc["payload"])


# ---------------------------------------------------------------------------
# resume

def test_reconnecting_client_gets_exactly_the_500_it_missed_in_order_then_live(broker, postgres):
    r = rid("miss")
    pos = broker.client("staff", [r], sub="pos-1")
    assert pos.subscribe(f"fynlo/v1/ev/{r}/redacted/#") == [1]
    office = broker.client("manager", [r], sub="office")
    first = submit_all(office, r, orders(3))
    seen = read_until(pos, lambda t, d: is_event(t) and d["seq"] == max(a["seq"] for a in first.values()))
    last_seq = max(d["seq"] for t, d in seen if is_event(t))
    pos.close()

    # 500 events of several types while the till is away: new orders, updates
    # of them, menu changes (with cost) and inventory counts.
    missed = []
    created = []
    for i in range(500):
        if i % 5 == 0 or not created:
            e = event("order.created", aggregate_id=f"m-{i}",
                      payload={"status": "open", "total": i, "items": [{"item_id": "x", "cost": 3}]})
            created.append(e["aggregate_id"])
        elif i % 5 == 1:
            e = event("order.updated", aggregate_id=created[-1], payload={"status": "preparing", "note": f"n{i}"})
        elif i % 5 == 2:
            e = event("menu.updated", aggregate_id=f"item-{i}",
                      payload={"item_id": f"item-{i}", "name": "Soup", "price": 450, "cost": 120})
        elif i % 5 == 3:
            e = event("inventory.adjusted", aggregate_id="buns", payload={"item_id": "buns", "delta": 1})
        else:
            e = event("kitchen.note", aggregate_id="k", payload={"text": f"t{i}", "profit_margin": 0.4})
        missed.append(e)
    office.close()
    owner = broker.client("restaurant_owner", [r], sub="owner")   # may write kitchen.* too
    acks = submit_all(owner, r, missed)
    assert all(a["status"] == "accepted" for a in acks.values()), [a for a in acks.values() if a["status"] != "accepted"][:3]
    by_seq = {acks[e["id"]]["seq"]: e for e in missed}
    head = max(by_seq)
    assert sorted(by_seq) == list(range(last_seq + 1, last_seq + 501))

    pos = broker.client("staff", [r], sub="pos-1", client_id=pos.client_id)
    assert pos.subscribe(f"fynlo/v1/ev/{r}/redacted/#") == [1]
    started = time.time()
    replayed, done, other = replay(pos, {r: last_seq})
    elapsed = time.time() - started
    print(f"\nreplay of 500 events to one client: {elapsed * 1000:.0f} ms")

    assert other == []
    assert done[r] == {"stream": r, "head": head, "kind": "replay.done"}
    assert [d["seq"] for _, d in replayed] == list(range(last_seq + 1, head + 1))
    for topic, doc in replayed:
        sent = by_seq[doc["seq"]]
        assert topic == event_topic(r, "redacted", sent["event_type"])
        assert doc["id"] == sent["id"] and doc["event_type"] == sent["event_type"]
        assert doc["restaurant"] == r and doc["created_by"] == "owner" and doc["replay"] is True
        assert not set(SENSITIVE) & set(keys_at_any_depth(doc["payload"])), doc
    assert elapsed < 15

    # and then live, without the replay mark
    more = orders(3)
    acks = submit_all(owner, r, more)
    live = read_until(pos, lambda t, d: is_event(t) and d["seq"] == head + 3)
    assert [d["seq"] for t, d in live] == [head + 1, head + 2, head + 3]
    assert all("replay" not in d for _, d in live)
    assert drain(pos) == []
    owner.close()
    pos.close()


def test_resume_from_zero_replays_everything_and_from_head_nothing(broker):
    r = rid("zero")
    acks = fill(broker, r, 40)
    head = acks[-1]["seq"]
    assert head == 40
    reader = broker.client("manager", [r])

    replayed, done, other = replay(reader, {r: 0})
    assert [d["seq"] for _, d in replayed] == list(range(1, 41))
    assert [d["id"] for _, d in replayed] == [a["id"] for a in acks]
    assert done[r]["head"] == 40 and "snapshot_required" not in done[r] and other == []

    replayed, done, other = replay(reader, {r: head})
    assert replayed == [] and other == []
    assert done[r] == {"stream": r, "head": 40, "kind": "replay.done"}

    # a client that claims more than the hub has (say a restored database):
    # nothing to send, and the real head
    replayed, done, other = replay(reader, {r: head + 100})
    assert replayed == [] and done[r] == {"stream": r, "head": 40, "kind": "replay.done"}

    # a stream with no events at all: nothing, head 0
    empty = rid("empty")
    owner = broker.client("restaurant_owner", [empty])
    replayed, done, other = replay(owner, {empty: 0})
    assert replayed == [] and done[empty]["head"] == 0 and other == []
    assert drain(reader) == [] and drain(owner) == []
    reader.close()
    owner.close()


def test_resume_beyond_max_replay_asks_for_a_snapshot(postgres):
    b = Broker(postgres, options={"max_replay": 50})
    try:
        r = rid("far")
        fill(b, r, 60)
        client = b.client("staff", [r])
        replayed, done, other = replay(client, {r: 0})
        assert replayed == [] and other == []
        assert done[r] == {"stream": r, "head": 60, "snapshot_required": True, "kind": "replay.done"}

        # 51 missing: still too many; exactly 50 missing: replayed
        replayed, done, _ = replay(client, {r: 9})
        assert replayed == [] and done[r].get("snapshot_required") is True
        replayed, done, _ = replay(client, {r: 10})
        assert [d["seq"] for _, d in replayed] == list(range(11, 61))
        assert done[r] == {"stream": r, "head": 60, "kind": "replay.done"}
        assert drain(client) == []
        client.close()
    finally:
        b.assert_clean_exit()
        b.destroy()


def test_replays_go_out_at_most_at_replay_rate_and_stay_complete(postgres):
    """replay_rate 1000: 1,500 events are three pages of 500, the second
    starts 0.5 s after the first and the third 1.0 s after it, so the
    replay cannot end sooner (a lower bound only: a slow machine is later,
    never earlier). Two clients share the one schedule."""
    b = Broker(postgres, options={"replay_rate": 1000})
    try:
        r = rid("paced")
        append_directly(b, postgres, r, orders(1500))
        first, second = b.client("staff", [r]), b.client("staff", [r])
        started = time.monotonic()
        replayed, done, _ = replay(first, {r: 0})
        assert time.monotonic() - started >= 1.0
        assert [d["seq"] for _, d in replayed] == list(range(1, 1501))
        assert done[r]["head"] == 1500

        # 750 each at once: 1,500 events through one schedule, again >= 1 s.
        started = time.monotonic()
        resume(first, {r: 750})
        replayed, done, _ = replay(second, {r: 750})
        elapsed_second = time.monotonic() - started
        rest = read_until(first, lambda t, d: kind(first, t) == "replay.done")
        assert max(elapsed_second, time.monotonic() - started) >= 1.0
        assert [d["seq"] for _, d in replayed] == list(range(751, 1501))
        assert [d["seq"] for t, d in rest if is_event(t)] == list(range(751, 1501))
        for c in (first, second):
            c.close()
    finally:
        b.assert_clean_exit()
        b.destroy()


def test_snapshot_then_resume_from_its_head_equals_a_full_replay(broker):
    r = rid("snap")
    owner = broker.client("restaurant_owner", [r], sub="owner")
    ids = [f"s{i}" for i in range(40)]
    acks = submit_all(owner, r, [event("order.created", aggregate_id=o,
                                       payload={"status": "open", "total": 100, "items": []}) for o in ids])
    assert all(a["status"] == "accepted" for a in acks.values())

    # updates keep arriving while another client takes its snapshot
    def workload():
        # each order goes as far as its final status (n % 5); completed ones
        # get one more update, which the store refuses
        paths = [[], ["preparing"], ["preparing", "ready"], ["preparing", "ready", "completed", "ready"],
                 ["preparing", "cancelled"]]
        evs = []
        for step in range(4):
            for n, o in enumerate(ids):
                path = paths[n % 5]
                if step < len(path):
                    evs.append(event("order.updated", aggregate_id=o,
                                     payload={"status": path[step], "step": step, "total": 100 + step}))
        for chunk in range(0, len(evs), 10):
            part = submit_all(owner, r, evs[chunk:chunk + 10])
            assert all(a["status"] == "accepted" or a["code"] == "conflict" for a in part.values())
            time.sleep(0.02)

    worker = threading.Thread(target=workload)
    late = broker.client("manager", [r])
    worker.start()
    time.sleep(0.1)
    snap, _ = snapshot(late, r)
    worker.join()
    submit_all(owner, r, [event("order.created", aggregate_id="s-final", payload={"status": "open", "total": 1})])

    assert snap["stream"] == r and snap["view"] == "redacted"
    assert 40 <= snap["head"]
    from_snapshot = {o["order_id"]: {k: v for k, v in o.items()
                                    if k not in ("order_id", "created_seq", "updated_seq", "created_at",
                                                 "updated_at", "completed_at")}
                     for o in snap["orders"]}
    replayed, done, other = replay(late, {r: snap["head"]})
    assert other == []
    for _, doc in replayed:
        apply_orders(from_snapshot, doc)

    full = broker.client("manager", [r])
    replayed_all, done_all, _ = replay(full, {r: 0})
    assert done_all[r]["head"] == done[r]["head"]
    from_log = {}
    for _, doc in replayed_all:
        apply_orders(from_log, doc)

    assert set(from_snapshot) == set(from_log) == set(ids) | {"s-final"}
    assert {o: v["status"] for o, v in from_snapshot.items()} == {o: v["status"] for o, v in from_log.items()}
    # the merged orders agree too (snapshot adds default items: [] where absent)
    for o in from_log:
        assert {k: v for k, v in from_snapshot[o].items() if k != "items"} == \
               {k: v for k, v in from_log[o].items() if k != "items"}, o
    # and the statuses actually varied
    assert {v["status"] for v in from_log.values()} == {"open", "preparing", "ready", "completed", "cancelled"}
    for c in (owner, late, full):
        c.close()


def sensitive_workload(r):
    menu = [event("menu.updated", aggregate_id="burger",
                  payload={"item_id": "burger", "name": "Burger", "price": 1250, "cost": 410,
                           "profit_margin": 0.67, "supplier": {"cost": 300, "terms": [{"profit_margin": 1}]}})]
    orders_ = [event("order.created", aggregate_id=f"{r}-o{i}",
                     payload={"status": "open", "total": 2500,
                              "items": [{"item_id": "burger", "qty": 2, "price": 1250, "cost": 410,
                                         "extras": [{"name": "cheese", "cost": 20, "profit_margin": 0.9}]}],
                              "analytics": {"profit_margin": 0.5, "deep": [{"x": {"cost": 1}}]}})
               for i in range(3)]
    update = [event("order.updated", aggregate_id=f"{r}-o0",
                    payload={"status": "completed", "profit_margin": 0.61,
                             "items": [{"item_id": "burger", "qty": 2, "price": 1250, "cost": 415}]})]
    inventory = [event("inventory.adjusted", aggregate_id="buns",
                       payload={"item_id": "buns", "level": 3, "low_threshold": 5, "cost": 12})]
    return menu + orders_ + update + inventory


@pytest.mark.parametrize("writer_role", ["restaurant_owner", "manager"])
def test_staff_replay_and_snapshot_have_no_cost_at_any_depth_owner_has(broker, writer_role):
    r = rid("redact")
    writer = broker.client(writer_role, [r])
    acks = submit_all(writer, r, sensitive_workload(r))
    assert all(a["status"] == "accepted" for a in acks.values()), acks
    head = max(a["seq"] for a in acks.values()) + 1   # + the generated inventory.low
    writer.close()

    staff = broker.client("staff", [r])
    replayed, done, _ = replay(staff, {r: 0})
    assert done[r]["head"] == head and len(replayed) == head
    assert {d["event_type"] for _, d in replayed} >= {"menu.updated", "order.created", "order.updated",
                                                      "inventory.adjusted", "inventory.low"}
    for topic, doc in replayed:
        assert "/redacted/" in topic
        assert not set(SENSITIVE) & set(keys_at_any_depth(doc)), doc
    snap, _ = snapshot(staff, r)
    assert snap["view"] == "redacted" and snap["menu"] and snap["orders"] and snap["inventory"]
    assert not set(SENSITIVE) & set(keys_at_any_depth(snap)), snap
    assert snap["menu"][0]["supplier"] == {"terms": [{}]}

    owner = broker.client("restaurant_owner", [r])
    replayed, done, _ = replay(owner, {r: 0})
    assert len(replayed) == head and all("/full/" in t for t, _ in replayed)
    full_keys = set(keys_at_any_depth([d for _, d in replayed]))
    assert set(SENSITIVE) <= full_keys
    order = next(d for _, d in replayed if d["event_type"] == "order.created")
    assert order["payload"]["items"][0]["extras"][0] == {"name": "cheese", "cost": 20, "profit_margin": 0.9}
    snap, _ = snapshot(owner, r)
    assert snap["view"] == "full"
    assert snap["menu"][0]["cost"] == 410 and snap["menu"][0]["supplier"]["terms"] == [{"profit_margin": 1}]
    assert set(SENSITIVE) <= set(keys_at_any_depth(snap["orders"]))
    staff.close()
    owner.close()


def test_kitchen_display_resumes_the_order_events_it_may_read(broker):
    """The kitchen role reads only ev/{rid}/redacted/order/#: a rebooted
    kitchen display must still be able to catch up on the orders."""
    r = rid("kds")
    owner = broker.client("restaurant_owner", [r])
    evs = orders(3) + [event("menu.updated", aggregate_id="soup", payload={"item_id": "soup", "price": 1})]
    acks = submit_all(owner, r, evs)
    owner.close()
    kds = broker.client("kitchen", [r])
    replayed, done, other = replay(kds, {r: 0})
    assert done[r]["kind"] == "replay.done", done[r]
    assert done[r]["head"] == 4
    assert [d["event_type"] for _, d in replayed] == ["order.created"] * 3
    assert [d["seq"] for _, d in replayed] == [acks[e["id"]]["seq"] for e in evs[:3]]
    assert other == []
    assert all(t.startswith(f"fynlo/v1/ev/{r}/redacted/order/") for t, _ in replayed)

    # its snapshot holds what it may read: the orders, not the menu, sales or staff
    snap, _ = snapshot(kds, r)
    assert snap["head"] == 4 and len(snap["orders"]) == 3
    assert not {"menu", "inventory", "sales", "employees"} & set(snap)
    kds.publish("fynlo/v1/ctl/snapshot", {"stream": r, "views": ["employees"]})
    got = read_until(kds, lambda t, d: kind(kds, t) in ("error", "snapshot"))
    assert kind(kds, got[-1][0]) == "error" and "forbidden" in got[-1][1]["reason"]

    # and another restaurant stays forbidden
    kds.publish("fynlo/v1/ctl/resume", {"streams": {rid("elsewhere"): 0}})
    got = read_until(kds, lambda t, d: kind(kds, t) in ("error", "replay.done"))
    assert kind(kds, got[-1][0]) == "error" and "forbidden" in got[-1][1]["reason"]
    kds.close()


# ---------------------------------------------------------------------------
# refusals

def test_resume_of_a_restaurant_not_in_the_token_is_forbidden_and_replays_nothing(broker):
    r, other_r = rid("mine"), rid("theirs")
    fill(broker, r, 2)
    fill(broker, other_r, 5)
    staff = broker.client("staff", [r])
    resume(staff, {other_r: 0})
    got = read_until(staff, lambda t, d: kind(staff, t) == "error")
    got += drain(staff, 1.0)
    assert len(got) == 1, got
    error = got[0][1]
    assert error == {"verb": "resume", "code": "forbidden", "stream": other_r, "reason": error["reason"]}
    assert "forbidden" in error["reason"], error
    staff.close()


def test_forbidden_stream_in_a_mixed_resume(broker):
    r, other_r = rid("mine"), rid("theirs")
    fill(broker, r, 2)
    fill(broker, other_r, 5)
    staff = broker.client("staff", [r])
    resume(staff, {other_r: 0, r: 0})
    got = read_until(staff, lambda t, d: kind(staff, t) == "replay.done")
    got += drain(staff)
    errors = [d for t, d in got if kind(staff, t) == "error"]
    assert len(errors) == 1 and errors[0]["verb"] == "resume" and "forbidden" in errors[0]["reason"], errors
    assert errors[0]["stream"] == other_r     # which of the streams was refused
    evs = [d for t, d in got if is_event(t)]
    assert [(d["restaurant"], d["seq"]) for d in evs] == [(r, 1), (r, 2)]
    assert all(other_r not in t for t, _ in got if is_event(t))
    staff.close()


@pytest.mark.parametrize("payload, words", [
    ({"streams": ["r1"]}, "streams"),
    ({"streams": "r1"}, "streams"),
    ({}, "streams"),
    ({"streams": {}}, "streams"),
    ({"streams": {"STREAM": -1}}, "seq"),
    ({"streams": {"STREAM": 1.5}}, "seq"),
    ({"streams": {"STREAM": "5"}}, "seq"),
    ({"streams": {"STREAM": None}}, "seq"),
    ({"streams": {"bad/id": 0}}, "stream"),
    ({"streams": {"a+b": 0}}, "stream"),
    ({"streams": {"": 0}}, "stream"),
    ({"streams": {"x" * 65: 0}}, "stream"),
    (b"{not json", "JSON"),
    (b"[1]", "JSON"),
])
def test_malformed_resume_is_answered_with_an_error_and_the_broker_survives(broker, payload, words):
    r = rid("bad")
    fill(broker, r, 1)
    client = broker.client("staff", [r])
    if isinstance(payload, dict):
        payload = json.loads(json.dumps(payload).replace("STREAM", r))
    client.publish("fynlo/v1/ctl/resume", payload)
    got = read_until(client, lambda t, d: kind(client, t) == "error")
    got += drain(client)
    errors = [d for t, d in got if kind(client, t) == "error"]
    assert len(errors) == 1, got
    assert errors[0]["verb"] == "resume" and words.lower() in errors[0]["reason"].lower(), errors
    assert errors[0]["code"] == "invalid", errors
    # a problem with one stream names it; a problem with the whole request does not
    streams = payload.get("streams") if isinstance(payload, dict) else None
    if isinstance(streams, dict) and streams:
        assert errors[0]["stream"] == next(iter(streams)), errors
    else:
        assert "stream" not in errors[0], errors
    assert not [t for t, _ in got if is_event(t) or kind(client, t) == "replay.done"]
    # still serving
    replayed, done, _ = replay(client, {r: 0})
    assert len(replayed) == 1 and done[r]["head"] == 1
    assert broker.process.poll() is None
    client.close()


def test_malformed_snapshot_requests_are_errors(broker):
    r = rid("badsnap")
    fill(broker, r, 1)
    client = broker.client("staff", [r])
    theirs = rid("theirs")
    for request, stream, code in (({}, None, "invalid"), ({"stream": 5}, None, "invalid"),
                                  ({"stream": r, "views": "orders"}, None, "invalid"),
                                  ({"stream": "no/such"}, "no/such", "invalid"), ({"stream": theirs}, theirs, "forbidden")):
        client.publish("fynlo/v1/ctl/snapshot", request)
        got = read_until(client, lambda t, d: kind(client, t) in ("error", "snapshot"))
        assert kind(client, got[-1][0]) == "error" and got[-1][1]["verb"] == "snapshot", (request, got)
        assert got[-1][1].get("stream") == stream and got[-1][1]["reason"], got
        assert got[-1][1]["code"] == code, got
    snap, _ = snapshot(client, r, views=["orders"])
    assert snap["head"] == 1 and len(snap["orders"]) == 1
    assert "menu" not in snap and "inventory" not in snap
    client.close()


# ---------------------------------------------------------------------------
# several streams, concurrency, ordering

def test_multi_stream_resume_answers_replay_done_for_each(broker):
    a, b = rid("ma"), rid("mb")
    fill(broker, a, 7)
    fill(broker, b, 12)
    manager = broker.client("manager", [a, b])
    replayed, done, other = replay(manager, {a: 0, b: 3})
    assert other == []
    assert done[a] == {"stream": a, "head": 7, "kind": "replay.done"}
    assert done[b] == {"stream": b, "head": 12, "kind": "replay.done"}
    assert [d["seq"] for _, d in replayed if d["restaurant"] == a] == list(range(1, 8))
    assert [d["seq"] for _, d in replayed if d["restaurant"] == b] == list(range(4, 13))
    assert all(t.startswith(f"fynlo/v1/ev/{d['restaurant']}/redacted/") for t, d in replayed)
    manager.close()


def test_platform_owner_and_platform_stream_resume(broker):
    a, b = rid("pa"), rid("pb")
    fill(broker, a, 3)
    fill(broker, b, 2)
    platform = broker.client("platform_owner", None, sub="ops")
    announcement = event("platform.announcement", aggregate_id="notice",
                         payload={"text": "maintenance tonight", "cost": 0})
    assert platform.submit("platform", announcement)["status"] == "accepted"
    replayed, done, other = replay(platform, {a: 0, b: 0, "platform": 0})
    assert other == []
    assert done[a]["head"] == 3 and done[b]["head"] == 2 and done["platform"]["head"] >= 1
    assert all("/full/" in t for t, _ in replayed)
    mine = [(t, d) for t, d in replayed if d["id"] == announcement["id"]]
    assert len(mine) == 1
    assert mine[0][0] == "fynlo/v1/ev/platform/full/platform/announcement"
    assert mine[0][1]["payload"]["cost"] == 0

    staff = broker.client("staff", [a])
    replayed, done, other = replay(staff, {"platform": done["platform"]["head"] - 1})
    assert [(t, d["id"]) for t, d in replayed] == [
        ("fynlo/v1/ev/platform/redacted/platform/announcement", announcement["id"])]
    assert replayed[0][1]["payload"] == {"text": "maintenance tonight"}
    platform.close()
    staff.close()


def test_live_events_during_a_large_replay_are_delivered_too(broker, postgres):
    r = rid("big")
    # the 3000-event backlog goes straight through the store's append, in
    # batches as the writer thread would, to keep the test quick
    append_directly(broker, postgres, r, orders(3000))

    pos = broker.client("staff", [r])
    assert pos.subscribe(f"fynlo/v1/ev/{r}/redacted/#") == [1]
    till = broker.client("staff", [r], sub="till-2")
    live_acks = {}
    stop = threading.Event()

    def keep_submitting():
        while not stop.is_set() and len(live_acks) < 400:
            part = submit_all(till, r, orders(10, prefix="live"))
            live_acks.update(part)

    worker = threading.Thread(target=keep_submitting)
    worker.start()
    time.sleep(0.05)
    resume(pos, {r: 0})
    got = read_until(pos, lambda t, d: kind(pos, t) == "replay.done", timeout=60)
    stop.set()
    worker.join()
    final_head = max(a["seq"] for a in live_acks.values())
    if not any(is_event(t) and d["seq"] == final_head for t, d in got):
        got += read_until(pos, lambda t, d: is_event(t) and d["seq"] == final_head, timeout=20)
    got += drain(pos)

    done = [d for t, d in got if kind(pos, t) == "replay.done"]
    replayed = [d["seq"] for t, d in got if is_event(t) and d.get("replay")]
    live = [d["seq"] for t, d in got if is_event(t) and not d.get("replay")]
    assert len(done) == 1 and "snapshot_required" not in done[0]
    assert replayed == sorted(replayed) and len(set(replayed)) == len(replayed)
    assert replayed[:3000] == list(range(1, 3001))
    assert replayed[-1] == done[0]["head"]
    assert live == sorted(live) and len(set(live)) == len(live)
    assert live, "no live event arrived"
    assert set(replayed) | set(live) == set(range(1, final_head + 1))
    assert all(a["status"] == "accepted" for a in live_acks.values())
    print(f"\n3000-event replay with {len(live_acks)} live events submitted meanwhile; "
          f"{len(set(replayed) & set(live))} seqs came both ways")
    pos.close()
    till.close()


class SmallQueueBroker(Broker):
    """A broker whose clients' queues hold max_queued messages (the harness
    uses 100000)."""

    def __init__(self, postgres, max_queued, **kwargs):
        self.max_queued = max_queued
        super().__init__(postgres, **kwargs)

    def _config(self):
        path = super()._config()
        with open(path) as f:
            text = f.read()
        assert "max_queued_messages 100000" in text
        with open(path, "w") as f:
            f.write(text.replace("max_queued_messages 100000", f"max_queued_messages {self.max_queued}"))
        return path


def test_shipped_config_keeps_the_client_queue_above_max_replay():
    """mosquitto drops a client's messages past max_queued_messages and
    plugins cannot see that queue: docs/protocol.md relies on the deployment
    keeping it above max_replay."""
    with open(os.path.join(SOURCE_DIR, "mosquitto.conf")) as f:
        settings = dict(line.split(None, 1) for line in f.read().splitlines()
                        if line.strip() and not line.startswith("#") and len(line.split(None, 1)) == 2)
    assert int(settings["max_queued_messages"]) > int(settings.get("plugin_opt_max_replay", 50000))


def slow_consumer(client, seconds=0.001):
    """Makes client take each message slowly, like a busy tablet, so that
    its queue in the broker fills up."""
    take = client.mqtt.on_message

    def slowly(*args):
        time.sleep(seconds)
        take(*args)

    client.mqtt.on_message = slowly


@pytest.fixture(scope="module")
def small_queue_broker(postgres):
    b = SmallQueueBroker(postgres, 1000, options={"max_replay": 900})
    yield b
    b.assert_clean_exit()
    b.destroy()


def test_a_max_replay_backlog_reaches_a_slow_client_with_a_small_queue(small_queue_broker, postgres):
    """The documented deployment rule (queue above max_replay) is enough for
    one stream, even for a client that takes its messages slowly."""
    b = small_queue_broker
    a = rid("slow")
    append_directly(b, postgres, a, orders(900))
    client = b.client("staff", [a])
    slow_consumer(client)
    replayed, done, _ = replay(client, {a: 0}, timeout=15)
    assert [d["seq"] for _, d in replayed] == list(range(1, 901))
    assert done[a] == {"stream": a, "head": 900, "kind": "replay.done"}
    client.close()


def test_one_resume_replays_at_most_max_replay_across_its_streams(small_queue_broker, postgres):
    """Several streams share one max_replay budget, so a whole request fits in
    the client's queue (kept above max_replay) even if it takes nothing: the
    streams beyond the budget are told to take a snapshot instead."""
    b = small_queue_broker
    a, c = rid("qa"), rid("qb")
    append_directly(b, postgres, a, orders(900))
    append_directly(b, postgres, c, orders(900))
    client = b.client("staff", [a, c])
    slow_consumer(client)
    try:
        replayed, done, _ = replay(client, {a: 0, c: 0}, timeout=15)
        assert set(done) == {a, c}
        full = [s for s in (a, c) if not done[s].get("snapshot_required")]
        assert len(full) == 1, done
        other = c if full == [a] else a
        assert done[other]["snapshot_required"] is True and done[other]["head"] == 900
        assert sorted(d["seq"] for _, d in replayed) == list(range(1, 901))
        assert {d["restaurant"] for _, d in replayed} == set(full)
    finally:
        client.close()


def test_a_subscriber_that_falls_behind_loses_live_events_and_recovers_them_by_resume(small_queue_broker):
    """Past max_queued_messages (here 1000) mosquitto drops a client's live
    messages ("Outgoing messages are being dropped for client ..."); the
    events stay stored, so the client, seeing a gap in seq, resumes from the
    last seq it has and gets exactly what it lost (docs/operations.md)."""
    b = small_queue_broker
    r = rid("behind")
    watcher = b.client("restaurant_owner", [r])
    take = watcher.mqtt.on_message
    reading = threading.Event()

    def blocked(*args):
        reading.wait(60)     # the client takes nothing while 1,500 events go by
        take(*args)

    watcher.mqtt.on_message = blocked
    assert watcher.subscribe(f"fynlo/v1/ev/{r}/full/#") == [1]
    fill(b, r, 1500)
    reading.set()
    live = sorted(d["seq"] for t, d in drain(watcher, quiet=1.0) if is_event(t))
    assert len(live) < 1500 and live[:10] == list(range(1, 11)), live[:20]
    assert "Outgoing messages are being dropped for client " + watcher.client_id in b.read_log()
    have = next(s for s in live if s + 1 not in live)     # last seq before the first gap
    replayed, done, _ = replay(watcher, {r: have})
    assert done[r] == {"stream": r, "head": 1500, "kind": "replay.done"}
    assert sorted(set(live) | {d["seq"] for _, d in replayed}) == list(range(1, 1501))
    watcher.close()


def test_out_of_order_created_at_is_delivered_and_replayed_in_seq_order(broker):
    r = rid("clock")
    watcher = broker.client("manager", [r])
    assert watcher.subscribe(f"fynlo/v1/ev/{r}/redacted/#") == [1]
    till = broker.client("staff", [r])
    evs = []
    for i in range(30):
        # created_at runs backwards, and jumps about: an offline till's old events
        minute = (59 - i * 7) % 60
        evs.append(event("order.created", aggregate_id=f"late-{i}",
                         payload={"status": "open", "total": i, "items": []},
                         created_at=f"2026-11-28T{10 + i % 3:02d}:{minute:02d}:00.000Z"))
    acks = submit_all(till, r, evs)
    seqs = [acks[e["id"]]["seq"] for e in evs]
    assert seqs == list(range(1, 31))           # seq follows arrival, not created_at

    live = read_until(watcher, lambda t, d: is_event(t) and d["seq"] == 30)
    assert [d["seq"] for _, d in live] == list(range(1, 31))
    assert [d["created_at"] for _, d in live] == [e["created_at"] for e in evs]
    replayed, done, _ = replay(watcher, {r: 0})
    assert [d["seq"] for _, d in replayed] == list(range(1, 31))
    assert [d["id"] for _, d in replayed] == [e["id"] for e in evs]
    till.close()
    watcher.close()
