#!/usr/bin/env python3
"""Writes the corpus files under tests/corpus (envelope/, token/, control/,
acl/): hostile inputs kept as the exact bytes a client or an admin could
send. Run it after changing an input here; the expected answers are in
manifest.json, which test_corpus.py checks names every file. Tokens are
signed with manifest.json's token_secret and expire in 2100."""

import base64
import hashlib
import hmac
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)
def w(path, data):
    if isinstance(data, str): data = data.encode()
    open(path, "wb").write(data)
def ev(i, event_type="order.created", payload=None, **kw):
    e = {"id": "00000000-0000-4000-8000-%012d" % i, "aggregate_id": "order-%d" % i, "event_type": event_type,
         "payload": payload if payload is not None else {"status": "open", "total": 1250, "items": [{"item_id": "burger", "qty": 1, "price": 1250, "cost": 410}]}}
    e.update(kw); return e
def j(o): return json.dumps(o)
def uid(i): return "00000000-0000-4000-8000-%012d" % i
E = "envelope/"
w(E+"good-order.json", j(ev(1, metadata={"device": "till-2"}, created_at="2026-11-28T12:00:00.123Z")))
w(E+"good-menu.json", j(ev(2, "menu.updated", {"item_id": "burger", "name": "Burger", "price": 1250, "cost": 410, "available": True}, aggregate_id="burger")))
w(E+"good-inventory.json", j(ev(3, "inventory.adjusted", {"item_id": "bun", "level": 1.5, "low_threshold": 2}, aggregate_id="bun")))
w(E+"hub-fields-injected.json", j(ev(4, created_by="mallory", seq=1, restaurant="r2", recorded_at="2020-01-01T00:00:00Z")))
w(E+"unknown-type-in-domain.json", j(ev(5, "order.refunded", {"why": "cold"})))
w(E+"malformed-unclosed.json", '{"id": "%s", "aggregate_id": ' % uid(6))
w(E+"malformed-trailing-comma.json", j(ev(7))[:-1] + ',}')
w(E+"malformed-single-quotes.json", "{'id': '%s'}" % uid(8))
w(E+"malformed-bom.json", b"\xef\xbb\xbf" + j(ev(9)).encode())
w(E+"not-object-array.json", "[1, 2]")
w(E+"not-object-string.json", '"%s"' % uid(10))
w(E+"empty.json", "")
w(E+"whitespace.json", " \n\t\r ")
w(E+"invalid-utf8-latin1.json", j(ev(11)).encode().replace(b"order-11", b"caf\xe9"))
w(E+"invalid-utf8-overlong.json", j(ev(12)).encode().replace(b"order-12", b"\xc0\xaf"))
w(E+"invalid-utf8-surrogate.json", j(ev(13)).encode().replace(b"order-13", b"\xed\xa0\x80"))
w(E+"utf16le.json", j(ev(14)).encode("utf-16-le"))
w(E+"nul-byte-raw.json", j(ev(15)).encode().replace(b"order-15", b"ord\x00er"))
w(E+"nul-escaped.json", j(ev(16)).replace("order-16", "ord\\u0000er"))
w(E+"lone-surrogate-escape.json", j(ev(17)).replace("order-17", "\\ud800"))
w(E+"duplicate-key-top.json", j(ev(18))[:-1] + ', "id": "%s"}' % uid(99))
w(E+"duplicate-key-nested.json", j(ev(19)).replace('"total": 1250', '"total": 1250, "total": 1'))
w(E+"type-id-number.json", j(ev(20, id=20)))
w(E+"type-payload-array.json", j(ev(21, payload=[1])))
w(E+"type-aggregate-object.json", j(ev(22, aggregate_id={"a": 1})))
w(E+"type-event-type-number.json", j(ev(23, event_type=7)))
w(E+"type-metadata-string.json", j(ev(24, metadata="till")))
w(E+"event-type-mismatch.json", j(ev(25, "menu.updated")))
w(E+"id-not-uuid.json", j(ev(26, id="till-2:17")))
w(E+"id-too-long.json", j(ev(27, id="x" * 100)))
w(E+"aggregate-id-257.json", j(ev(28, aggregate_id="a" * 257)))
for n, (name, text) in enumerate([("total-12.0", "12.0"), ("total-1e2", "1e2"), ("total-12.5", "12.5"), ("total-neg-zero", "-0.0"),
        ("total-1e15", "1000000000000000"), ("total-int64-min", "-9223372036854775808")]):
    w(E+"money-%s.json" % name, j(ev(30 + n)).replace('"total": 1250', '"total": %s' % text))
