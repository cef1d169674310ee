"""Issue 4, reloading the policy on a running hub (SIGHUP, mosquitto's
reload): a broken ACL or key file never takes effect and drops nobody; a
revoked read stops deliveries to clients that are already subscribed; a
grant works at once; the JWT key rotates together with the ACL.

Each test has its own broker whose acl_file is a temporary copy of
acl/fynsync.acl that the test rewrites."""

import json
import os
import shutil
import signal
import time

import pytest

from harness import DEFAULT_ACL, Broker, Client, RawClient, event, service_dir, wait_for_log, write_service_file

RELOADED = "fynsync: reloaded ACL"
NOT_LOADED = "fynsync: ACL file not loaded:"
KEY_NOT_LOADED = "fynsync: JWT key not loaded:"

with open(DEFAULT_ACL) as _f:
    DEFAULT_TEXT = _f.read()

OWNER_FULL = "allow read fynlo/v1/ev/%r/full/#\n"
STAFF_SECTION = "role staff\nreceive redacted\n"
STAFF_REDACTED = "allow read fynlo/v1/ev/%r/redacted/#\n"
KITCHEN_WRITE = "allow write fynlo/v1/in/%r/order/updated\n"


def edit(text, old, new, count=1):
    assert text.count(old) == count, f"{old!r} appears {text.count(old)} times in the ACL"
    return text.replace(old, new)


def edit_section(text, role, old, new):
    """edit() within the section of one role only."""
    start = text.index(f"\nrole {role}\n")
    end = text.find("\nrole ", start + 1)
    end = len(text) if end < 0 else end
    return text[:start] + edit(text[start:end], old, new) + text[end:]


class Policy:
    """A broker with its own ACL file, and the means to rewrite and reload it."""

    def __init__(self, postgres, text=DEFAULT_TEXT):
        self.dir = service_dir("fynsync-reload-")
        self.path = write_service_file(os.path.join(self.dir, "fynsync.acl"), text)
        self.broker = Broker(postgres, acl_file=self.path)

    def reload(self, text=None, expect=RELOADED, timeout=5):
        if text is not None:
            write_service_file(self.path, text)
        offset = len(self.broker.read_log())
        self.broker.signal(signal.SIGHUP)
        return wait_for_log(self.broker, expect, offset, timeout)

    def close(self):
        self.broker.assert_clean_exit()
        self.broker.destroy()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def policy(postgres):
    p = Policy(postgres)
    yield p
    p.close()


def connect_code(broker, token, sub="old-key"):
    raw = RawClient(broker.port, f"raw-{os.urandom(4).hex()}", sub, token)
    raw.close()
    return raw.connack


def failed(codes):
    return len(codes) == 1 and codes[0] >= 0x80


def ev_messages(client, quiet=0.5):
    return [(t, json.loads(p)) for t, p, _ in client.drain(quiet) if "/ev/" in t]


def assert_connected(*clients):
    for c in clients:
        assert c.disconnects.empty(), f"{c.client_id} was disconnected"
        assert c.mqtt.is_connected(), f"{c.client_id} is not connected"


