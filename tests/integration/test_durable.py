"""Automatic resume for devices that never ask: a kitchen display with a
persistent session gets every order its subscription covers, at least once,
even when the broker is killed with SIGKILL and its sessions are lost."""

import json
import time

import pytest

from harness import Broker, Client, event


def kitchen(broker, client_id, version):
    k = Client(broker.port, client_id, version=version, clean=False)
    k.connect("kds", broker.token("kitchen", ["r1"], "kds"))
    return k


def seqs(messages):
    return sorted({json.loads(payload)["seq"] for topic, payload, _ in messages if "/ev/" in topic})


def orders(till, count):
    return [till.submit("r1", event())["seq"] for _ in range(count)]


@pytest.mark.parametrize("version", [3, 5])
def test_kitchen_misses_no_order_across_a_broker_kill(postgres, version):
    b = Broker(postgres)
    try:
        client_id = f"kds-kill-{version}"
        k = kitchen(b, client_id, version)
        k.subscribe("fynlo/v1/ev/r1/redacted/order/#")
        till = b.client("staff", ["r1"])
        first = orders(till, 5)
        received = seqs(k.drain(0.5))
        assert received == first
        time.sleep(2.2)          # the durable cursor lags delivery by one to two seconds
        in_flight = orders(till, 5)
        b.kill9()
        b.start()
        till = b.client("staff", ["r1"])
        while_away = orders(till, 5)
        k.close()
        k = kitchen(b, client_id, version)
        replayed = k.drain(1.0)
        assert all(json.loads(p).get("replay") is True for t, p, _ in replayed)
        got = set(received) | set(seqs(replayed))
        assert set(in_flight + while_away) <= got, "orders committed before and after the kill must arrive"
        k.subscribe("fynlo/v1/ev/r1/redacted/order/#")   # the broker lost the session: subscribe again
        live = orders(till, 2)
        assert set(live) <= set(seqs(k.drain(0.5)))
        k.close()
    finally:
        b.destroy()


def test_persistent_kitchen_offline_gets_what_it_missed_on_reconnect(broker):
    k = kitchen(broker, "kds-offline", 3)
    k.subscribe("fynlo/v1/ev/r1/redacted/order/#")
    till = broker.client("staff", ["r1"])
    orders(till, 3)
    k.drain(0.3)
    time.sleep(2.2)
    k.close()
    missed = orders(till, 4)
    k = kitchen(broker, "kds-offline", 3)
    got = seqs(k.drain(1.0))
    assert set(missed) <= set(got)
    k.close()
    till.close()


def test_replay_covers_only_the_stored_filters(broker):
    k = kitchen(broker, "kds-filters", 3)
    k.subscribe("fynlo/v1/ev/r1/redacted/order/created")
    till = broker.client("manager", ["r1"])
    till.submit("r1", event())
    time.sleep(2.2)
    k.close()
    created = till.submit("r1", event())
    item = till.submit("r1", event("menu.updated", "burger", {"item_id": "burger", "name": "Burger",
                                                                "price": 900, "cost": 300, "available": True}))
    k = kitchen(broker, "kds-filters", 3)
    messages = k.drain(1.0)
    topics = {t for t, _, _ in messages}
    assert created["seq"] in seqs(messages)
    assert item["seq"] not in seqs(messages)
    assert topics <= {"fynlo/v1/ev/r1/redacted/order/created"}
    k.close()
    till.close()


def test_clean_session_clients_get_no_automatic_replay(broker):
    k = Client(broker.port, "kds-clean", version=3, clean=True)
    k.connect("kds", broker.token("kitchen", ["r1"], "kds"))
    k.subscribe("fynlo/v1/ev/r1/redacted/order/#")
    till = broker.client("staff", ["r1"])
    orders(till, 2)
    time.sleep(2.2)
    k.close()
    orders(till, 2)
    k = Client(broker.port, "kds-clean", version=3, clean=True)
    k.connect("kds", broker.token("kitchen", ["r1"], "kds"))
    assert seqs(k.drain(0.8)) == []
    k.close()
    till.close()
