"""The conflict rules and projections, through MQTT against a real broker and
PostgreSQL: acks (with a reason a person can act on), live events, snapshots
and the projection tables, and a rebuild of the projections from the log.

Each test uses restaurant ids of its own so that the module's broker and
database can be shared."""

import json
import os
import re
import subprocess
import threading
import time

from harness import SOURCE_DIR, event
from test_resume import drain, is_event, kind, read_until, replay, rid, snapshot, submit_all


def order_created(order_id, total=1000, **extra):
    payload = {"status": "open", "total": total,
               "items": [{"item_id": "burger", "qty": 1, "price": total, "cost": 410}]}
    payload.update(extra)
    return event("order.created", aggregate_id=order_id, payload=payload)


def order_updated(order_id, **fields):
    return event("order.updated", aggregate_id=order_id, payload=fields)


def one(client, r, e):
    return submit_all(client, r, [e])[e["id"]]


def assert_conflict(ack, *words):
    assert ack["status"] == "rejected" and ack["code"] == "conflict", ack
    assert "seq" not in ack
    for word in words:
        assert word in ack["reason"], ack


def snapshot_orders(client, r):
    snap, _ = snapshot(client, r, views=["orders"])
    return {o["order_id"]: o for o in snap["orders"]}


def projection_order(postgres, r, order_id):
    rows = postgres.query("SELECT status, total, data FROM orders WHERE restaurant = %s AND order_id = %s",
                          r, order_id)
    return rows[0] if rows else None


# ---------------------------------------------------------------------------
# orders

def test_order_rules_create_twice_merge_completed_and_unknown(broker, postgres):
    r = rid("rules")
    till = broker.client("staff", [r], sub="alice")

    created = order_created("o1", total=1000, table=4)
    assert one(till, r, created)["status"] == "accepted"
    again = order_created("o1", total=5)
    assert_conflict(one(till, r, again), "o1", "already exists")

    assert one(till, r, order_updated("o1", status="preparing", note="no onions"))["status"] == "accepted"
    assert one(till, r, order_updated("o1", total=1200))["status"] == "accepted"
    order = snapshot_orders(till, r)["o1"]
    assert order["status"] == "preparing" and order["total"] == 1200
    assert order["table"] == 4 and order["note"] == "no onions"
    assert order["items"] == [{"item_id": "burger", "qty": 1, "price": 1000}]   # staff: no cost
    assert projection_order(postgres, r, "o1")[:2] == ("preparing", 1200)
    assert projection_order(postgres, r, "o1")[2]["items"][0]["cost"] == 410

    assert one(till, r, order_updated("o1", status="completed"))["status"] == "accepted"
    late = order_updated("o1", note="extra ketchup")
    assert_conflict(one(till, r, late), "o1", "completed")
    assert_conflict(one(till, r, order_updated("o1", status="open")), "completed")
    assert_conflict(one(till, r, order_updated("ghost", status="ready")), "ghost", "does not exist")
    assert_conflict(one(till, r, order_created("o1")), "already exists")

    # a resubmitted rejection gets the same answer; nothing was stored for any of them
    assert one(till, r, late) == one(till, r, dict(late, payload={"note": "changed"}))
    assert postgres.query("SELECT count(*) FROM events WHERE restaurant = %s", r) == [(4,)]
    status, total, data = projection_order(postgres, r, "o1")
    assert (status, total, data["note"]) == ("completed", 1200, "no onions")
    assert projection_order(postgres, r, "ghost") is None

    # a cancelled order is not final (only completed is)
    assert one(till, r, order_created("o2"))["status"] == "accepted"
    assert one(till, r, order_updated("o2", status="cancelled"))["status"] == "accepted"
    assert one(till, r, order_updated("o2", status="open"))["status"] == "accepted"
    assert projection_order(postgres, r, "o2")[0] == "open"
    till.close()