def test_broken_acl_keeps_the_old_rules_names_the_line_and_drops_nobody(policy):
    b = policy.broker
    owner = b.client("restaurant_owner", ["r1"])
    assert owner.subscribe("fynlo/v1/ev/r1/full/#") == [1]
    staff = b.client("staff", ["r1"], version=3)
    assert staff.subscribe("fynlo/v1/ev/r1/redacted/#") == [0x01]
    attacker = b.client("staff", ["r1"], sub="mallory")
    token_only = RawClient(b.port, "token-only-1", None, b.token("staff", ["r1"], sub="tok"), version=5)
    assert token_only.connack == 0

    # A file that would widen staff to every restaurant's full view and revoke
    # the owners' reads -- but has an error further down.
    broken = edit(DEFAULT_TEXT, STAFF_SECTION, STAFF_SECTION + "allow read fynlo/v1/ev/+/full/#\n")
    broken = edit(broken, OWNER_FULL, "", count=1)
    lines = broken.splitlines(keepends=True)
    bad_line = len(lines) - 3
    lines.insert(bad_line - 1, "allow subscribe fynlo/v1/#\n")
    broken = "".join(lines)
    log = policy.reload(broken, expect=NOT_LOADED)
    assert f"{policy.path}:{bad_line}:" in log, log
    assert "subscribe" in log.split(NOT_LOADED, 1)[1].splitlines()[0]
    assert RELOADED not in log

    # Old rules: the widening is not in force, the owner still reads full.
    assert failed(attacker.subscribe("fynlo/v1/ev/+/full/#"))
    assert failed(attacker.subscribe("fynlo/v1/ev/r1/full/#"))
    e = event()
    assert attacker.submit("r1", e)["status"] == "accepted"
    assert [t for t, _ in ev_messages(owner)] == ["fynlo/v1/ev/r1/full/order/created"]
    assert [t for t, _ in ev_messages(staff)] == ["fynlo/v1/ev/r1/redacted/order/created"]
    assert ev_messages(attacker, 0.1) == []
    assert_connected(owner, staff, attacker)
    assert token_only.wait_closed(0.3) is False, "the token-only MQTT 5 client was dropped by the reload"
    assert b.client("staff", ["r1"]).subscribe("fynlo/v1/ev/r1/redacted/#") == [1]   # new connections work

    # A missing file is broken too.
    os.rename(policy.path, policy.path + ".away")
    log = policy.reload(expect=NOT_LOADED)
    assert "cannot open" in log
    os.rename(policy.path + ".away", policy.path)
    assert failed(attacker.subscribe("fynlo/v1/ev/r1/full/#"))

    # Once fixed (the revocation without the error), the next reload applies it.
    policy.reload(edit(DEFAULT_TEXT, OWNER_FULL, "", count=1))
    assert attacker.submit("r1", event())["status"] == "accepted"
    assert [t for t, _ in ev_messages(staff)] == ["fynlo/v1/ev/r1/redacted/order/created"]
    assert ev_messages(owner, 0.2) == []
    assert_connected(owner, staff, attacker)
    assert token_only.wait_closed(0.2) is False
    token_only.close()
    for c in (owner, staff, attacker):
        c.close()


@pytest.mark.parametrize("version", [5, 3], ids=["mqtt5", "mqtt311"])
def test_revoked_read_stops_deliveries_to_an_existing_subscription_at_once(policy, version):
    b = policy.broker
    owner = b.client("restaurant_owner", ["r1"], version=version)
    assert owner.subscribe("fynlo/v1/ev/r1/full/#")[0] in (1, 0x01)
    staff = b.client("staff", ["r1"])
    assert staff.subscribe("fynlo/v1/ev/r1/redacted/#") == [1]
    till = b.client("staff", ["r1"], sub="till")
    # Deliver once first so the owner's decision for this topic is cached.
    assert till.submit("r1", event())["status"] == "accepted"
    assert [t for t, _ in ev_messages(owner)] == ["fynlo/v1/ev/r1/full/order/created"]
    assert len(ev_messages(staff, 0.1)) == 1

    policy.reload(edit(DEFAULT_TEXT, OWNER_FULL, "", count=1))

    e = event()
    assert till.submit("r1", e)["status"] == "accepted"
    got = ev_messages(staff)
    assert [d["id"] for _, d in got] == [e["id"]]           # the event was fanned out...
    assert ev_messages(owner, 0.3) == []                     # ...but not to the revoked subscriber
    assert_connected(owner, staff, till)
    # The owner is still served what it may read: its own acks.
    mine = event()
    assert owner.submit("r1", mine)["status"] == "accepted"
    assert failed(owner.subscribe("fynlo/v1/ev/r1/full/#"))
    assert ev_messages(owner, 0.2) == []
    for c in (owner, staff, till):
        c.close()


def test_reload_that_grants_takes_effect(postgres):
    narrowed = edit(DEFAULT_TEXT, KITCHEN_WRITE, "")
    narrowed = edit_section(narrowed, "staff", STAFF_REDACTED, "")
    p = Policy(postgres, narrowed)
    try:
        b = p.broker
        staff = b.client("staff", ["r1"])
        assert failed(staff.subscribe("fynlo/v1/ev/r1/redacted/#"))
        till = b.client("staff", ["r1"], sub="till")
        order = event()
        assert till.submit("r1", order)["status"] == "accepted"
        kitchen = b.client("kitchen", ["r1"])
        update = event("order.updated", aggregate_id=order["aggregate_id"], payload={"status": "preparing"})
        ack = kitchen.submit("r1", update)
        assert ack["status"] == "rejected" and ack["code"] == "forbidden", ack

        p.reload(DEFAULT_TEXT)

        assert staff.subscribe("fynlo/v1/ev/r1/redacted/#") == [1]
        update = event("order.updated", aggregate_id=order["aggregate_id"], payload={"status": "preparing"})
        ack = kitchen.submit("r1", update)
        assert ack["status"] == "accepted", ack
        got = ev_messages(staff)
        assert [t for t, _ in got] == ["fynlo/v1/ev/r1/redacted/order/updated"]
        assert got[0][1]["id"] == update["id"]
        assert_connected(staff, till, kitchen)
        for c in (staff, till, kitchen):
            c.close()
    finally:
        p.close()