w(E+"money-item-price-1.5.json", j(ev(40)).replace('"price": 1250', '"price": 1.5'))
w(E+"money-item-cost-4.0.json", j(ev(41)).replace('"cost": 410', '"cost": 4.0'))
w(E+"money-menu-price-1e2.json", j(ev(42, "menu.updated", {"item_id": "burger", "price": 1250}, aggregate_id="burger")).replace('"price": 1250', '"price": 1e2'))
w(E+"number-beyond-int64.json", j(ev(43)).replace('"total": 1250', '"total": 99999999999999999999'))
w(E+"number-real-overflow.json", j(ev(44, metadata={"x": 1})).replace('"x": 1', '"x": 1e400'))
w(E+"number-huge-level.json", j(ev(45, "inventory.adjusted", {"item_id": "bun", "level": 1}, aggregate_id="bun")).replace('"level": 1', '"level": 1e300'))
w(E+"created-at-feb-30.json", j(ev(46, created_at="2026-02-30T12:00:00Z")))
w(E+"created-at-offset-16h.json", j(ev(47, created_at="2026-06-01T12:00:00+16:00")))
w(E+"created-at-year-0.json", j(ev(48, created_at="0000-01-01T00:00:00Z")))
w(E+"created-at-leap-second.json", j(ev(49, created_at="2026-12-31T23:59:60Z")))
w(E+"status-bogus.json", j(ev(50, payload={"status": "eaten", "total": 1, "items": []})))
w(E+"nesting-1000-in-payload.json", j(ev(51, payload={"status": "open", "total": 1, "items": [], "note": "DEEP"})).replace('"DEEP"', '{"a": ' * 1000 + '1' + '}' * 1000))
w(E+"nesting-5000.json", '{"id": "%s", "x": ' % uid(52) + "[" * 5000 + "]" * 5000 + "}")
w(E+"keys-many.json", j(ev(53, payload=dict({"status": "open", "total": 1, "items": []}, **{"k%d" % i: i for i in range(3000)}))))
w(E+"platform-from-manager.json", j(ev(54, "platform.announcement", {"text": "hi"})))
w(E+"other-restaurant.json", j(ev(55)))
w(E+"forged-cost-redaction.json", j(ev(56, payload={"status": "open", "total": 1, "items": [], "cost": {"cost": {"cost": 1}}, "profit_margin": [{"profit_margin": 1}]})))

SECRET = json.load(open("manifest.json"))["token_secret"].encode()
def b64(data):
    if not isinstance(data, bytes): data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
def sign(header, claims, raw_claims=None, raw_header=None, secret=SECRET):
    h = b64(raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")))
    c = b64(raw_claims if raw_claims is not None else json.dumps(claims, separators=(",", ":")))
    sig = b64(hmac.new(secret, (h + "." + c).encode(), hashlib.sha256).digest())
    return h + "." + c + "." + sig
H = {"alg": "HS256", "typ": "JWT"}
def claims(**kw):
    c = {"sub": "corpus-manager", "role": "manager", "restaurants": ["r1"], "exp": 4102444800, "iat": 1764000000}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}