def test_invalid_order_fields_are_rejected_with_the_field_named(broker):
    r = rid("inv")
    till = broker.client("staff", [r])
    for payload, word in [({"status": "open", "items": []}, "total"),
                          ({"status": "eaten", "total": 1}, "eaten"),
                          ({"total": 1.5}, "total"),
                          ({"total": 1, "items": {}}, "items")]:
        ack = one(till, r, event("order.created", aggregate_id="x", payload=payload))
        assert ack["status"] == "rejected" and ack["code"] == "invalid" and word in ack["reason"], (payload, ack)
    till.close()


def collect(client, r, own_ids, head, timeout=30):
    """Reads until the client has an ack for each of own_ids and has seen
    event seq head (live or replayed). Returns (acks {id: ack}, events [doc])."""
    acks, events = {}, []

    def done(topic, doc):
        if kind(client, topic) == "ack":
            acks[doc["id"]] = doc
        elif is_event(topic):
            events.append(doc)
        return own_ids <= acks.keys() and any(e["seq"] == head for e in events)

    read_until(client, done, timeout)
    return acks, events


def fold(events):
    """A till's state of its orders, built from confirmed events in seq order
    (dropping seqs it already has)."""
    state, seen = {}, set()
    for e in sorted(events, key=lambda d: d["seq"]):
        if e["seq"] in seen or not e["event_type"].startswith("order."):
            continue
        seen.add(e["seq"])
        if e["event_type"] == "order.created":
            state[e["aggregate_id"]] = dict(e["payload"])
        else:
            state[e["aggregate_id"]].update(e["payload"])
    return {o: (v["status"], v.get("note")) for o, v in state.items()}


