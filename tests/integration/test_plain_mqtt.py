"""Plain MQTT as stock mosquitto gives it, on topics the ACL file grants
(issue 11, defect 3): wills on an abrupt drop, on keepalive expiry and after
an MQTT 5 will delay; QoS 1 and 2 messages queued for an offline persistent
session; MQTT 5 message expiry of queued messages; retained messages.

Each behaviour runs against Debian's mosquitto without the plugin (anonymous,
everything allowed) and against the hub, whose ACL grants the same topics
(`plain/%r/#`), and the observable results must be identical. The hub's own
event topics are the exception by design: an offline persistent session gets
them from the durable replay, exactly once, never also from mosquitto's queue.
"""

import json
import os
import queue
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from harness import DEFAULT_ACL, Broker, Client, RawClient, StockBroker, event, service_dir, write_service_file

PLAIN_RULE = "allow readwrite plain/%r/#"


def acl_text(plain_roles=("staff", "kitchen")):
    """The default ACL file, with plain/%r/# granted to plain_roles."""
    with open(DEFAULT_ACL) as f:
        text = f.read()
    for role in plain_roles:
        text = text.replace(f"\nrole {role}\n", f"\nrole {role}\n{PLAIN_RULE}\n")
    return text


class Stock:
    name = "stock"

    def __init__(self):
        self.broker = StockBroker()
        self.port = self.broker.port

    def credentials(self, role, restaurants, sub):
        return None, None


class Hub:
    name = "hub"

    def __init__(self, postgres):
        self.dir = service_dir()
        self.acl_file = write_service_file(os.path.join(self.dir, "fynsync.acl"), acl_text())
        self.broker = Broker(postgres, acl_file=self.acl_file)
        self.port = self.broker.port

    def credentials(self, role, restaurants, sub):
        return sub, self.broker.token(role, restaurants, sub)


def client(target, client_id, role="kitchen", restaurants=("r1",), sub=None, version=5, clean=True):
    sub = sub or f"{role}-{client_id}"
    c = Client(target.port, client_id, version=version, clean=clean)
    c.connect(*target.credentials(role, restaurants, sub))
    return c


def raw(target, client_id, version, role="kitchen", **kwargs):
    username, password = target.credentials(role, ("r1",), f"{role}-{client_id}")
    r = RawClient(target.port, client_id, username, password, version, **kwargs)
    assert r.connack == 0, f"{target.name}: CONNACK {r.connack}"
    return r


def collect(c, quiet=0.5, deadline=5.0):
    """Every message c gets until none came for `quiet` seconds (at most
    `deadline`), as (topic, payload, qos, retain, expiry present)."""
    out = []
    end = time.time() + deadline
    while time.time() < end:
        try:
            topic, payload, qos, retain, expiry = c.details.get(timeout=quiet)
        except queue.Empty:
            break
        out.append((topic, payload, qos, retain, expiry is not None))
    return out


def wait_for(c, count, timeout):
    """The first `count` messages c gets within timeout (fewer if they do not come)."""
    out = []
    end = time.time() + timeout
    while len(out) < count and time.time() < end:
        try:
            topic, payload, qos, retain, _ = c.details.get(timeout=max(0.01, end - time.time()))
        except queue.Empty:
            break
        out.append((topic, payload, qos, retain))
    return out


@pytest.fixture(scope="module")
def targets(postgres):
    made = [Stock(), Hub(postgres)]
    yield made
    for t in made:
        if t.name == "hub":
            t.broker.assert_clean_exit()
            shutil.rmtree(t.dir, ignore_errors=True)
        t.broker.destroy()


@pytest.fixture(scope="module")
def hub(targets):
    return targets[1]


def compare(targets, scenario, *args):
    """Runs scenario on each target, at the same time; returns the stock
    result after checking that the hub's is the same."""
    tag = uuid.uuid4().hex[:8]
    with ThreadPoolExecutor(len(targets)) as pool:
        runs = {t.name: pool.submit(scenario, t, tag, *args) for t in targets}
        results = {name: run.result() for name, run in runs.items()}
    assert results["hub"] == results["stock"], f"the hub differs from stock mosquitto: {results}"
    return results["stock"]


