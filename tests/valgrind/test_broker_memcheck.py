"""The plugin under valgrind memcheck inside the real broker: one broker
life that goes through every path (auth refusals, submissions of every
outcome, fan-out, resume, snapshot, token refresh, a persistent client,
a reload, wills, offline sessions superseded and left at exit, disconnects) and must end with no memcheck error and no definite
leak. Run with FYNSYNC_VALGRIND=1 (ctest valgrind.broker does)."""

import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))

from harness import Broker, Client, Postgres, RawClient, VALGRIND, event  # noqa: E402

SLOW = 60   # everything is ~30x slower under memcheck


def connect(broker, client_id, role="staff", restaurants=("r1",), sub="alice", clean=True, expect_ok=True):
    c = Client(broker.port, client_id, version=5, clean=clean)
    rc = c.connect(sub, broker.token(role, restaurants, sub), expect_ok=expect_ok, timeout=SLOW)
    return c, rc


def test_one_broker_life_is_memcheck_clean():
    assert VALGRIND, "run with FYNSYNC_VALGRIND=1"
    pg = Postgres()
    broker = Broker(pg)
    try:
        refused = Client(broker.port, "bad-1")
        assert refused.connect("mallory", "not.a.jwt", expect_ok=False, timeout=SLOW) != 0
        owner, _ = connect(broker, "owner-1", "restaurant_owner", sub="olivia")
        owner.subscribe("fynlo/v1/ev/r1/full/#", timeout=SLOW)
        till, _ = connect(broker, "till-1")
        kitchen, _ = connect(broker, "kds-1", "kitchen", sub="kim", clean=False)
        kitchen.subscribe("fynlo/v1/ev/r1/redacted/order/#", timeout=SLOW)

        order = event()
        assert till.submit("r1", order, timeout=SLOW)["status"] == "accepted"
        assert till.submit("r1", order, timeout=SLOW)["status"] == "accepted"
        assert till.submit("r2", event(), timeout=SLOW)["code"] == "forbidden"
        assert till.submit("r1", event(aggregate_id=order["aggregate_id"]), timeout=SLOW)["code"] == "conflict"
        till.publish("fynlo/v1/in/r1/order/created", b"{broken")
        assert json.loads(till.next_message(SLOW, "fynlo/v1/client/till-1/ack")[1])["code"] == "invalid"
        owner.next_message(SLOW, "fynlo/v1/ev/r1/full/#")

        till.publish("fynlo/v1/ctl/resume", {"streams": {"r1": 0}})
        till.next_message(SLOW, "fynlo/v1/client/till-1/replay.done")
        till.publish("fynlo/v1/ctl/snapshot", {"stream": "r1"})
        till.next_message(SLOW, "fynlo/v1/client/till-1/snapshot")
        till.publish("fynlo/v1/ctl/token", {"token": broker.token("staff", ["r1"], "alice")})
        assert json.loads(till.next_message(SLOW, "fynlo/v1/client/till-1/ack")[1])["status"] == "accepted"

        time.sleep(2.5)                       # a durable cursor flush
        broker.signal(signal.SIGHUP)          # reload the ACL and key
        time.sleep(2)
        for version in (4, 5):                # wills, decided for clients already gone
            RawClient(broker.port, f"will-{version}", "wendy", broker.token("staff", ["r1"], "wendy"), version,
                      will=("fynlo/v1/presence/r1/will", b"gone", False), timeout=SLOW).drop()
        away, _ = connect(broker, "kds-2", "kitchen", sub="kai", clean=False)   # still offline at exit
        away.subscribe("fynlo/v1/presence/r1/+", timeout=SLOW)
        away.close()
        kitchen.close()
        assert till.submit("r1", event(), timeout=SLOW)["status"] == "accepted"   # while kitchens are offline
        kitchen, _ = connect(broker, "kds-1", "kitchen", sub="kim", clean=False)   # automatic resume
        time.sleep(2)
        for c in (owner, till, kitchen):
            c.close()
        broker.assert_clean_exit()
    finally:
        broker.destroy()
        pg.destroy()