def test_two_tills_racing_complete_and_update_agree_with_the_store(broker, postgres):
    r = rid("race")
    ids = [f"race-{i}" for i in range(20)]
    till_a = broker.client("staff", [r], sub="till-a")
    till_b = broker.client("staff", [r], sub="till-b")
    for till in (till_a, till_b):
        assert till.subscribe(f"fynlo/v1/ev/{r}/redacted/#") == [1]
    owner = broker.client("restaurant_owner", [r])
    assert all(a["status"] == "accepted" for a in submit_all(owner, r, [order_created(o) for o in ids]).values())

    # till A completes the orders first to last while till B updates them
    # last to first, one message each per step, in lockstep: the early orders
    # are completed before B's update gets there, the late ones updated before
    # A's completion, and those in the middle race
    completes = {o: order_updated(o, status="completed", paid_by="card") for o in ids}
    updates = {o: order_updated(o, status="ready", note=f"note-{o}") for o in ids}
    step = threading.Barrier(2)

    def send(till, evs):
        for e in evs:
            step.wait()
            till.publish(f"fynlo/v1/in/{r}/order/updated", e)
            time.sleep(0.005)   # one message per step on the wire, not a burst per till

    threads = [threading.Thread(target=send, args=(till_a, [completes[o] for o in ids])),
               threading.Thread(target=send, args=(till_b, [updates[o] for o in reversed(ids)]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.2)
    head = postgres.query("SELECT head FROM restaurants WHERE id = %s", r)[0][0]
    acks_a, events_a = collect(till_a, r, {e["id"] for e in completes.values()}, head)
    acks_b, events_b = collect(till_b, r, {e["id"] for e in updates.values()}, head)

    outcomes = {}
    for o in ids:
        done, upd = acks_a[completes[o]["id"]], acks_b[updates[o]["id"]]
        assert done["status"] == "accepted", done           # nothing else completes it
        if upd["status"] == "accepted":
            assert upd["seq"] < done["seq"], (o, upd, done)  # the update came first
            outcomes[o] = "updated then completed"
        else:
            assert_conflict(upd, o, "completed")             # it came after the completion
            outcomes[o] = "completed, update refused"
    assert set(outcomes.values()) == {"updated then completed", "completed, update refused"}, outcomes
    assert head == len(ids) + len(ids) + sum(v == "updated then completed" for v in outcomes.values())

    # both tills (live), a till that replays the log, the snapshot and the
    # projection table all hold the same state
    expected = {o: ("completed", f"note-{o}" if outcomes[o] == "updated then completed" else None) for o in ids}
    assert fold(events_a) == expected
    assert fold(events_b) == expected
    late = broker.client("staff", [r])
    replayed, done, _ = replay(late, {r: 0})
    assert done[r]["head"] == head and fold([d for _, d in replayed]) == expected
    snap = snapshot_orders(late, r)
    assert {o: (v["status"], v.get("note")) for o, v in snap.items()} == expected
    rows = postgres.query("SELECT order_id, status, data->>'note' FROM orders WHERE restaurant = %s", r)
    assert {o: (s, n) for o, s, n in rows} == expected
    for c in (owner, till_a, till_b, late):
        c.close()


# ---------------------------------------------------------------------------
# inventory and menu

def adjust(item, **fields):
    return event("inventory.adjusted", aggregate_id=item, payload=dict(item_id=item, **fields))


def inventory_row(postgres, r, item):
    rows = postgres.query("SELECT level::float8, low_threshold::float8 FROM inventory "
                          "WHERE restaurant = %s AND item_id = %s", r, item)
    return rows[0] if rows else None


def test_inventory_absolute_levels_last_write_wins_and_deltas_add(broker, postgres):
    r = rid("stock")
    till = broker.client("staff", [r])
    for e, level in [(adjust("milk", level=10), 10), (adjust("milk", level=7), 7),
                     (adjust("milk", delta=-3), 4), (adjust("milk", delta=0.5), 4.5),
                     (adjust("flour", delta=5), 5), (adjust("flour", delta=-7), -2)]:
        assert one(till, r, e)["status"] == "accepted"
        assert inventory_row(postgres, r, e["payload"]["item_id"])[0] == level
    for payload in ({"item_id": "milk"}, {"item_id": "milk", "level": 1, "delta": 1},
                    {"item_id": "milk", "level": "3"}, {"level": 3}):
        ack = one(till, r, event("inventory.adjusted", aggregate_id="milk", payload=payload))
        assert ack["status"] == "rejected" and ack["code"] == "invalid" and ack["reason"], ack

    # two tills counting at once: the absolute level with the higher seq wins
    other = broker.client("staff", [r])
    counts_a = [adjust("eggs", level=n) for n in range(100, 120)]
    counts_b = [adjust("eggs", level=n) for n in range(200, 220)]
    results = {}
    threads = [threading.Thread(target=lambda c=c, evs=evs: results.update(submit_all(c, r, evs)))
               for c, evs in ((till, counts_a), (other, counts_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    last = max(counts_a + counts_b, key=lambda e: results[e["id"]]["seq"])
    assert inventory_row(postgres, r, "eggs")[0] == last["payload"]["level"]

    snap, _ = snapshot(till, r, views=["inventory"])
    levels = {i["item_id"]: i["level"] for i in snap["inventory"]}
    assert levels == {"milk": 4.5, "flour": -2, "eggs": last["payload"]["level"]}
    till.close()
    other.close()


def test_inventory_low_fires_once_when_crossing_the_threshold(broker, postgres):
    r = rid("low")
    till = broker.client("staff", [r])
    kitchen = broker.client("manager", [r])
    assert kitchen.subscribe(f"fynlo/v1/ev/{r}/redacted/inventory/low") == [1]

    steps = [adjust("buns", level=10, low_threshold=5),   # above: nothing
             adjust("buns", delta=-4),                     # 6: nothing
             adjust("buns", delta=-2),                     # 4: crosses -> inventory.low
             adjust("buns", delta=-1),                     # 3: still low, nothing
             adjust("buns", level=2),                      # 2: still low, nothing
             adjust("buns", level=5)]                      # 5: at the threshold, still low
    acks = [one(till, r, e) for e in steps]
    assert all(a["status"] == "accepted" for a in acks)
    seqs = [a["seq"] for a in acks]
    # the crossing's event took the seq right after its trigger
    assert seqs == [1, 2, 3, 5, 6, 7], seqs

    topic, payload, _ = kitchen.next_message(timeout=5)
    low = json.loads(payload)
    assert topic == f"fynlo/v1/ev/{r}/redacted/inventory/low"
    assert low["seq"] == 4 and low["event_type"] == "inventory.low" and low["created_by"] == "hub"
    assert low["payload"] == {"item_id": "buns", "level": 4, "low_threshold": 5}
    assert low["metadata"]["generated_by"] == "hub" and low["metadata"]["cause"] == steps[2]["id"]
    assert drain(kitchen, 0.5) == []
    assert postgres.query("SELECT count(*) FROM events WHERE restaurant = %s AND event_type = 'inventory.low'",
                          r) == [(1,)]

    # back above the threshold and down again: a new crossing, a new event
    assert one(till, r, adjust("buns", level=12))["seq"] == 8
    assert one(till, r, adjust("buns", delta=-10))["seq"] == 9
    low = json.loads(kitchen.next_message(timeout=5)[1])
    assert low["seq"] == 10 and low["payload"]["level"] == 2
    # an item without a threshold never fires
    assert one(till, r, adjust("cups", level=0))["seq"] == 11
    assert drain(kitchen, 0.5) == []

    snap, _ = snapshot(till, r, views=["inventory"])
    buns = next(i for i in snap["inventory"] if i["item_id"] == "buns")
    assert buns["low"] is True and buns["level"] == 2 and buns["low_threshold"] == 5
    replayed, done, _ = replay(till, {r: 0})
    assert [d["seq"] for _, d in replayed if d["event_type"] == "inventory.low"] == [4, 10]
    assert done[r]["head"] == 11
    till.close()
    kitchen.close()


def test_menu_updated_upserts_and_merges_fields(broker, postgres):
    r = rid("menu")
    manager = broker.client("manager", [r])
    owner = broker.client("restaurant_owner", [r])

    def menu(**fields):
        return event("menu.updated", aggregate_id=fields["item_id"], payload=fields)

    assert one(manager, r, menu(item_id="burger", name="Burger", price=1250, cost=410, available=True,
                                allergens=["gluten"]))["status"] == "accepted"
    assert one(manager, r, menu(item_id="burger", price=1300))["status"] == "accepted"
    assert one(manager, r, menu(item_id="fries", name="Fries", price=300))["status"] == "accepted"
    snap, _ = snapshot(owner, r, views=["menu"])
    items = {m["item_id"]: m for m in snap["menu"]}
    assert set(items) == {"burger", "fries"}
    assert (items["burger"]["name"], items["burger"]["price"], items["burger"]["cost"]) == ("Burger", 1300, 410)
    assert items["burger"]["allergens"] == ["gluten"] and items["burger"]["available"] is True

    assert one(manager, r, menu(item_id="burger", available=False, cost=None))["status"] == "accepted"
    assert postgres.query("SELECT count(*), bool_and(NOT available), max(price), bool_and(cost IS NULL) "
                          "FROM menu_items WHERE restaurant = %s AND item_id = 'burger'", r) == [(1, True, 1300, True)]
    ack = one(manager, r, menu(item_id="burger", price="12.50"))
    assert ack["status"] == "rejected" and ack["code"] == "invalid" and "price" in ack["reason"]
    staff = broker.client("staff", [r])
    ack = one(staff, r, menu(item_id="burger", price=1))
    assert ack["status"] == "rejected" and ack["code"] == "forbidden"
    assert postgres.query("SELECT price FROM menu_items WHERE restaurant = %s AND item_id = 'burger'", r) == [(1300,)]
    for c in (manager, owner, staff):
        c.close()


# ---------------------------------------------------------------------------
# rebuilding the projections

PROJECTIONS = {
    "orders": "restaurant, order_id",
    "sales_hourly": "restaurant, day, hour",
    "inventory": "restaurant, item_id",
    "menu_items": "restaurant, item_id",
    "employee_activity": "restaurant, created_by",
}


def projections(postgres):
    return {table: postgres.query(f"SELECT row_to_json(t)::text FROM {table} t ORDER BY {key}")
            for table, key in PROJECTIONS.items()}


def test_rebuilt_projections_equal_the_live_ones(broker, postgres):
    r, r2 = rid("mixed"), rid("mixed")
    owner = broker.client("restaurant_owner", [r, r2], sub="owner")
    manager = broker.client("manager", [r], sub="manager")
    tills = [broker.client("staff", [r, r2], sub=f"till-{i}") for i in range(2)]

    assert one(owner, r, order_created("first", total=100))["status"] == "accepted"
    postgres.query("UPDATE restaurants SET time_zone = 'America/New_York' WHERE id = %s", r)
    work = {r: [], r2: []}
    for i in range(30):
        stream = r if i % 3 else r2
        o = f"m-{i}"
        work[stream].append((tills[i % 2], order_created(o, total=100 * (i + 1))))
        work[stream].append((tills[(i + 1) % 2], order_updated(o, status="preparing", table=i)))
        if i % 2 == 0:
            hour = 10 + i % 5
            work[stream].append((tills[i % 2], dict(order_updated(o, status="completed"),
                                                    created_at=f"2026-11-28T{hour:02d}:30:00.000Z")))
            work[stream].append((tills[i % 2], order_updated(o, note="too late")))      # conflict
        elif i % 5 == 1:
            work[stream].append((manager if stream == r else owner, order_updated(o, status="cancelled")))
        work[stream].append((tills[0], adjust(f"item-{i % 4}", delta=-3, low_threshold=20 if i < 4 else None)
                             if i % 4 else adjust(f"item-{i % 4}", level=30, low_threshold=25)))
        work[stream].append((manager if stream == r else owner,
                             event("menu.updated", aggregate_id=f"dish-{i % 6}",
                                   payload={"item_id": f"dish-{i % 6}", "price": 100 + i, "cost": i})))
        work[stream].append((manager if stream == r else owner,
                             event("employee.clocked_in", aggregate_id="shift", payload={"n": i})))
    answers = {}
    for stream, items in work.items():
        for client, e in items:
            answers[e["id"]] = one(client, stream, e)
    outcomes = {a["status"] + "/" + a.get("code", "") for a in answers.values()}
    assert outcomes == {"accepted/", "rejected/conflict"}, outcomes
    assert postgres.query("SELECT count(*) FROM events WHERE restaurant IN (%s, %s) "
                          "AND event_type = 'inventory.low'", r, r2)[0][0] >= 2

    before = projections(postgres)
    snap_before, _ = snapshot(owner, r)
    assert before["sales_hourly"] and before["employee_activity"] and before["inventory"]
    # sales in r are in New York's local hours: 10:30Z..14:30Z are 5..9
    hours = postgres.query("SELECT hour, orders, gross FROM sales_hourly WHERE restaurant = %s ORDER BY hour", r)
    assert [h for h, _, _ in hours] and all(5 <= h <= 9 for h, _, _ in hours), hours
    completed = [e for s, items in [(r, work[r])] for _, e in items
                 if e["event_type"] == "order.updated" and e["payload"].get("status") == "completed"]
    assert sum(n for _, n, _ in hours) == len(completed)
    activity = dict(postgres.query("SELECT created_by, events FROM employee_activity WHERE restaurant = %s", r))
    assert activity["till-0"] + activity["till-1"] + activity["manager"] + activity["owner"] == \
        sum(1 for client, e in work[r] if answers[e["id"]]["status"] == "accepted") + 1
    assert "hub" not in activity

    # the operator's command, against this test's database
    rebuilt = subprocess.run([os.path.join(SOURCE_DIR, "fynsync"), "rebuild-projections"],
                             env=dict(os.environ, FYNSYNC_PG_PORT=str(postgres.port)),
                             capture_output=True, text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr
    applied = int(re.search(r"\((\d+) events applied\)", rebuilt.stderr).group(1))
    assert applied == postgres.query("SELECT count(*) FROM events")[0][0]
    after = projections(postgres)
    for table in PROJECTIONS:
        assert after[table] == before[table], table
    snap_after, _ = snapshot(owner, r)
    assert snap_after == snap_before
    for c in [owner, manager] + tills:
        c.close()