T = "token/"
w(T+"good-manager.jwt", sign(H, claims()))
w(T+"good-staff.jwt", sign(H, claims(sub="corpus-staff", role="staff")))
w(T+"alg-none.jwt", b64(json.dumps({"alg": "none"})) + "." + b64(json.dumps(claims())) + ".")
w(T+"alg-none-signed.jwt", sign({"alg": "none"}, claims()))
w(T+"alg-hs512-header.jwt", sign({"alg": "HS512"}, claims()))
w(T+"alg-lowercase.jwt", sign({"alg": "hs256"}, claims()))
w(T+"typ-not-jwt.jwt", sign({"alg": "HS256", "typ": "JWE"}, claims()))
w(T+"crit-header.jwt", sign({"alg": "HS256", "crit": ["exp"]}, claims()))
w(T+"bad-signature.jwt", sign(H, claims(), secret=b"another-secret-0123456789abcdefghij"))
w(T+"expired.jwt", sign(H, claims(exp=1000000000)))
w(T+"nbf-future.jwt", sign(H, claims(nbf=4000000000)))
w(T+"exp-float.jwt", sign(H, claims(exp=4102444800.5)))
w(T+"exp-string.jwt", sign(H, claims(exp="4102444800")))
w(T+"exp-missing.jwt", sign(H, claims(exp=None)))
w(T+"exp-huge.jwt", sign(H, {}, raw_claims='{"sub":"corpus-manager","role":"manager","restaurants":["r1"],"exp":99999999999999999999}'))
w(T+"role-unknown.jwt", sign(H, claims(role="chef")))
w(T+"role-number.jwt", sign(H, claims(role=3)))
w(T+"restaurants-257.jwt", sign(H, claims(restaurants=["r%d" % i for i in range(257)])))
w(T+"restaurants-bad-id.jwt", sign(H, claims(restaurants=["r/1"])))
w(T+"restaurants-platform.jwt", sign(H, claims(restaurants=["platform"])))
w(T+"restaurants-not-array.jwt", sign(H, claims(restaurants="r1")))
w(T+"sub-control-char.jwt", sign(H, claims(sub="corpus\u001bmanager")))
w(T+"sub-129-bytes.jwt", sign(H, claims(sub="s" * 129)))
w(T+"sub-empty.jwt", sign(H, claims(sub="")))
w(T+"claims-array.jwt", sign(H, {}, raw_claims="[1,2]"))
w(T+"claims-not-json.jwt", sign(H, {}, raw_claims="{not json"))
w(T+"claims-duplicate-exp.jwt", sign(H, {}, raw_claims='{"sub":"corpus-manager","role":"manager","restaurants":["r1"],"exp":1000000000,"exp":4102444800}'))
w(T+"header-not-json.jwt", sign(H, claims(), raw_header="{{{"))
w(T+"four-parts.jwt", sign(H, claims()) + ".extra")
w(T+"two-parts.jwt", sign(H, claims()).rsplit(".", 1)[0])
w(T+"not-base64.jwt", "!!!.@@@.###")
w(T+"empty.jwt", "")
# exactly at and just over the 8192-byte limit, valid otherwise
def padded(n):
    pad = 0
    while True:
        t = sign(H, claims(pad="p" * pad))
        if len(t) >= n: break
        pad += 1
    while len(t) > n:
        pad -= 1; t = sign(H, claims(pad="p" * pad))
    return t