# ---------------------------------------------------------------------------
# Wills

def wills_on_drop(target, tag, version):
    watcher = client(target, f"watch-{tag}")
    watcher.subscribe(f"plain/r1/{tag}/#", qos=1)
    dropped = raw(target, f"drop-{tag}", version, will=(f"plain/r1/{tag}/drop-{tag}", b"lost", False))
    polite = raw(target, f"polite-{tag}", version, will=(f"plain/r1/{tag}/polite-{tag}", b"lost", False))
    kept = raw(target, f"kept-{tag}", version, will=(f"plain/r1/{tag}/kept-{tag}", b"lost-retained", True))
    polite.close()        # a DISCONNECT: no will
    dropped.drop()
    kept.drop()
    live = sorted(collect(watcher, quiet=1.0))
    late = client(target, f"late-{tag}")
    late.subscribe(f"plain/r1/{tag}/kept-{tag}", qos=1)
    retained = collect(late)
    for c in (watcher, late):
        c.close()
    return live, retained


@pytest.mark.parametrize("version", [4, 5], ids=["mqtt311", "mqtt5"])
def test_will_is_published_when_the_connection_drops(targets, version):
    live, retained = compare(targets, wills_on_drop, version)
    assert [(t.split("/")[-1].split("-")[0], p) for t, p, *_ in live] == [("drop", b"lost"), ("kept", b"lost-retained")]
    assert [(p, r) for _, p, _, r, _ in retained] == [(b"lost-retained", True)]


def will_on_keepalive(target, tag):
    watcher = client(target, f"watch-{tag}")
    watcher.subscribe(f"plain/r1/{tag}/#", qos=1)
    silent = [raw(target, f"silent-{version}-{tag}", version, keepalive=1,
                  will=(f"plain/r1/{tag}/silent-{version}", b"timed out", False)) for version in (4, 5)]
    early = wait_for(watcher, 1, 0.5)    # at least 1.5 keepalives
    got = sorted(wait_for(watcher, 2, 15.0))   # mosquitto 2.0 looks every 6 s
    for r in silent:
        r.sock.close()
    watcher.close()
    return early, got


def test_will_is_published_when_the_keepalive_expires(targets):
    """MQTT 3.1.1 and MQTT 5 at once: mosquitto checks keepalives only every
    few seconds."""
    early, got = compare(targets, will_on_keepalive)
    assert early == []
    assert [(t.split("/")[-1], p) for t, p, *_ in got] == [("silent-4", b"timed out"), ("silent-5", b"timed out")]


def will_after_delay(target, tag):
    watcher = client(target, f"watch-{tag}")
    watcher.subscribe(f"plain/r1/{tag}/#", qos=1)

    def device(name, payload, delay):
        return raw(target, f"{name}-{tag}", 5, clean=False, session_expiry=60, will_delay=delay,
                   will=(f"plain/r1/{tag}/{name}", payload, False))

    delayed = device("delayed", b"gone for good", 2)
    resumed = device("resumed", b"never", 30)
    restarted = device("restarted", b"session ended", 30)
    for d in (delayed, resumed, restarted):
        d.drop()
    time.sleep(0.3)
    # Back within the delay, no will: resuming the session cancels it, and
    # mosquitto 2.0 also drops it when the client starts a clean session.
    back = [raw(target, f"resumed-{tag}", 5, clean=False, session_expiry=60),
            raw(target, f"restarted-{tag}", 5, clean=True)]
    early = wait_for(watcher, 1, 1.0)
    later = wait_for(watcher, 2, 5.0)
    for r in back:
        r.close()
    watcher.close()
    return early, later


def test_mqtt5_will_delay_is_honoured(targets):
    early, later = compare(targets, will_after_delay)
    assert early == []
    assert [p for _, p, *_ in later] == [b"gone for good"]


# ---------------------------------------------------------------------------
# Offline persistent sessions

def publish_all(publisher, messages):
    """messages: (topic, payload, qos, properties or None); waits until the
    broker has taken each."""
    for topic, payload, qos, properties in messages:
        info = publisher.mqtt.publish(topic, payload, qos=qos, properties=properties)
        if qos:
            info.wait_for_publish(5)
            assert info.is_published()


