"""The bad-input corpus (tests/corpus, manifest.json) against a real broker
with the plugin and PostgreSQL: every input gets the answer its manifest
entry names, and after each one the broker is alive and accepts a normal
submission. Inputs whose fate is mosquitto's own (a PUBLISH topic with a
wildcard, more than 200 levels, invalid UTF-8) are also sent to a stock
mosquitto without the plugin, and must meet the same fate there.

ctest label `corpus` (tests/README.md)."""

import json
import os
import signal
import struct
import sys
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import (Broker, Postgres, StockBroker, event, wait_for_log,  # noqa: E402
                     write_service_file)
from mqtt_raw import Closed, RawMqtt, user_properties  # noqa: E402

MANIFEST = json.load(open(os.path.join(HERE, "manifest.json")))
SECRET = MANIFEST["token_secret"]
GOOD_ID = "00000000-0000-4000-8000-000000000001"
QUIET = 0.5   # how long "no answer" is waited for


def read_input(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return f.read()


def generated(spec):
    """The inputs too large or too regular to keep as files."""
    kind, n = spec["generate"], spec.get("n", 0)
    if kind == "padded-event":
        # a valid order.created of exactly n bytes, its note padded
        head = ('{"id": "%s", "aggregate_id": "order-pad", "event_type": "order.created", '
                '"payload": {"status": "open", "total": 1, "items": [], "note": "' % (spec.get("gen_id") or spec["id"]))
        return (head + "x" * (n - len(head) - 3) + '"}}').encode()
    if kind == "nested-arrays":
        return ('{"id": "%s", "payload": ' % (spec.get("gen_id") or spec["id"]) + "[" * n + "]" * n + "}").encode()
    if kind == "bare-nesting":
        return b"[" * n
    if kind == "levels":
        return "/".join([spec.get("level", "a")] * n).encode()
    if kind == "long-level":
        return (spec["prefix"] + "x" * n).encode()
    raise ValueError(kind)


def payload_of(spec):
    return read_input(spec["input"]) if "input" in spec else generated(spec)


def topic_of(spec):
    if "topic_hex" in spec:
        return bytes.fromhex(spec["topic_hex"])
    if "generate" in spec:
        return generated(spec)
    return spec["topic"].encode()


def case_id(spec):
    return spec.get("name") or spec.get("input") or spec.get("topic") or spec.get("generate")


@pytest.fixture(scope="module")
def hub():
    pg = Postgres()
    broker = Broker(pg, secret=SECRET)
    victim = broker.client("manager", ["r1"], sub="victim")
    deadline = time.time() + 60   # the writer migrates the store when it first connects
    while victim.submit("r1", event(), timeout=10)["status"] != "accepted":
        assert time.time() < deadline, "the store never came up"
        time.sleep(0.2)
    yield broker, victim
    victim.close()
    broker.assert_clean_exit()
    broker.destroy()
    pg.destroy()


@pytest.fixture(scope="module")
def stock():
    s = StockBroker()    # mosquitto's own verdict, for the inputs whose fate is mosquitto's
    yield s
    s.destroy()


def stock_client(stock):
    return RawMqtt(stock.port, f"stock-{uuid.uuid4().hex[:8]}")


def manager_token(broker):
    return broker.token("manager", ["r1"], sub="corpus-manager")


def hostile_client(broker, role="manager"):
    c = RawMqtt(broker.port, f"corpus-{uuid.uuid4().hex[:8]}", None,
                broker.token(role, ["r1"], sub=f"corpus-{role}"))
    assert c.connack == 0, f"CONNACK 0x{c.connack:02x}"
    return c


def assert_hub_healthy(broker, victim):
    """The broker runs and a normal submission is accepted."""
    assert broker.process.poll() is None, "broker died:\n" + broker.read_log()[-3000:]
    ack = victim.submit("r1", event(), timeout=10)
    assert ack["status"] == "accepted", ack


def fate(client):
    return "alive" if client.alive() else "disconnect"


# ---- submissions: the ack's code and id ----

@pytest.mark.parametrize("spec", MANIFEST["submissions"], ids=case_id)
def test_submission(hub, spec):
    broker, victim = hub
    c = hostile_client(broker, spec.get("role", "manager"))
    try:
        c.publish(spec.get("topic", "fynlo/v1/in/r1/order/created"), payload_of(spec), qos=1)
        ack = c.answer("ack", 10)
        assert ack is not None, "no answer within 10 s"
        got = ack["status"] if ack["status"] == "accepted" else ack["code"]
        assert (got, ack["id"]) == (spec["expect"], spec["id"]), ack
    finally:
        c.close()
    assert_hub_healthy(broker, victim)


# ---- topics a client publishes to ----

def publish_properties(spec):
    props = bytes.fromhex(spec.get("properties_hex", ""))
    if "user_properties" in spec:
        props += user_properties(*spec["user_properties"])
    for name, code in (("content_type_len", 0x03), ("correlation_data_len", 0x09)):
        if name in spec:
            props += bytes([code]) + struct.pack("!H", spec[name]) + b"c" * spec[name]
    return props


@pytest.mark.parametrize("spec", MANIFEST["topics"], ids=case_id)
def test_topic(hub, stock, spec):
    broker, victim = hub
    c = hostile_client(broker)
    payload = read_input(spec.get("input", "envelope/good-order.json"))
    props = publish_properties(spec)
    try:
        c.publish(topic_of(spec), payload, qos=1, properties=props)
        if spec["expect"] == "as-stock":
            s = stock_client(stock)
            s.publish(topic_of(spec), payload, qos=1, properties=props)
            assert fate(c) == fate(s) == spec["fate"]
            s.close()
        elif spec["expect"] == "silent":
            assert c.answer("ack", QUIET) is None
            assert fate(c) == "alive"
        else:
            ack = c.answer("ack", 10)
            assert ack is not None, "no answer within 10 s"
            assert (ack["status"] if ack["status"] == "accepted" else ack["code"]) == spec["expect"], ack
            assert ack["id"] == GOOD_ID
    finally:
        c.close()
    assert_hub_healthy(broker, victim)


# ---- subscriptions ----

@pytest.mark.parametrize("spec", MANIFEST["subscriptions"], ids=case_id)
def test_subscription(hub, stock, spec):
    broker, victim = hub
    c = hostile_client(broker)
    try:
        if spec["expect"] == "as-stock":
            s = stock_client(stock)
            for client in (c, s):
                try:
                    client.subscribe(topic_of(spec), timeout=2)
                except (Closed, TimeoutError):
                    pass
            assert fate(c) == fate(s) == spec["fate"]
            s.close()
        else:
            codes = c.subscribe(topic_of(spec))
            assert codes and (codes[0] < 0x80) == (spec["expect"] == "granted"), [hex(x) for x in codes]
            assert fate(c) == "alive"
    finally:
        c.close()
    assert_hub_healthy(broker, victim)


# ---- CONNECT fields at and beyond their limits ----

def connect_fields(broker, spec):
    cid = spec.get("client_id", f"corpus-{uuid.uuid4().hex[:8]}")
    if "client_id_len" in spec:
        cid = "c" * spec["client_id_len"]
    if "client_id_hex" in spec:
        cid = bytes.fromhex(spec["client_id_hex"])
    username = spec.get("username")
    if "username_len" in spec:
        username = "u" * spec["username_len"]
    password = manager_token(broker).encode()
    if "password" in spec:
        password = None if spec["password"] is None else spec["password"].encode()
    if "password_len" in spec:
        password = b"p" * spec["password_len"]
    if "password_file" in spec:
        password = read_input(spec["password_file"]).strip()
    props = b""
    if "user_properties" in spec:
        props += user_properties(*spec["user_properties"])
    if "properties_hex" in spec:
        props += bytes.fromhex(spec["properties_hex"])
    return cid, username, password, props


@pytest.mark.parametrize("spec", MANIFEST["connect"], ids=case_id)
def test_connect(hub, stock, spec):
    broker, victim = hub
    cid, username, password, props = connect_fields(broker, spec)
    try:
        c = RawMqtt(broker.port, cid, username, password, props)
        result = "accepted" if c.connack == 0 else "refused"
    except Closed:
        c, result = None, "closed"
    if spec["expect"] == "as-stock":
        try:
            s = RawMqtt(stock.port, cid, None, None, props)
            stock_result = "accepted" if s.connack == 0 else "refused"
            s.close()
        except Closed:
            stock_result = "closed"
        assert result == stock_result == spec["fate"]
    else:
        assert result == spec["expect"], f"CONNACK 0x{c.connack:02x}" if c else "closed"
    if c and result == "accepted":
        if spec.get("then") == "submit":
            c.publish("fynlo/v1/in/r1/order/created", read_input("envelope/good-order.json").replace(
                b"000000000001", uuid.uuid4().hex[:12].encode()), qos=1)
            c.answer("ack", QUIET)
        assert fate(c) == "alive"
    if c:
        c.close()
    assert_hub_healthy(broker, victim)


# ---- tokens as the MQTT password (no username: the token is the identity) ----

@pytest.mark.parametrize("spec", MANIFEST["tokens"], ids=case_id)
def test_token(hub, spec):
    broker, victim = hub
    try:
        c = RawMqtt(broker.port, f"corpus-{uuid.uuid4().hex[:8]}", None, read_input(spec["input"]))
        result = "accepted" if c.connack == 0 else "refused"
        c.close()
    except Closed:
        result = "refused"
    assert result == spec["expect"]
    assert_hub_healthy(broker, victim)


# ---- control requests ----

@pytest.mark.parametrize("spec", MANIFEST["control"], ids=case_id)
def test_control(hub, spec):
    broker, victim = hub
    c = hostile_client(broker)
    verb = spec["verb"]
    try:
        c.publish(spec.get("topic", f"fynlo/v1/ctl/{verb}"), payload_of(spec), qos=1)
        kind = {"error": "error", "replay.done": "replay.done", "snapshot": "snapshot",
                "token-accepted": "ack", "token-rejected": "ack"}[spec["expect"]]
        answer = c.answer(kind, 10)
        assert answer is not None, f"no {kind} within 10 s"
        if kind == "error":
            assert answer["verb"] == spec.get("verb_seen", verb) and answer["reason"], answer
        if kind == "ack":
            assert answer["id"] == "token"
            assert answer["status"] == ("accepted" if spec["expect"] == "token-accepted" else "rejected"), answer
        assert fate(c) == "alive"
    finally:
        c.close()
    assert_hub_healthy(broker, victim)


# ---- ACL files: a reload takes a valid one and refuses a broken one by line ----

@pytest.mark.parametrize("spec", MANIFEST["acl"], ids=case_id)
def test_acl_reload(hub, spec):
    broker, victim = hub
    default = read_input("acl/default.acl")
    start = len(broker.read_log())
    write_service_file(broker.acl_file, read_input(spec["input"]))
    broker.signal(signal.SIGHUP)
    try:
        if spec["expect"] == "valid":
            wait_for_log(broker, "fynsync: reloaded ACL", start)
        else:
            log = wait_for_log(broker, "fynsync: ACL file not loaded", start)
            assert f"{broker.acl_file}:{spec['line']}: " in log, log
    finally:
        start = len(broker.read_log())
        write_service_file(broker.acl_file, default)
        broker.signal(signal.SIGHUP)
        wait_for_log(broker, "fynsync: reloaded ACL", start)
    assert_hub_healthy(broker, victim)


def test_manifest_names_every_corpus_file():
    listed = {spec["input"] for section in MANIFEST.values() if isinstance(section, list)
              for spec in section if "input" in spec}
    listed |= {spec["password_file"] for spec in MANIFEST["connect"] if "password_file" in spec}
    on_disk = {f"{d}/{f}" for d in ("envelope", "token", "control", "acl") for f in os.listdir(os.path.join(HERE, d))}
    assert on_disk - listed == set(), "corpus files without an expected answer"
    assert listed - on_disk == set(), "manifest entries without a file"
