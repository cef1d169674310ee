"""Issue 4, as an attacker would try it: forged and broken tokens, hostile
client ids, cross-restaurant publishes and subscriptions (exact and by
wildcard), role limits, redacted views, presence, token expiry and in-band
refresh -- against a real broker with the plugin and a real PostgreSQL.

CONNECT outcomes are read with the harness's raw MQTT client so that the
exact CONNACK / DISCONNECT bytes are seen and nothing reconnects behind the
test's back; everything else uses the harness's paho client."""

import base64
import datetime
import hashlib
import hmac
import json
import os
import queue
import shutil
import threading
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness import (DEFAULT_ACL, Broker, Client, RawClient, event, service_dir, wait_for_log,
                     write_service_file)

REFUSED_V5 = (0x86, 0x87)    # bad user name or password / not authorized
REFUSED_V3 = (4, 5)          # bad user name or password / not authorized
SUBACK_FAILURE_V3 = 0x80
COST_KEYS = ("cost", "profit_margin")


# ---------------------------------------------------------------------------
# Tokens.

DROP = object()


def claims(role="staff", restaurants=("r1",), sub="mallory", ttl=3600, **extra):
    now = int(time.time())
    body = {"sub": sub, "role": role, "exp": now + ttl, "iat": now}
    if restaurants is not None:
        body["restaurants"] = list(restaurants)
    body.update(extra)
    return {k: v for k, v in body.items() if v is not DROP}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header, body, key=None, signature=None):
    """A compact JWS with any header; HMAC-SHA256 signed with key (bytes)
    unless signature is given."""
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(body).encode())
    if signature is None:
        signature = b64url(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key is not None else ""
    return signing_input + "." + signature


def secret_of(broker):
    return broker.secret.encode()


def new_cid(prefix="atk"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def connect_code(broker, token, username="mallory", client_id=None, version=5):
    client = RawClient(broker.port, client_id or new_cid(), username, token, version)
    code = client.connack
    client.close()
    return code


def assert_refused(broker, token, username="mallory", client_id=None, reason_words=(), version=5):
    """CONNECT is refused with a failure CONNACK, and the hub logs exactly one
    refusal line for it, with the reason and never the token."""
    client_id = client_id or new_cid()
    offset = len(broker.read_log())
    code = connect_code(broker, token, username, client_id, version)
    assert code in (REFUSED_V5 if version == 5 else REFUSED_V3), f"CONNACK {code:#x} for {client_id!r}"
    wait_for_log(broker, "refused connection", offset, timeout=2)
    time.sleep(0.05)       # a second refusal line would have been written by now
    lines = [line for line in broker.read_log()[offset:].splitlines() if "refused connection" in line]
    assert len(lines) == 1, f"expected one refusal line for {client_id!r}: {lines}"
    assert f"'{client_id[:64]}'" in lines[0], lines[0]
    for word in reason_words:
        assert word in lines[0], lines[0]
    if token:
        log = broker.read_log()
        assert token not in log, "the log quotes the token"
        signature = token.rsplit(".", 1)[-1]
        assert len(signature) < 16 or signature not in log, "the log quotes the token's signature"
    return lines[0]


# ---------------------------------------------------------------------------
# CONNECT: forged and broken tokens (HS256 pinned, the default).

def _hs(broker, body, header=None):
    return forge(header or {"alg": "HS256", "typ": "JWT"}, body, secret_of(broker))


def _duplicate_role(broker):
    """A payload naming role twice: parsers that keep the last key would see
    platform_owner; the hub must refuse it outright."""
    body = json.dumps(claims()).replace('"role": "staff"', '"role": "staff", "role": "platform_owner"')
    assert body.count('"role"') == 2
    signing_input = b64url(b'{"alg":"HS256","typ":"JWT"}') + "." + b64url(body.encode())
    return signing_input + "." + b64url(hmac.new(secret_of(broker), signing_input.encode(), hashlib.sha256).digest())


HS256_ATTACKS = {
    # name: (token factory, username, words expected in the refusal line)
    "alg_none_empty_signature": (lambda b: forge({"alg": "none", "typ": "JWT"}, claims(), signature=""), "mallory", ("alg",)),
    "alg_none_with_signature": (lambda b: forge({"alg": "none"}, claims(), secret_of(b)), "mallory", ("alg",)),
    "alg_None_mixed_case": (lambda b: forge({"alg": "None"}, claims(), signature=""), "mallory", ("alg",)),
    "alg_missing": (lambda b: forge({"typ": "JWT"}, claims(), secret_of(b)), "mallory", ("alg",)),
    "alg_HS512_same_secret": (lambda b: forge({"alg": "HS512"}, claims(), secret_of(b)), "mallory", ("HS512",)),
    "alg_RS256_header": (lambda b: forge({"alg": "RS256"}, claims(), secret_of(b)), "mallory", ("RS256",)),
    "wrong_secret": (lambda b: forge({"alg": "HS256"}, claims(), os.urandom(32).hex().encode()), "mallory", ("signature",)),
    "payload_swapped_after_signing": (
        lambda b: ".".join(_hs(b, claims(role="platform_owner", restaurants=None)).split(".")[:2]
                           + _hs(b, claims()).split(".")[2:]), "mallory", ("signature",)),
    "signature_stripped": (lambda b: _hs(b, claims()).rsplit(".", 1)[0] + ".", "mallory", ("signature",)),
    "expired": (lambda b: _hs(b, claims(ttl=-5)), "mallory", ("expired",)),
    "expired_long_ago": (lambda b: _hs(b, claims(exp=1)), "mallory", ("expired",)),
    "nbf_in_future": (lambda b: _hs(b, claims(nbf=int(time.time()) + 120)), "mallory", ("not yet valid",)),
    "username_not_sub": (lambda b: _hs(b, claims(sub="alice")), "bob", ("username",)),
    "username_differs_in_case": (lambda b: _hs(b, claims(sub="alice")), "Alice", ("username",)),
    "staff_without_restaurants": (lambda b: _hs(b, claims(restaurants=None)), "mallory", ("restaurants",)),
    "staff_with_empty_restaurants": (lambda b: _hs(b, claims(restaurants=[])), "mallory", ("restaurants",)),
    "restaurants_a_string": (lambda b: _hs(b, dict(claims(), restaurants="r1")), "mallory", ("restaurants",)),
    "restaurant_wildcard_plus": (lambda b: _hs(b, claims(restaurants=["+"])), "mallory", ("restaurants",)),
    "restaurant_wildcard_hash": (lambda b: _hs(b, claims(restaurants=["#"])), "mallory", ("restaurants",)),
    "restaurant_with_slash": (lambda b: _hs(b, claims(restaurants=["r1/../r2"])), "mallory", ("restaurants",)),
    "restaurant_platform": (lambda b: _hs(b, claims(restaurants=["platform"])), "mallory", ("restaurants",)),
    "role_unknown": (lambda b: _hs(b, claims(role="admin")), "mallory", ("role",)),
    "role_wrong_case": (lambda b: _hs(b, claims(role="Platform_Owner", restaurants=None)), "mallory", ("role",)),
    "role_not_a_string": (lambda b: _hs(b, claims(role=["platform_owner"])), "mallory", ("role",)),
    "role_missing": (lambda b: _hs(b, claims(role=DROP)), "mallory", ("role",)),
    "sub_missing": (lambda b: _hs(b, claims(sub=DROP)), None, ("sub",)),
    "sub_not_a_string": (lambda b: _hs(b, claims(sub=42)), None, ("sub",)),
    "exp_missing": (lambda b: _hs(b, claims(exp=DROP)), "mallory", ("exp",)),
    "exp_as_string": (lambda b: _hs(b, claims(exp=str(int(time.time()) + 3600))), "mallory", ("exp",)),
    "nbf_as_string": (lambda b: _hs(b, claims(nbf="0")), "mallory", ("nbf",)),
    "not_a_jwt": (lambda b: "hunter2", "mallory", ("malformed",)),
    "duplicate_role_key": (lambda b: _duplicate_role(b), "mallory", ()),
    "no_password": (lambda b: None, "mallory", ("token",)),
    "anonymous": (lambda b: None, None, ("token",)),
    "empty_password": (lambda b: "", "mallory", ("token",)),
    "oversized_token": (lambda b: _hs(b, claims(pad="x" * 9000)), "mallory", ("too large",)),
}


@pytest.mark.parametrize("version", [5, 4], ids=["mqtt5", "mqtt311"])
def test_a_genuine_token_connects(broker, version):
    """The control for every refusal below: the same builder, unforged."""
    assert connect_code(broker, _hs(broker, claims()), "mallory", version=version) == 0
    assert connect_code(broker, _hs(broker, claims(role="platform_owner", restaurants=None)), "mallory",
                        version=version) == 0


def test_a_token_only_mqtt5_client_connects(broker):
    assert connect_code(broker, _hs(broker, claims()), username=None, version=5) == 0


@pytest.mark.parametrize("version", [5, 4], ids=["mqtt5", "mqtt311"])
@pytest.mark.parametrize("attack", sorted(HS256_ATTACKS))
def test_forged_or_broken_token_is_refused_at_connect(broker, attack, version):
    make, username, words = HS256_ATTACKS[attack]
    if version == 4 and username is None:
        username = "mallory"     # MQTT 3.1.1 cannot send a password without a user name
    assert_refused(broker, make(broker), username, reason_words=words, version=version)


def test_an_mqtt5_authentication_method_does_not_bypass_the_token(broker):
    """Enhanced authentication (AUTH method) is not offered: naming a method,
    with or without a valid password, is refused rather than let through."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    for password in (None, _hs(broker, claims())):
        codes = queue.Queue()
        c = mqtt.Client(client_id=new_cid("auth"), protocol=mqtt.MQTTv5)
        c.on_connect = lambda client, userdata, flags, rc, properties=None: codes.put(rc.value)
        if password:
            c.username_pw_set("mallory", password)
        props = Properties(PacketTypes.CONNECT)
        props.AuthenticationMethod = "SCRAM-SHA-256"
        props.AuthenticationData = b"n,,n=mallory,r=x"
        c.reconnect_delay_set(60, 120)
        c.connect("127.0.0.1", broker.port, properties=props)
        c.loop_start()
        try:
            code = codes.get(timeout=5)
        except queue.Empty:
            code = None        # no CONNACK at all: the connection was closed, which refuses it too
        connected = c.is_connected()
        c.loop_stop()
        c.disconnect()
        assert not connected and (code is None or code >= 0x80), code


@pytest.mark.parametrize("client_id", ["till/1", "till+1", "till#1", "+", "#", "x" * 65, "$SYS", "till 1",
                                       "caf\u00e9", "r1/../r2"])
@pytest.mark.parametrize("version", [5, 4], ids=["mqtt5", "mqtt311"])
def test_client_id_outside_the_charset_is_refused(broker, client_id, version):
    line = assert_refused(broker, _hs(broker, claims()), "mallory", client_id=client_id, version=version)
    assert "client id" in line


@pytest.mark.parametrize("client_id", ["x" * 64, "a.B_c-9", "1"])
def test_client_id_inside_the_charset_connects(broker, client_id):
    assert connect_code(broker, _hs(broker, claims()), "mallory", client_id=client_id) == 0


# ---------------------------------------------------------------------------
# RS256 / ES256 pinned: algorithm confusion.

def _public_pem(private_key):
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


def _private_pem(private_key):
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


@pytest.fixture(scope="module")
def rsa_broker(postgres):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keydir = service_dir("fynsync-rsa-")
    path = write_service_file(os.path.join(keydir, "jwt.pub.pem"), _public_pem(key))
    b = Broker(postgres, options={"jwt_alg": "RS256", "jwt_key_file": path})
    b.rsa_key = key
    b.public_pem = _public_pem(key)
    yield b
    b.assert_clean_exit()
    b.destroy()
    shutil.rmtree(keydir, ignore_errors=True)


def test_rs256_genuine_token_connects(rsa_broker):
    token = jwt.encode(claims(), _private_pem(rsa_broker.rsa_key), algorithm="RS256")
    assert connect_code(rsa_broker, token) == 0


RS256_ATTACKS = ["hs256_keyed_with_the_public_pem", "hs256_keyed_with_the_pem_stripped", "hs256_keyed_with_the_der",
                 "rs256_header_hmac_with_pem", "alg_none", "rs256_other_key", "rs256_embedded_attacker_jwk",
                 "es256_token", "rs512_same_key", "ps256_same_key", "rs256_expired", "rs256_payload_swapped"]


@pytest.fixture(scope="module")
def rs256_attacks(rsa_broker):
    b = rsa_broker
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pem = b.public_pem
    der = b.rsa_key.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    genuine = jwt.encode(claims(), _private_pem(b.rsa_key), algorithm="RS256")
    other_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(other.public_key()))
    attacks = {
        # The classic confusion: HMAC keyed with the verifier's public key.
        "hs256_keyed_with_the_public_pem": forge({"alg": "HS256", "typ": "JWT"}, claims(), pem),
        "hs256_keyed_with_the_pem_stripped": forge({"alg": "HS256", "typ": "JWT"}, claims(), pem.strip()),
        "hs256_keyed_with_the_der": forge({"alg": "HS256", "typ": "JWT"}, claims(), der),
        "rs256_header_hmac_with_pem": forge({"alg": "RS256", "typ": "JWT"}, claims(), pem),
        "alg_none": forge({"alg": "none"}, claims(), signature=""),
        "rs256_other_key": jwt.encode(claims(), _private_pem(other), algorithm="RS256"),
        "rs256_embedded_attacker_jwk": jwt.encode(claims(), _private_pem(other), algorithm="RS256",
                                                  headers={"jwk": other_jwk}),
        "es256_token": jwt.encode(claims(), _private_pem(ec_key), algorithm="ES256"),
        "rs512_same_key": jwt.encode(claims(), _private_pem(b.rsa_key), algorithm="RS512"),
        "ps256_same_key": jwt.encode(claims(), _private_pem(b.rsa_key), algorithm="PS256"),
        "rs256_expired": jwt.encode(claims(ttl=-5), _private_pem(b.rsa_key), algorithm="RS256"),
        "rs256_payload_swapped": ".".join(
            [genuine.split(".")[0],
             b64url(json.dumps(claims(role="platform_owner", restaurants=None)).encode()),
             genuine.split(".")[2]]),
    }
    assert sorted(attacks) == sorted(RS256_ATTACKS)
    return attacks


@pytest.mark.parametrize("attack", RS256_ATTACKS)
def test_rs256_pinned_refuses_algorithm_confusion_and_forgeries(rsa_broker, rs256_attacks, attack):
    assert_refused(rsa_broker, rs256_attacks[attack])


def test_es256_pinned_accepts_es256_and_refuses_the_rest(postgres):
    key = ec.generate_private_key(ec.SECP256R1())
    keydir = service_dir("fynsync-ec-")
    path = write_service_file(os.path.join(keydir, "jwt.pub.pem"), _public_pem(key))
    b = Broker(postgres, options={"jwt_alg": "ES256", "jwt_key_file": path})
    try:
        assert connect_code(b, jwt.encode(claims(), _private_pem(key), algorithm="ES256")) == 0
        assert connect_code(b, forge({"alg": "HS256"}, claims(), _public_pem(key))) in REFUSED_V5
        assert connect_code(b, jwt.encode(claims(), _private_pem(ec.generate_private_key(ec.SECP256R1())),
                                          algorithm="ES256")) in REFUSED_V5
        assert connect_code(b, forge({"alg": "none"}, claims(), signature="")) in REFUSED_V5
    finally:
        b.assert_clean_exit()
        b.destroy()
        shutil.rmtree(keydir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Cross-restaurant publish.

@pytest.fixture(scope="module")
def store(broker, postgres):
    """PostgreSQL once the hub has created its schema (on its first write)."""
    c = broker.client("staff", ["warmup"])
    assert c.submit("warmup", event())["status"] == "accepted"
    c.close()
    return postgres


def test_cross_restaurant_submit_is_forbidden_and_not_stored(broker, store):
    till = broker.client("staff", ["r1"], sub="mallory")
    r2_owner = broker.client("restaurant_owner", ["r2"])
    assert r2_owner.subscribe("fynlo/v1/ev/r2/full/#") == [1]
    events = []
    for topic_rid, event_type in [("r2", "order.created"), ("r2", "inventory.adjusted"), ("r2", "menu.updated")]:
        e = event(event_type)
        events.append(e)
        domain, action = event_type.split(".")
        till.publish(f"fynlo/v1/in/{topic_rid}/{domain}/{action}", e)
        ack = till.ack_for(e["id"])
        assert ack["status"] == "rejected" and ack["code"] == "forbidden", ack
    ids = [e["id"] for e in events]
    assert store.query("SELECT count(*) FROM events WHERE id::text = ANY(%s)", ids) == [(0,)]
    assert r2_owner.drain(0.3) == []
    # The control: the same till may write its own restaurant.
    assert till.submit("r1", event())["status"] == "accepted"
    till.close()
    r2_owner.close()


def test_mqtt311_client_hears_forbidden_too(broker, store):
    till = broker.client("staff", ["r1"], version=3)
    e = event()
    till.publish("fynlo/v1/in/r2/order/created", e)
    ack = till.ack_for(e["id"])
    assert ack["status"] == "rejected" and ack["code"] == "forbidden"
    assert store.query("SELECT count(*) FROM events WHERE id = %s", e["id"]) == [(0,)]
    till.close()


def test_publishing_straight_to_hub_topics_reaches_nobody(broker):
    """Forged confirmed events, presence, metrics and acks published by a
    client are not delivered and not retained."""
    marker = uuid.uuid4().hex
    owner = broker.client("restaurant_owner", ["r1"])
    assert owner.subscribe("fynlo/v1/ev/r1/full/#") == [1]
    victim = broker.client("staff", ["r1"], sub="victim")
    assert victim.subscribe("fynlo/v1/ev/r1/redacted/#") == [1]
    assert victim.subscribe(f"fynlo/v1/client/{victim.client_id}/#") == [1]
    platform = broker.client("platform_owner", None)
    assert platform.subscribe("fynlo/v1/presence/#") == [1]
    assert platform.subscribe("fynlo/v1/sys/metrics") == [1]
    assert platform.subscribe("fynlo/v1/ev/+/full/#") == [1]
    for c in (owner, victim, platform):
        c.drain(0.2)
    forger = broker.client("staff", ["r1"], sub="mallory")
    forged = dict(event(), seq=1, restaurant="r1", created_by="boss", marker=marker)
    for topic, retain in [("fynlo/v1/ev/r1/full/order/created", False),
                          ("fynlo/v1/ev/r1/redacted/order/created", True),
                          ("fynlo/v1/ev/platform/full/platform/announcement", False),
                          (f"fynlo/v1/presence/r1/{victim.client_id}", True),
                          ("fynlo/v1/presence/r1/ghost-till", True),
                          ("fynlo/v1/sys/metrics", True),
                          (f"fynlo/v1/client/{victim.client_id}/ack", False)]:
        forger.publish(topic, dict(forged, topic=topic), retain=retain).wait_for_publish(5)
    got = owner.drain(0.5) + victim.drain(0.1) + platform.drain(0.1)
    assert not [m for m in got if marker.encode() in m[1]], got
    late = broker.client("platform_owner", None)
    late.subscribe("fynlo/v1/presence/#")
    late.subscribe("fynlo/v1/sys/metrics")
    late.subscribe("fynlo/v1/ev/+/full/#")
    got = late.drain(0.5)
    assert not [m for m in got if marker.encode() in m[1]], got
    for c in (owner, victim, platform, forger, late):
        c.close()


@pytest.mark.parametrize("version", [5, 4], ids=["mqtt5", "mqtt311"])
def test_wills_cannot_forge_hub_topics_or_submit(broker, store, version):
    """A will is published by the broker after the connection is gone; it must
    not get past the ACL on a topic the client could not write, nor be taken
    as a submission."""
    marker = uuid.uuid4().hex
    owner = broker.client("restaurant_owner", ["r1"])
    assert owner.subscribe("fynlo/v1/ev/r1/full/#") == [1]
    assert owner.subscribe("fynlo/v1/presence/r1/+") == [1]
    owner.drain(0.2)
    e = event()
    wills = [("fynlo/v1/presence/r1/ghost-till", json.dumps({"role": "platform_owner", "m": marker}), True),
             ("fynlo/v1/ev/r1/full/order/created", json.dumps(dict(e, seq=1, m=marker)), True),
             ("fynlo/v1/in/r1/order/created", json.dumps(e), False),
             ("fynlo/v1/in/r2/order/created", json.dumps(dict(e, id=str(uuid.uuid4()))), False)]
    raws = []
    for topic, payload, retain in wills:
        raw = RawClient(broker.port, new_cid("will"), "mallory", _hs(broker, claims()), version,
                        will=(topic, payload, retain))
        assert raw.connack == 0
        raws.append(raw)
    for raw in raws:
        raw.drop()
    got = owner.drain(0.8)
    assert not [m for m in got if marker.encode() in m[1] or "ghost" in m[0]], got
    probe = broker.client("platform_owner", None)
    probe.subscribe("fynlo/v1/presence/#")
    probe.subscribe("fynlo/v1/ev/+/full/#")
    assert not [m for m in probe.drain(0.4) if marker.encode() in m[1] or "ghost" in m[0]]
    assert store.query("SELECT count(*) FROM events WHERE id = %s", e["id"]) == [(0,)]
    owner.close()
    probe.close()


def test_envelope_cannot_redirect_an_event_to_another_restaurant(broker, store):
    """The topic's restaurant is checked against the token; restaurant, seq
    and created_by in the body are the hub's to set."""
    r2_owner = broker.client("restaurant_owner", ["r2"])
    assert r2_owner.subscribe("fynlo/v1/ev/r2/full/#") == [1]
    till = broker.client("staff", ["r1"], sub="mallory")
    e = event(restaurant="r2", created_by="r2-boss", seq=1)
    ack = till.submit("r1", e)
    assert ack["status"] == "accepted", ack
    assert store.query("SELECT restaurant, created_by FROM events WHERE id = %s", e["id"]) == [("r1", "mallory")]
    assert r2_owner.drain(0.4) == []
    till.close()
    r2_owner.close()


def test_forged_token_is_refused_over_websockets_too(broker):
    genuine = Client(broker.ws_port, new_cid("ws"), transport="websockets")
    assert genuine.connect("mallory", _hs(broker, claims())) == 0
    genuine.close()
    forged = Client(broker.ws_port, new_cid("ws"), transport="websockets")
    forged.mqtt.reconnect_delay_set(60, 120)
    code = forged.connect("mallory", forge({"alg": "none"}, claims(role="platform_owner", restaurants=None),
                                           signature=""), expect_ok=False)
    forged.close()
    assert code in REFUSED_V5


def test_hub_inboxes_are_never_delivered_even_when_the_file_grants_everything(postgres):
    """An admin's over-broad `allow read #` must still not leak other clients'
    submissions or refresh tokens (fynlo/v1/in/ and fynlo/v1/ctl/)."""
    with open(DEFAULT_ACL) as f:
        text = f.read()
    text = text.replace("role platform_owner\nreceive full\n", "role platform_owner\nreceive full\nallow read #\n")
    assert "allow read #" in text
    acl_dir = service_dir("fynsync-acl-")
    acl = write_service_file(os.path.join(acl_dir, "fynsync.acl"), text)
    b = Broker(postgres, acl_file=acl)
    try:
        spy = b.client("platform_owner", None, sub="spy")
        assert spy.subscribe("#") == [1]
        assert spy.subscribe("fynlo/v1/ctl/#") == [1]
        assert spy.subscribe("fynlo/v1/in/#") == [1]
        spy.drain(0.3)
        till = b.client("staff", ["r1"], sub="alice")
        assert till.subscribe(f"fynlo/v1/client/{till.client_id}/#") == [1]
        secret_token = b.token("staff", ["r1"], sub="alice", ttl=600)
        till.publish("fynlo/v1/ctl/token", {"token": secret_token})
        assert till.ack_for("token")["status"] == "accepted"
        e = event()
        assert till.submit("r1", e)["status"] == "accepted"
        got = spy.drain(0.7)
        topics = [t for t, _, _ in got]
        assert "fynlo/v1/ev/r1/full/order/created" in topics          # the grant works...
        assert not [t for t in topics if t.startswith(("fynlo/v1/in/", "fynlo/v1/ctl/"))], topics
        assert not [p for _, p, _ in got if secret_token.encode() in p]   # ...but never the inboxes
        spy.close()
        till.close()
    finally:
        b.assert_clean_exit()
        b.destroy()
        shutil.rmtree(acl_dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Cross-restaurant and out-of-view subscriptions.

STAFF_R1_REFUSED = [
    "fynlo/v1/ev/r2/redacted/#",
    "fynlo/v1/ev/r2/redacted/order/created",
    "fynlo/v1/ev/r2/full/#",
    "fynlo/v1/ev/+/redacted/#",
    "fynlo/v1/ev/+/redacted/order/created",
    "fynlo/v1/ev/#",
    "fynlo/v1/ev/+/+/#",
    "#",
    "+/#",
    "fynlo/#",
    "fynlo/v1/#",
    "fynlo/+/ev/r2/redacted/#",
    "+/v1/ev/r2/redacted/#",
    "$SYS/#",
    "$SYS/broker/clients/connected",
    "fynlo/v1/in/#",
    "fynlo/v1/in/r1/#",
    "fynlo/v1/in/r1/order/created",
    "fynlo/v1/ctl/#",
    "fynlo/v1/ctl/token",
    "fynlo/v1/ev/r1/full/#",
    "fynlo/v1/ev/r1/full/order/created",
    "fynlo/v1/ev/r1/+/order/created",
    "fynlo/v1/ev/r1/+/#",
    "fynlo/v1/client/+/ack",
    "fynlo/v1/client/#",
    "fynlo/v1/presence/r2/+",
    "fynlo/v1/presence/+/+",
    "fynlo/v1/presence/#",
    "fynlo/v1/sys/metrics",
    "$share/g/fynlo/v1/ev/r2/redacted/#",
    "$share/g/#",
]


def _failed(codes, version):
    return len(codes) == 1 and (codes[0] >= 0x80 if version == 5 else codes[0] == SUBACK_FAILURE_V3)


@pytest.mark.parametrize("version", [5, 3], ids=["mqtt5", "mqtt311"])
def test_staff_cannot_subscribe_outside_its_restaurant_and_view(broker, version):
    r2_owner = broker.client("restaurant_owner", ["r2"])
    assert r2_owner.subscribe("fynlo/v1/ev/r2/full/#") == [1]
    # An r2 till is connected, so retained r2 presence (and mosquitto's
    # retained $SYS topics) would arrive at once on any wrongly granted filter.
    r2_till = broker.client("staff", ["r2"], sub="r2-till")
    attacker = broker.client("staff", ["r1"], sub="mallory", version=version)
    granted = {f: attacker.subscribe(f) for f in STAFF_R1_REFUSED}
    assert {f: c for f, c in granted.items() if not _failed(c, version)} == {}
    # The control: its own restaurant's redacted view is granted.
    assert attacker.subscribe("fynlo/v1/ev/r1/redacted/order/#") == [1]
    # Then live r2 traffic: none of it may reach the attacker.
    e = event()
    assert r2_till.submit("r2", e)["status"] == "accepted"
    topic, _, _ = r2_owner.next_message(topic_filter="fynlo/v1/ev/r2/full/#")
    assert topic == "fynlo/v1/ev/r2/full/order/created"
    assert attacker.drain(0.7) == []
    for c in (r2_owner, attacker, r2_till):
        c.close()


@pytest.mark.parametrize("role, refused, granted", [
    ("restaurant_owner", ["fynlo/v1/ev/+/full/#", "fynlo/v1/ev/r2/full/#", "fynlo/v1/ev/r1/redacted/#", "#",
                          "fynlo/v1/#", "$SYS/#", "fynlo/v1/presence/+/+", "fynlo/v1/in/#", "fynlo/v1/ctl/#"],
     ["fynlo/v1/ev/r1/full/#", "fynlo/v1/ev/r1/full/+/created", "fynlo/v1/ev/platform/full/#"]),
    ("kitchen", ["fynlo/v1/ev/r1/redacted/#", "fynlo/v1/ev/r1/redacted/menu/#", "fynlo/v1/ev/r1/full/order/#",
                 "fynlo/v1/ev/r2/redacted/order/#"],
     ["fynlo/v1/ev/r1/redacted/order/#"]),
    ("platform_owner", ["$SYS/#", "#", "fynlo/v1/#", "fynlo/v1/in/#", "fynlo/v1/ctl/#", "fynlo/v1/ev/+/redacted/#",
                        "fynlo/v1/client/+/ack"],
     ["fynlo/v1/ev/+/full/#", "fynlo/v1/presence/#", "fynlo/v1/sys/metrics"]),
])
def test_other_roles_subscriptions(broker, role, refused, granted):
    c = broker.client(role, None if role == "platform_owner" else ["r1"])
    got = {f: c.subscribe(f) for f in refused}
    assert {f: codes for f, codes in got.items() if not _failed(codes, 5)} == {}
    got = {f: c.subscribe(f) for f in granted}
    assert {f: codes for f, codes in got.items() if codes != [1]} == {}
    c.close()


def test_multi_restaurant_token_reads_each_of_its_restaurants_only(broker):
    c = broker.client("staff", ["r1", "r3"])
    assert c.subscribe("fynlo/v1/ev/r1/redacted/#") == [1]
    assert c.subscribe("fynlo/v1/ev/r3/redacted/#") == [1]
    assert _failed(c.subscribe("fynlo/v1/ev/r2/redacted/#"), 5)
    assert _failed(c.subscribe("fynlo/v1/ev/+/redacted/#"), 5)
    c.close()


# ---------------------------------------------------------------------------
# Role limits: kitchen, platform announcements.

def test_kitchen_cannot_write_menu_but_moves_orders_along(broker, store):
    till = broker.client("staff", ["r1"])
    order = event()
    assert till.submit("r1", order)["status"] == "accepted"
    kitchen = broker.client("kitchen", ["r1"])
    menu = event("menu.updated", aggregate_id="burger",
                 payload={"item_id": "burger", "name": "Burger", "price": 1, "cost": 0, "available": True})
    ack = kitchen.submit("r1", menu)
    assert ack["status"] == "rejected" and ack["code"] == "forbidden", ack
    created = event()
    ack = kitchen.submit("r1", created)
    assert ack["status"] == "rejected" and ack["code"] == "forbidden", ack
    update = event("order.updated", aggregate_id=order["aggregate_id"], payload={"status": "preparing"})
    ack = kitchen.submit("r1", update)
    assert ack["status"] == "accepted", ack
    assert store.query("SELECT count(*) FROM events WHERE id::text = ANY(%s)",
                       [menu["id"], created["id"]]) == [(0,)]
    assert store.query("SELECT created_by FROM events WHERE id = %s", update["id"]) == [("kitchen-user",)]
    till.close()
    kitchen.close()


def _announcement():
    return event("platform.announcement", aggregate_id="announcement-1", payload={"text": "maintenance at 3am"})


@pytest.mark.parametrize("role", ["staff", "manager", "restaurant_owner", "kitchen"])
def test_only_the_platform_owner_announces(broker, store, role):
    c = broker.client(role, ["r1"])
    outcomes = []
    for topic in ("fynlo/v1/in/platform/platform/announcement", "fynlo/v1/in/r1/platform/announcement"):
        e = _announcement()
        c.publish(topic, e)
        ack = c.ack_for(e["id"])
        outcomes.append((topic, ack))
        assert ack["status"] == "rejected", (topic, ack)
        assert store.query("SELECT count(*) FROM events WHERE id = %s", e["id"]) == [(0,)]
    # The platform stream must never be written by this role.
    assert outcomes[0][1]["code"] == "forbidden"
    if role != "restaurant_owner":
        assert outcomes[1][1]["code"] == "forbidden", outcomes
    c.close()


def test_platform_owner_announces_and_everyone_reads_it_in_their_view(broker, store):
    staff = broker.client("staff", ["r1"])
    assert staff.subscribe("fynlo/v1/ev/platform/redacted/#") == [1]
    owner = broker.client("restaurant_owner", ["r2"])
    assert owner.subscribe("fynlo/v1/ev/platform/full/#") == [1]
    boss = broker.client("platform_owner", None)
    e = _announcement()
    ack = boss.submit("platform", e)
    assert ack["status"] == "accepted", ack
    assert store.query("SELECT restaurant, created_by FROM events WHERE id = %s", e["id"]) == \
        [("platform", "platform_owner-user")]
    assert staff.next_message(topic_filter="fynlo/v1/ev/platform/redacted/#")[0] == \
        "fynlo/v1/ev/platform/redacted/platform/announcement"
    assert owner.next_message(topic_filter="fynlo/v1/ev/platform/full/#")[0] == \
        "fynlo/v1/ev/platform/full/platform/announcement"
    for c in (staff, owner, boss):
        c.close()


# ---------------------------------------------------------------------------
# Redacted views.

def _redact(value):
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items() if k not in COST_KEYS}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _keys_anywhere(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys_anywhere(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys_anywhere(v)


SECRET_PAYLOAD = {
    "status": "open", "total": 1250, "cost": 400, "profit_margin": 0.68,
    "costume": "kept", "note": "cost price is secret", "margin": "kept",
    "items": [
        {"item_id": "burger", "qty": 1, "price": 1250, "cost": 410, "profit_margin": 0.67,
         "modifiers": [{"name": "cheese", "price": 100, "cost": 20, "profit_margin": 0.8,
                        "extra": {"cost": 1, "deep": [[{"profit_margin": 2, "cost": 3, "ok": True}]]}}]},
        {"item_id": "fries", "qty": 2, "price": 300, "cost": None},
    ],
    "breakdown": {"cost": {"labour": 100, "food": 300}, "x": {"y": {"z": {"profit_margin": 9, "w": 1}}}},
}


def test_staff_never_receive_cost_or_profit_margin_at_any_depth(broker):
    owner = broker.client("restaurant_owner", ["r1"])
    assert owner.subscribe("fynlo/v1/ev/r1/full/#") == [1]
    staff5 = broker.client("staff", ["r1"])
    assert staff5.subscribe("fynlo/v1/ev/r1/redacted/#") == [1]
    staff3 = broker.client("staff", ["r1"], version=3)
    assert staff3.subscribe("fynlo/v1/ev/r1/redacted/#") == [1]
    manager = broker.client("manager", ["r1"])
    assert manager.subscribe("fynlo/v1/ev/r1/redacted/#") == [1]
    kitchen = broker.client("kitchen", ["r1"])
    assert kitchen.subscribe("fynlo/v1/ev/r1/redacted/order/#") == [1]
    # A staff member may not reach for the full view, by name or wildcard.
    for f in ("fynlo/v1/ev/r1/full/#", "fynlo/v1/ev/r1/full/order/created", "fynlo/v1/ev/r1/+/order/created"):
        assert _failed(staff5.subscribe(f), 5), f
        assert _failed(staff3.subscribe(f), 3), f
    order = event(payload=json.loads(json.dumps(SECRET_PAYLOAD)))
    menu = event("menu.updated", aggregate_id="burger",
                 payload={"item_id": "burger", "name": "Burger", "price": 1250, "cost": 410, "available": True,
                          "profit_margin": 0.67})
    till = broker.client("manager", ["r1"], sub="submitter")
    assert till.submit("r1", order)["status"] == "accepted"
    assert till.submit("r1", menu)["status"] == "accepted"

    def received(client, count):
        out = []
        deadline = time.time() + 5
        while len(out) < count and time.time() < deadline:
            topic, raw, _ = client.next_message(max(0.05, deadline - time.time()))
            if "/ev/" in topic:
                out.append((topic, raw))
        return out

    full = dict((t, json.loads(raw)) for t, raw in received(owner, 2))
    assert full["fynlo/v1/ev/r1/full/order/created"]["payload"] == SECRET_PAYLOAD
    assert full["fynlo/v1/ev/r1/full/menu/updated"]["payload"]["cost"] == 410
    for client, expected in ((staff5, 2), (staff3, 2), (manager, 2), (kitchen, 1)):
        got = received(client, expected)
        assert len(got) == expected, (client.client_id, got)
        for topic, raw in got:
            assert "/redacted/" in topic, topic
            assert b'"cost":' not in raw.replace(b" ", b"") and b'"profit_margin":' not in raw.replace(b" ", b""), raw
            doc = json.loads(raw)
            assert not set(COST_KEYS) & set(_keys_anywhere(doc)), doc
            source = order if topic.endswith("order/created") else menu
            assert doc["payload"] == _redact(source["payload"]), doc
            assert doc["id"] == source["id"]
        assert client.drain(0.2) == []
    for c in (owner, staff5, staff3, manager, kitchen, till):
        c.close()


# ---------------------------------------------------------------------------
# Presence.

def _presence(client, cid, rid, timeout=5):
    topic = f"fynlo/v1/presence/{rid}/{cid}"
    return client.next_message(timeout, topic_filter=topic)


def _retained_presence(broker, rid, cid, wait=0.4):
    probe = broker.client("platform_owner", None)
    assert probe.subscribe(f"fynlo/v1/presence/{rid}/{cid}") == [1]
    got = [m for m in probe.drain(wait) if m[0] == f"fynlo/v1/presence/{rid}/{cid}"]
    probe.close()
    return got


def test_presence_is_set_on_connect_cleared_on_disconnect_and_private(broker):
    observer = broker.client("restaurant_owner", ["r1"])
    assert observer.subscribe("fynlo/v1/presence/r1/+") == [1]
    outsider = broker.client("staff", ["r2"], sub="outsider")
    for f in ("fynlo/v1/presence/r1/+", "fynlo/v1/presence/+/+", "fynlo/v1/presence/#", "fynlo/v1/presence/r1/#"):
        assert _failed(outsider.subscribe(f), 5), f
    assert outsider.subscribe("fynlo/v1/presence/r2/+") == [1]
    outsider.drain(0.2)
    observer.drain(0.2)

    before = datetime.datetime.now(datetime.timezone.utc)
    till = broker.client("staff", ["r1", "r3"], sub="alice", client_id=new_cid("till"))
    topic, raw, _ = _presence(observer, till.client_id, "r1")
    doc = json.loads(raw)
    assert doc["role"] == "staff" and doc["sub"] == "alice"
    connected_at = datetime.datetime.strptime(doc["connected_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    assert before - datetime.timedelta(seconds=1) <= connected_at <= datetime.datetime.now(datetime.timezone.utc)
    retained = _retained_presence(broker, "r1", till.client_id)
    assert len(retained) == 1 and retained[0][2] and json.loads(retained[0][1])["sub"] == "alice"
    assert len(_retained_presence(broker, "r3", till.client_id)) == 1
    assert outsider.drain(0.3) == [], "another restaurant saw r1's presence"

    till.close()
    topic, raw, _ = _presence(observer, till.client_id, "r1")
    assert raw == b""
    assert _retained_presence(broker, "r1", till.client_id) == []
    assert _retained_presence(broker, "r3", till.client_id) == []
    late = broker.client("staff", ["r2"], sub="outsider-2")
    late.subscribe("fynlo/v1/presence/r2/+")
    assert [m for m in late.drain(0.3) if till.client_id in m[0]] == []
    for c in (observer, outsider, late):
        c.close()


def test_another_user_cannot_take_a_connected_client_id_over(broker, store):
    """Client ids are chosen by clients. Taking a connected id over would kick
    the device and hand the newcomer what the hub sends to
    fynlo/v1/client/{cid}/: here the r1 till's snapshot, being computed when
    an r2 token connects with the till's id."""
    till = broker.client("staff", ["r1"], sub="alice")
    for _ in range(20):
        till.publish("fynlo/v1/in/r1/order/created", event())
    assert till.submit("r1", event())["status"] == "accepted"
    cid = new_cid("till")
    victim = _no_reconnect(broker.client("staff", ["r1"], sub="alice", client_id=cid))
    assert victim.subscribe(f"fynlo/v1/client/{cid}/#") == [1]
    victim.publish("fynlo/v1/ctl/snapshot", {"stream": "r1", "views": ["orders", "sales"]})
    for version in (5, 4):
        assert_refused(broker, _hs(broker, claims(sub="mallory", restaurants=["r2"])), "mallory",
                       client_id=cid, reason_words=("in use",), version=version)
    topic, payload, _ = victim.next_message(topic_filter=f"fynlo/v1/client/{cid}/snapshot")
    assert json.loads(payload)["orders"], "the till did not get its own snapshot"
    assert victim.disconnects.empty() and victim.mqtt.is_connected()
    assert len(_retained_presence(broker, "r1", cid)) == 1
    victim.close()
    till.close()


def test_presence_of_a_connection_taken_over_for_another_restaurant_is_cleared(broker):
    """The same user may take its client id over (a reconnect), also with a
    token for other restaurants: the old connection's presence must not stay
    behind as a ghost in the restaurant it left."""
    cid = new_cid("till")
    first = _no_reconnect(broker.client("staff", ["r1"], sub="alice", client_id=cid))
    assert len(_retained_presence(broker, "r1", cid)) == 1
    second = broker.client("staff", ["r2"], sub="alice", client_id=cid)
    assert first.disconnects.get(timeout=5) is not None
    first.close()
    time.sleep(0.2)
    assert _retained_presence(broker, "r1", cid) == [], "the r1 till still shows as present"
    assert len(_retained_presence(broker, "r2", cid)) == 1
    second.close()


def test_reconnect_with_the_same_client_id_keeps_presence(broker):
    cid = new_cid("till")
    first = _no_reconnect(broker.client("staff", ["r1"], sub="alice", client_id=cid))
    second = broker.client("staff", ["r1"], sub="alice", client_id=cid)
    first.disconnects.get(timeout=5)
    first.close()
    time.sleep(0.2)
    assert len(_retained_presence(broker, "r1", cid)) == 1, "the live connection lost its presence"
    second.close()
    time.sleep(0.2)
    assert _retained_presence(broker, "r1", cid) == []


def test_taking_over_another_restaurants_persistent_session_replays_nothing(broker, store):
    """Client ids are the client's choice: a token of r2 that reconnects with
    the client id of r1's persistent kitchen display must not be handed what
    that display missed (automatic resume) nor its queued messages."""
    cid = new_cid("kds")
    kds = Client(broker.port, cid, version=3, clean=False)
    kds.mqtt.reconnect_delay_set(60, 120)
    kds.connect("kds", broker.token("kitchen", ["r1"], sub="kds"))
    assert kds.subscribe("fynlo/v1/ev/r1/redacted/order/#") == [1]
    till = broker.client("staff", ["r1"], sub="alice")
    assert till.submit("r1", event())["status"] == "accepted"
    assert len([m for m in kds.drain(0.4) if "/ev/" in m[0]]) == 1
    time.sleep(2.2)                     # durable cursors are saved with 1-2 s lag
    kds.close()
    missed = [till.submit("r1", event())["seq"] for _ in range(3)]
    assert all(isinstance(s, int) for s in missed)
    # The intruder first (so that there is a backlog to leak), then the
    # control: the display itself still gets what it missed.
    intruder = Client(broker.port, cid, version=3, clean=False)
    intruder.mqtt.reconnect_delay_set(60, 120)
    intruder.connect("mallory", broker.token("staff", ["r2"], sub="mallory"))
    leaked = [m for m in intruder.drain(1.2) if "/r1/" in m[0]]
    intruder.close()
    assert leaked == [], leaked
    again = Client(broker.port, cid, version=3, clean=False)
    again.mqtt.reconnect_delay_set(60, 120)
    again.connect("kds", broker.token("kitchen", ["r1"], sub="kds"))
    replayed = {json.loads(p)["seq"] for t, p, _ in again.drain(1.2) if "/ev/r1/" in t}
    again.close()
    till.close()
    assert set(missed) <= replayed, (missed, replayed)


# ---------------------------------------------------------------------------
# Token expiry and in-band refresh.

def test_expired_connection_is_disconnected_within_2s_with_a_reason_code(broker):
    """ttl 2 s, MQTT 5 and 3.1.1 side by side; the issue asks for a disconnect
    within 2 s of exp (asserted with slack: 3.5 s) and, for MQTT 5, a
    DISCONNECT reason code. Its presence goes with it."""
    exp = int(time.time()) + 2
    observer = broker.client("restaurant_owner", ["r1"])
    assert observer.subscribe("fynlo/v1/presence/r1/+") == [1]
    raws, cids = {}, {}
    for version in (5, 4):
        cids[version] = new_cid(f"exp{version}")
        raws[version] = RawClient(broker.port, cids[version], "mallory", _hs(broker, claims(exp=exp)), version)
        assert raws[version].connack == 0
    threads = [threading.Thread(target=r.wait_closed, args=(exp - time.time() + 6,)) for r in raws.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies = {v: (r.closed_at - exp) if r.closed_at else None for v, r in raws.items()}
    print(f"\nexpiry: disconnect latency after exp {latencies}, "
          f"MQTT 5 DISCONNECT reason code {raws[5].disconnect_reason!r}")
    for version, latency in latencies.items():
        assert latency is not None, f"MQTT {version} client still connected 6 s after exp"
        assert -0.05 <= latency <= 3.5, f"MQTT {version} client disconnected {latency:.2f} s after exp"
    reason = raws[5].disconnect_reason
    assert reason is not None and reason >= 0x80, f"MQTT 5: no DISCONNECT reason code, got {reason!r}"
    assert raws[4].disconnect_reason is None     # MQTT 3.1.1 has no server DISCONNECT
    cleared = set()
    deadline = time.time() + 3
    while cleared != set(cids.values()) and time.time() < deadline:
        try:
            topic, raw, _ = observer.next_message(max(0.05, deadline - time.time()))
        except (TimeoutError, queue.Empty):
            break
        if raw == b"":
            cleared.add(topic.rsplit("/", 1)[1])
    assert cleared == set(cids.values())
    for r in raws.values():
        r.close()
    observer.close()


def _no_reconnect(client):
    """paho's loop thread would reconnect a kicked client with the same id."""
    client.mqtt.reconnect_delay_set(60, 120)
    return client


def _refresh(client, token):
    client.publish("fynlo/v1/ctl/token", {"token": token})
    return client.ack_for("token", timeout=5)


def test_in_band_refresh_keeps_the_connection_past_the_old_exp(broker):
    exp = int(time.time()) + 3
    cid = new_cid("refresh")
    till = _no_reconnect(Client(broker.port, cid))
    till.connect("alice", _hs(broker, claims(sub="alice", exp=exp)))
    assert till.subscribe(f"fynlo/v1/client/{cid}/#") == [1]
    # Rejected refreshes first: none may extend the connection.
    ack = _refresh(till, _hs(broker, claims(sub="alice", exp=exp + 3600, role="restaurant_owner")))
    assert ack["status"] == "rejected" and ack["id"] == "token", ack
    ack = _refresh(till, _hs(broker, claims(sub="alice", exp=exp + 3600, role="platform_owner", restaurants=None)))
    assert ack["status"] == "rejected", ack
    ack = _refresh(till, _hs(broker, claims(sub="bob", exp=exp + 3600)))
    assert ack["status"] == "rejected", ack
    ack = _refresh(till, forge({"alg": "none"}, claims(sub="alice", exp=exp + 3600), signature=""))
    assert ack["status"] == "rejected", ack
    ack = _refresh(till, forge({"alg": "HS256"}, claims(sub="alice", exp=exp + 3600), b"x" * 32))
    assert ack["status"] == "rejected", ack
    ack = _refresh(till, _hs(broker, claims(sub="alice", ttl=-5)))
    assert ack["status"] == "rejected", ack
    # The genuine one.
    ack = _refresh(till, _hs(broker, claims(sub="alice", exp=exp + 60)))
    assert ack == {"id": "token", "status": "accepted"}, ack
    time.sleep(max(0, exp + 3 - time.time()))
    assert till.disconnects.empty(), "disconnected although the token was refreshed"
    e = event()
    assert till.submit("r1", e)["status"] == "accepted"
    till.close()


def test_rejected_refresh_does_not_extend_the_old_exp(broker):
    exp = int(time.time()) + 2
    cid = new_cid("norefresh")
    till = _no_reconnect(Client(broker.port, cid))
    till.connect("alice", _hs(broker, claims(sub="alice", exp=exp)))
    assert till.subscribe(f"fynlo/v1/client/{cid}/#") == [1]
    ack = _refresh(till, _hs(broker, claims(sub="alice", exp=exp + 3600, role="manager")))
    assert ack["status"] == "rejected" and ack["id"] == "token", ack
    ack = _refresh(till, _hs(broker, claims(sub="mallory", exp=exp + 3600)))
    assert ack["status"] == "rejected", ack
    try:
        till.disconnects.get(timeout=max(0.1, exp + 3.5 - time.time()))
    except queue.Empty:
        pytest.fail("still connected 3.5 s after the exp that the rejected refreshes must not extend")
    finally:
        till.close()


def test_refresh_for_other_restaurants_moves_access_and_presence(broker):
    """Same sub and role, other restaurants: the new token decides what the
    connection reads, and its presence moves with it instead of staying
    behind in the old restaurant after the disconnect."""
    cid = new_cid("moved")
    till = _no_reconnect(Client(broker.port, cid))
    till.connect("alice", _hs(broker, claims(sub="alice", restaurants=["r1"])))
    assert till.subscribe(f"fynlo/v1/client/{cid}/#") == [1]
    assert till.subscribe("fynlo/v1/ev/r1/redacted/#") == [1]
    assert len(_retained_presence(broker, "r1", cid)) == 1
    ack = _refresh(till, _hs(broker, claims(sub="alice", restaurants=["r2"])))
    assert ack == {"id": "token", "status": "accepted"}, ack
    assert _failed(till.subscribe("fynlo/v1/ev/r1/redacted/order/#"), 5)
    assert till.subscribe("fynlo/v1/ev/r2/redacted/#") == [1]
    r1_till = broker.client("staff", ["r1"], sub="bob")
    assert r1_till.submit("r1", event())["status"] == "accepted"
    assert [m for m in till.drain(0.4) if "/ev/" in m[0]] == []     # the old r1 subscription reads nothing now
    assert _retained_presence(broker, "r1", cid) == []
    assert len(_retained_presence(broker, "r2", cid)) == 1
    till.close()
    time.sleep(0.2)
    assert _retained_presence(broker, "r1", cid) == [] and _retained_presence(broker, "r2", cid) == []
    r1_till.close()