def queued_while_offline(target, tag, version):
    device_id = f"device-{tag}"
    device = client(target, device_id, version=version, clean=False)
    device.subscribe("plain/r1/cmd/#", qos=2)
    device.close()
    publisher = client(target, f"pub-{tag}", role="staff")
    publish_all(publisher, [("plain/r1/cmd/a", b"qos0", 0, None), ("plain/r1/cmd/b", b"qos1", 1, None),
                            ("plain/r1/cmd/c", b"qos2", 2, None), ("plain/r1/other", b"unsubscribed", 1, None)])
    time.sleep(0.3)
    back = client(target, device_id, version=version, clean=False)
    got = sorted(collect(back, quiet=1.0))
    present = back.session_present
    back.close()
    publisher.close()
    return present, got


@pytest.mark.parametrize("version", [4, 5], ids=["mqtt311", "mqtt5"])
def test_qos1_and_qos2_are_queued_for_an_offline_persistent_session(targets, version):
    present, got = compare(targets, queued_while_offline, version)
    assert present == 1
    assert [(t, p, q) for t, p, q, *_ in got] == [("plain/r1/cmd/b", b"qos1", 1), ("plain/r1/cmd/c", b"qos2", 2)]


def expiry(seconds):
    p = Properties(PacketTypes.PUBLISH)
    p.MessageExpiryInterval = seconds
    return p


def expiry_while_offline(target, tag):
    device_id = f"device-{tag}"
    device = client(target, device_id, version=5, clean=False)
    device.subscribe("plain/r1/cmd/#", qos=1)
    device.close()
    publisher = client(target, f"pub-{tag}", role="staff")
    publish_all(publisher, [("plain/r1/cmd/short", b"expires", 1, expiry(1)),
                            ("plain/r1/cmd/long", b"lasts", 1, expiry(600)),
                            ("plain/r1/cmd/none", b"forever", 1, None)])
    time.sleep(2.5)
    back = client(target, device_id, version=5, clean=False)
    got = sorted(collect(back, quiet=1.0))
    back.close()
    publisher.close()
    return got


def test_mqtt5_message_expiry_applies_to_queued_messages(targets):
    got = compare(targets, expiry_while_offline)
    assert [(p, e) for _, p, _, _, e in got] == [(b"lasts", True), (b"forever", False)]


def retained(target, tag):
    publisher = client(target, f"pub-{tag}", role="staff")
    topic = f"plain/r1/state/{tag}"
    publisher.mqtt.publish(topic, b"v1", qos=1, retain=True).wait_for_publish(5)
    first = client(target, f"first-{tag}")
    first.subscribe(topic, qos=1)
    seen_first = collect(first)
    publisher.mqtt.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    live_clear = collect(first)
    second = client(target, f"second-{tag}")
    second.subscribe(topic, qos=1)
    seen_second = collect(second)
    for c in (publisher, first, second):
        c.close()
    return seen_first, live_clear, seen_second


def test_retained_messages(targets):
    first, clear, second = compare(targets, retained)
    assert [(p, r) for _, p, _, r, _ in first] == [(b"v1", True)]
    assert [(p, r) for _, p, _, r, _ in clear] == [(b"", False)]
    assert second == []


# ---------------------------------------------------------------------------
# The hub alone: its own event topics, ACL changes, identities

def kitchen(hub, client_id, version, sub="kds", restaurants=("r1",)):
    k = Client(hub.port, client_id, version=version, clean=False)
    k.connect(sub, hub.broker.token("kitchen", list(restaurants), sub))
    return k


