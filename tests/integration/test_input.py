"""Hostile and sloppy submissions through a real broker (issue 11, defects
2, 5 and 7): a too_large answer a sender can match, money only as JSON
integers, dates the hub checks itself, and no database error text in any
answer. The wide sweep of bad input is tests/corpus; these are the defects'
own reproductions."""

import json
import time
import uuid

import pytest

from harness import event, wait_for_log


@pytest.fixture(scope="module", autouse=True)
def migrated(broker):
    """The tests read and change tables: wait until the writer has migrated
    the store (it does when it first connects), i.e. one event is accepted."""
    till = broker.client("staff", ["r1"])
    deadline = time.time() + 60
    while till.submit("r1", event())["status"] != "accepted":
        assert time.time() < deadline, "the store never came up"
        time.sleep(0.2)
    till.close()


def ack_of(client, topic, payload, event_id):
    client.publish(topic, payload)
    return client.ack_for(event_id)


def raw_order(total="1250", price="1250", cost="410"):
    """An order.created text with the money fields written as given (JSON
    text, so 12.0 and 1e2 stay what they are)."""
    event_id = str(uuid.uuid4())
    text = ('{"id": "%s", "aggregate_id": "order-%s", "event_type": "order.created", '
            '"payload": {"status": "open", "total": %s, "items": [{"item_id": "burger", "qty": 1, '
            '"price": %s, "cost": %s}]}}' % (event_id, uuid.uuid4().hex[:8], total, price, cost))
    return event_id, text


@pytest.fixture(scope="module", autouse=True)
def migrated_store(broker):
    """The hub migrates its database on its writer's first connection, which
    can come after "ready" on a loaded machine; tests below count rows, so
    one accepted event first proves the tables exist."""
    till = broker.client("staff", ["r1"])
    event_id, text = raw_order()
    assert ack_of(till, "fynlo/v1/in/r1/order/created", text, event_id)["status"] == "accepted"
    till.close()


def test_too_large_answer_carries_the_submitted_id(broker):
    till = broker.client("staff", ["r1"])
    e = event(payload={"status": "open", "total": 1, "items": [{"id": "nested"}], "note": "x" * 70000})
    ack = ack_of(till, "fynlo/v1/in/r1/order/created", json.dumps(e), e["id"])
    assert ack["status"] == "rejected" and ack["code"] == "too_large"
    assert "65536" in ack["reason"]
    till.close()


def test_beyond_one_mib_the_too_large_answer_has_no_id(broker):
    till = broker.client("staff", ["r1"])
    e = event(payload={"status": "open", "total": 1, "items": [], "note": "x" * (1024 * 1024)})
    ack = ack_of(till, "fynlo/v1/in/r1/order/created", json.dumps(e), None)
    assert ack["status"] == "rejected" and ack["code"] == "too_large"
    till.close()


@pytest.mark.parametrize("total, price, cost, field", [
    ("12.0", "1250", "410", "total"),
    ("1e2", "1250", "410", "total"),
    ("12.5", "1250", "410", "total"),
    ("1250", "1.5", "410", "items[0].price"),
    ("1250", "1250", "410.0", "items[0].cost"),
])
def test_money_that_is_not_a_json_integer_is_invalid(broker, postgres, total, price, cost, field):
    till = broker.client("staff", ["r1"])
    event_id, text = raw_order(total, price, cost)
    ack = ack_of(till, "fynlo/v1/in/r1/order/created", text, event_id)
    assert ack["status"] == "rejected" and ack["code"] == "invalid", ack
    assert field in ack["reason"]
    assert postgres.query("SELECT count(*) FROM events WHERE id = %s", event_id) == [(0,)]
    till.close()


@pytest.mark.parametrize("price, cost", [("1e2", "null"), ("1250", "4.0")])
def test_menu_money_that_is_not_a_json_integer_is_invalid(broker, price, cost):
    manager = broker.client("manager", ["r1"])
    event_id = str(uuid.uuid4())
    text = ('{"id": "%s", "aggregate_id": "burger", "event_type": "menu.updated", '
            '"payload": {"item_id": "burger", "name": "Burger", "price": %s, "cost": %s}}' % (event_id, price, cost))
    ack = ack_of(manager, "fynlo/v1/in/r1/menu/updated", text, event_id)
    assert ack["status"] == "rejected" and ack["code"] == "invalid", ack
    manager.close()


def test_integer_money_is_still_accepted(broker):
    till = broker.client("staff", ["r1"])
    event_id, text = raw_order("1250", "1250", "410")
    assert ack_of(till, "fynlo/v1/in/r1/order/created", text, event_id)["status"] == "accepted"
    till.close()


@pytest.mark.parametrize("created_at", ["2026-02-30T12:00:00Z", "2025-02-29T00:00:00Z",
                                        "2026-06-01T12:00:00+16:00"])
def test_an_impossible_date_is_refused_by_the_hub(broker, created_at):
    till = broker.client("staff", ["r1"])
    e = event(created_at=created_at)
    ack = till.submit("r1", e)
    assert ack["status"] == "rejected" and ack["code"] == "invalid", ack
    assert "created_at" in ack["reason"]
    assert "out of range" not in ack["reason"] and "store" not in ack["reason"]
    till.close()


def test_a_database_error_text_never_reaches_the_client(broker, postgres):
    """The store refuses an event with an error of its own (a trigger stands
    in for any data error PostgreSQL may raise): the client gets a fixed
    reason, the broker log the database's text."""
    postgres.query("""
        CREATE OR REPLACE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.aggregate_id = 'poison' THEN
                RAISE EXCEPTION 'secret-internal-detail-42 in relation "events"' USING ERRCODE = '22023';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION test_poison();
    """)
    try:
        start = len(broker.read_log())
        till = broker.client("staff", ["r1"])
        e = event(aggregate_id="poison")
        ack = till.submit("r1", e)
        assert ack["status"] == "rejected" and ack["code"] == "invalid", ack
        assert "secret-internal-detail" not in json.dumps(ack) and "relation" not in ack["reason"]
        log = wait_for_log(broker, "secret-internal-detail-42", start)
        line = next(x for x in log.splitlines() if "secret-internal-detail-42" in x)
        assert e["id"] in line and "22023" in line and "CONTEXT" in line   # the whole message, one line
        assert till.submit("r1", event())["status"] == "accepted"
        till.close()
    finally:
        postgres.query("DROP TRIGGER test_poison ON events; DROP FUNCTION test_poison()")


@pytest.mark.parametrize("event_type, payload", [
    ("order.created", '{"status": "open", "total": 1, "items": [], "note": 1e19}'),
    ("inventory.adjusted", '{"item_id": "bun", "level": 1e300}'),
])
def test_a_number_the_store_cannot_give_back_is_invalid(broker, postgres, event_type, payload):
    """Found by the corpus: PostgreSQL writes 1e19 back as
    10000000000000000000, which the hub could not read, so the event was
    stored, never published, and answered unavailable on every retry."""
    manager = broker.client("manager", ["r1"])
    event_id = str(uuid.uuid4())
    domain, action = event_type.split(".")
    text = ('{"id": "%s", "aggregate_id": "bun", "event_type": "%s", "payload": %s}'
            % (event_id, event_type, payload))
    ack = ack_of(manager, f"fynlo/v1/in/r1/{domain}/{action}", text, event_id)
    assert ack["status"] == "rejected" and ack["code"] == "invalid", ack
    assert postgres.query("SELECT count(*) FROM events WHERE id = %s", event_id) == [(0,)]
    manager.close()