t8192 = padded(8192)
w(T+"size-8192.jwt", t8192)
t = padded(8193)
w(T+"size-8193.jwt", t if len(t) == 8193 else padded(8194))
C = "control/"
w(C+"resume-good.json", j({"streams": {"r1": 0}}))
w(C+"resume-platform.json", j({"streams": {"platform": 0}}))
w(C+"resume-not-json.json", "{streams")
w(C+"resume-array.json", "[]")
w(C+"resume-streams-empty.json", j({"streams": {}}))
w(C+"resume-streams-list.json", j({"streams": ["r1"]}))
w(C+"resume-seq-negative.json", j({"streams": {"r1": -1}}))
w(C+"resume-seq-float.json", j({"streams": {"r1": 1.5}}))
w(C+"resume-seq-string.json", j({"streams": {"r1": "0"}}))
w(C+"resume-seq-exp.json", '{"streams": {"r1": 1e30}}')
w(C+"resume-seq-int64-max.json", '{"streams": {"r1": 9223372036854775807}}')
w(C+"resume-stream-bad-id.json", j({"streams": {"../r1": 0}}))
w(C+"resume-stream-other.json", j({"streams": {"r2": 0}}))
w(C+"resume-streams-257.json", j({"streams": {"r%d" % i: 0 for i in range(257)}}))
w(C+"resume-duplicate-key.json", '{"streams": {"r1": 0}, "streams": {"r2": 0}}')
w(C+"resume-over-16k.json", j({"streams": {"r1": 0}, "pad": "x" * 16400}))
w(C+"resume-nul.json", b'{"streams": {"r\x001": 0}}')
w(C+"snapshot-good.json", j({"stream": "r1", "views": ["orders", "menu"]}))
w(C+"snapshot-stream-number.json", j({"stream": 5}))
w(C+"snapshot-views-string.json", j({"stream": "r1", "views": "orders"}))
w(C+"snapshot-views-unknown.json", j({"stream": "r1", "views": ["nope", 7, None]}))
w(C+"snapshot-stream-other.json", j({"stream": "r2"}))
w(C+"snapshot-stream-long.json", j({"stream": "r" * 65}))
w(C+"token-number.json", j({"token": 5}))
w(C+"token-garbage.json", j({"token": "garbage"}))
w(C+"token-empty-object.json", "{}")
w(C+"token-other-role.json", j({"token": sign(H, claims(role="staff"))}))
w(C+"token-other-sub.json", j({"token": sign(H, claims(sub="someone-else"))}))
w(C+"token-alg-none.json", j({"token": b64(json.dumps({"alg": "none"})) + "." + b64(json.dumps(claims())) + "."}))
A = "acl/"
default = open(os.path.join(HERE, "..", "..", "acl", "fynsync.acl"), "rb").read()
w(A+"default.acl", default)
w(A+"crlf.acl", default.replace(b"\n", b"\r\n"))
w(A+"bom.acl", b"\xef\xbb\xbf" + default)
w(A+"lone-cr.acl", default.replace(b"\n", b"\r"))
w(A+"latin1.acl", b"role staff\nallow read caf\xe9/x\n")
w(A+"overlong-utf8.acl", b"role staff\nallow read \xc0\xaf\n")
w(A+"utf8-pattern.acl", "view full\nrole staff\nreceive full\nallow read caf\u00e9/%r/\U0001F354\n".encode())
w(A+"control-char.acl", b"role staff\nallow read a/\x1b[31m\n")
w(A+"nul.acl", b"role staff\nallow read a/\x00b\n")
w(A+"line-1025.acl", b"role staff\n#" + b"x" * 1024 + b"\n")
w(A+"pattern-300-levels.acl", b"role staff\nallow read " + b"/".join([b"+"] * 300) + b"\n")
w(A+"pattern-hash-middle.acl", b"role staff\nallow read a/#/b\n")
w(A+"placeholder-unknown.acl", b"role staff\nallow read a/%z\n")
w(A+"rule-outside-section.acl", b"allow read #\n")
w(A+"many-rules.acl", b"role staff\n" + b"".join(b"allow read t/%d/+/%%r/#\n" % i for i in range(1000)))
w(A+"only-comments.acl", b"# nothing\n\n   \t\n")
w(E+"number-1e19-in-payload.json", j(ev(57)).replace('"total": 1250', '"total": 1250, "note": 1e19'))
w(E+"number-1e19-in-metadata.json", j(ev(58, metadata={"n": 1})).replace('"n": 1', '"n": -1e19'))
w(E+"nesting-32-in-payload.json", j(ev(59, payload={"status": "open", "total": 1, "items": [], "note": "DEEP"})).replace('"DEEP"', '{"a": ' * 30 + '1' + '}' * 30))