@pytest.mark.parametrize("version", [4, 5], ids=["mqtt311", "mqtt5"])
def test_an_event_reaches_an_offline_persistent_session_exactly_once(hub, version):
    """The durable replay delivers what an offline persistent session missed on
    ev/; mosquitto must not also queue it (it would arrive twice)."""
    client_id = f"kds-once-{version}-{uuid.uuid4().hex[:6]}"
    k = kitchen(hub, client_id, version)
    assert k.subscribe("fynlo/v1/ev/r1/redacted/order/#") == [1]
    till = hub.broker.client("staff", ["r1"])
    till.submit("r1", event())
    k.drain(0.5)
    time.sleep(2.2)               # the durable cursor lags delivery by one to two seconds
    k.close()
    missed = [till.submit("r1", event())["seq"] for _ in range(3)]
    k = kitchen(hub, client_id, version)
    got = [json.loads(p) for t, p, _ in k.drain(1.5) if "/ev/" in t]
    assert sorted(e["seq"] for e in got) == missed, "each missed event exactly once"
    assert all(e.get("replay") is True for e in got), "from the durable replay, not mosquitto's queue"
    k.close()
    till.close()


def reload(hub, text):
    write_service_file(hub.acl_file, text)
    start = len(hub.broker.read_log())
    hub.broker.signal(1)
    deadline = time.time() + 5
    while "fynsync: reloaded ACL" not in hub.broker.read_log()[start:]:
        assert time.time() < deadline, "no reload"
        time.sleep(0.05)


def test_an_offline_session_follows_the_current_acl_file(hub):
    """A read revoked while a session is offline stops its queue at once; a
    message published meanwhile stays refused even if the grant returns
    before the session does."""
    client_id = f"kds-acl-{uuid.uuid4().hex[:6]}"
    k = kitchen(hub, client_id, 4)
    assert k.subscribe("plain/r1/cmd/#") == [1]
    k.close()
    publisher = client(hub, f"pub-{uuid.uuid4().hex[:6]}", role="staff")
    publish_all(publisher, [("plain/r1/cmd/a", b"before", 1, None)])
    try:
        reload(hub, acl_text(plain_roles=("staff",)))
        publish_all(publisher, [("plain/r1/cmd/b", b"revoked", 1, None)])
    finally:
        reload(hub, acl_text())
    publish_all(publisher, [("plain/r1/cmd/c", b"after", 1, None)])
    k = kitchen(hub, client_id, 4)
    assert sorted(p for t, p, _ in k.drain(1.0)) == [b"after", b"before"]
    k.close()
    publisher.close()


def test_another_user_resuming_an_offline_session_gets_none_of_its_messages(hub):
    """mosquitto re-checks every queued message against whoever resumes the
    session: a user of another restaurant taking the client id over gets
    nothing queued for the first."""
    client_id = f"kds-taken-{uuid.uuid4().hex[:6]}"
    k = kitchen(hub, client_id, 5, sub="kds-r1")
    assert k.subscribe("plain/r1/cmd/#") == [1]
    k.close()
    publisher = client(hub, f"pub-{uuid.uuid4().hex[:6]}", role="staff")
    publish_all(publisher, [("plain/r1/cmd/a", b"for r1", 1, None)])
    stranger = kitchen(hub, client_id, 5, sub="kds-r2", restaurants=("r2",))
    assert stranger.drain(1.0) == []
    stranger.close()
    publisher.close()


def test_offline_queue_outlives_the_token(postgres):
    """An offline session keeps its queue after its token expires: messages
    reach it only after it connects again with a valid token, re-checked
    against that identity."""
    d = service_dir()
    try:
        acl = write_service_file(os.path.join(d, "fynsync.acl"), acl_text())
        b = Broker(postgres, acl_file=acl, options={"jwt_leeway": "0"})
        try:
            client_id = f"kds-exp-{uuid.uuid4().hex[:6]}"
            k = Client(b.port, client_id, version=4, clean=False)
            k.connect("kds", b.token("kitchen", ["r1"], "kds", ttl=2))
            assert k.subscribe("plain/r1/cmd/#") == [1]
            k.close()
            time.sleep(2.5)
            publisher = b.client("staff", ["r1"])
            publish_all(publisher, [("plain/r1/cmd/a", b"while expired", 1, None)])
            k = Client(b.port, client_id, version=4, clean=False)
            k.connect("kds", b.token("kitchen", ["r1"], "kds"))
            assert [p for t, p, _ in k.drain(1.0)] == [b"while expired"]
            k.close()
            publisher.close()
        finally:
            b.assert_clean_exit()
            b.destroy()
    finally:
        shutil.rmtree(d, ignore_errors=True)