def test_key_and_acl_reload_together_or_not_at_all(policy):
    b = policy.broker
    old_secret = b.secret
    owner = b.client("restaurant_owner", ["r1"])
    assert owner.subscribe("fynlo/v1/ev/r1/full/#") == [1]
    till = b.client("staff", ["r1"], sub="till")
    revoked = edit(DEFAULT_TEXT, OWNER_FULL, "", count=1)

    # A valid ACL with a broken key file (secret too short): neither applies.
    write_service_file(policy.path, revoked)
    write_service_file(b.secret_file, "short")
    log = policy.reload(expect=KEY_NOT_LOADED)
    assert RELOADED not in log
    assert till.submit("r1", event())["status"] == "accepted"
    assert len(ev_messages(owner)) == 1, "the ACL half of a failed reload took effect"
    assert connect_code(b, b.token("staff", ["r1"], sub="old-key")) == 0   # the old key still verifies

    # A good new secret and the revoking ACL: both apply.
    new_secret = os.urandom(32).hex()
    write_service_file(b.secret_file, new_secret)
    policy.reload()
    assert till.submit("r1", event())["status"] == "accepted"
    assert ev_messages(owner) == []
    b.secret = old_secret
    assert connect_code(b, b.token("staff", ["r1"], sub="old-key")) in (0x86, 0x87)
    b.secret = new_secret
    fresh = b.client("staff", ["r1"], sub="new-key")
    assert fresh.submit("r1", event())["status"] == "accepted"
    # Connections made under the old key are not dropped by the rotation.
    assert_connected(owner, till)
    for c in (owner, till, fresh):
        c.close()


def test_reload_keeps_a_refreshed_connection_past_its_first_tokens_exp(policy):
    """mosquitto re-checks every client's CONNECT password on reload. A client
    that refreshed on ctl/token must neither be dropped because its first
    token ran out, nor be sent back to that token's expiry; and a reload
    announces nobody's presence again."""
    b = policy.broker
    observer = b.client("restaurant_owner", ["r1"])
    assert observer.subscribe("fynlo/v1/presence/r1/+") == [1]
    exp = int(time.time()) + 3
    till = Client(b.port, "refreshed-till")
    till.mqtt.reconnect_delay_set(60, 120)
    till.connect("alice", b.token("staff", ["r1"], sub="alice", exp=exp))
    assert till.subscribe("fynlo/v1/client/refreshed-till/#") == [1]
    till.publish("fynlo/v1/ctl/token", {"token": b.token("staff", ["r1"], sub="alice", ttl=120)})
    assert till.ack_for("token")["status"] == "accepted"
    observer.drain(0.2)

    policy.reload()                                  # first token still valid here
    assert observer.drain(0.3) == [], "the reload announced presence again"
    time.sleep(max(0, exp + 1.5 - time.time()))      # past the first token's exp
    assert_connected(till)
    policy.reload()                                  # first token expired now
    time.sleep(0.5)
    assert_connected(till)
    assert till.submit("r1", event())["status"] == "accepted"
    assert observer.drain(0.2) == []
    till.close()
    observer.close()


def test_reload_does_not_bring_an_offline_persistent_session_back(policy):
    """Offline persistent sessions are re-checked by mosquitto on reload too;
    that must not make them present again (a ghost till)."""
    b = policy.broker
    observer = b.client("restaurant_owner", ["r1"])
    assert observer.subscribe("fynlo/v1/presence/r1/+") == [1]
    offline = Client(b.port, "persistent-till", clean=False)
    offline.connect("kds", b.token("kitchen", ["r1"], sub="kds"))
    assert offline.subscribe("fynlo/v1/ev/r1/redacted/order/#") == [1]
    offline.close()
    got = [p for t, p, _ in observer.drain(0.4) if t == "fynlo/v1/presence/r1/persistent-till"]
    assert got and got[-1] == b""
    policy.reload()
    assert [m for m in observer.drain(0.4) if m[0].endswith("/persistent-till")] == []
    # It reconnects as itself, fully verified, and is present again.
    back = Client(b.port, "persistent-till", clean=False)
    back.connect("kds", b.token("kitchen", ["r1"], sub="kds"))
    _, payload, _ = observer.next_message(topic_filter="fynlo/v1/presence/r1/persistent-till")
    assert json.loads(payload)["sub"] == "kds"
    back.close()
    observer.close()
