"""fynlo/v1/client/{cid}/session (docs/protocol.md, "Session info") and the
platform snapshot's `restaurants`: what the hub tells a client about itself
at connect, after a token refresh and after an ACL reload, that nobody else
reads it, that it is cleared when the client leaves, and that only a client
reading every restaurant gets the list of restaurants."""

import json
import os
import shutil
import signal
import time
import uuid

from harness import DEFAULT_ACL, Broker, Client, event, service_dir, wait_for_log, write_service_file


def rid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def session_info(client, timeout=5):
    client.subscribe(f"fynlo/v1/client/{client.client_id}/#")
    _, payload, retain = client.next_message(timeout, f"fynlo/v1/client/{client.client_id}/session")
    assert retain
    return json.loads(payload)


def test_an_owner_is_told_its_identity_view_filters_and_expiry(broker):
    r = rid("si")
    token_exp = int(time.time()) + 3600
    c = Client(broker.port, "office-" + uuid.uuid4().hex[:6])
    c.connect("olivia", broker.token("restaurant_owner", [r], "olivia", exp=token_exp))
    info = session_info(c)
    assert info["client_id"] == c.client_id and info["sub"] == "olivia"
    assert info["role"] == "restaurant_owner" and info["restaurants"] == [r]
    assert info["view"] == "full"
    assert info["exp"] == token_exp
    assert info["expires_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(token_exp))
    assert info["filters"] == [f"fynlo/v1/client/{c.client_id}/#", f"fynlo/v1/ev/{r}/full/#",
                               "fynlo/v1/ev/platform/full/#", f"fynlo/v1/presence/{r}/+"]
    assert info["streams"] == {r: "whole", "platform": "whole"}
    assert info["every_restaurant"] is False
    # Every listed filter is granted.
    for f in info["filters"]:
        assert c.subscribe(f) == [1], f
    c.close()


def test_a_kitchen_reads_part_of_its_streams(broker):
    r = rid("si")
    c = broker.client("kitchen", [r], "kim")
    info = session_info(c)
    assert info["view"] == "redacted"
    assert f"fynlo/v1/ev/{r}/redacted/order/#" in info["filters"]
    assert not any(f.startswith(f"fynlo/v1/ev/{r}/redacted/#") for f in info["filters"])
    assert info["streams"] == {r: "some", "platform": "whole"}
    c.close()


def test_the_platform_owner_reads_every_restaurant(broker):
    c = broker.client("platform_owner", None, "pat")
    info = session_info(c)
    assert info["restaurants"] == [] and info["every_restaurant"] is True
    assert "fynlo/v1/ev/+/full/#" in info["filters"] and "fynlo/v1/sys/metrics" in info["filters"]
    c.close()


def test_nobody_else_reads_it_and_it_is_cleared_on_disconnect(broker):
    r = rid("si")
    c = broker.client("staff", [r], "sam")
    session_info(c)
    spy = broker.client("platform_owner", None, "pat")
    assert spy.subscribe(f"fynlo/v1/client/{c.client_id}/#") == [0x87]
    c.close()
    time.sleep(0.3)
    # The same client id, another user: no retained session of the first.
    again = Client(broker.port, c.client_id)
    again.connect("sue", broker.token("manager", [r], "sue"))
    info = session_info(again)
    assert info["sub"] == "sue" and info["role"] == "manager"
    again.close()
    time.sleep(0.3)
    watcher = broker.client("staff", [r], "sam", client_id=c.client_id + "-w")
    watcher.subscribe(f"fynlo/v1/client/{c.client_id}/#")
    assert watcher.drain(0.5) == []
    spy.close()
    watcher.close()


def test_a_token_refresh_tells_the_new_expiry_and_restaurants(broker):
    r1, r2 = rid("si"), rid("si")
    c = broker.client("manager", [r1], "mia")
    session_info(c)
    new_exp = int(time.time()) + 7200
    c.publish("fynlo/v1/ctl/token", {"token": broker.token("manager", [r1, r2], "mia", exp=new_exp)})
    deadline = time.time() + 5
    while True:
        _, payload, _ = c.next_message(max(0.01, deadline - time.time()), f"fynlo/v1/client/{c.client_id}/session")
        info = json.loads(payload)
        if info["exp"] == new_exp:
            break
    assert info["restaurants"] == [r1, r2]
    assert f"fynlo/v1/ev/{r2}/redacted/#" in info["filters"]
    c.close()


def test_an_acl_reload_sends_the_new_filters(postgres):
    folder = service_dir("fynsync-session-info-")
    path = write_service_file(os.path.join(folder, "fynsync.acl"), open(DEFAULT_ACL).read())
    b = Broker(postgres, acl_file=path)
    try:
        r = rid("si")
        c = b.client("staff", [r], "sam")
        assert "fynlo/v1/sys/metrics" not in session_info(c)["filters"]
        write_service_file(path, open(DEFAULT_ACL).read().replace(
            "role staff\n", "role staff\nallow read fynlo/v1/sys/metrics\n"))
        start = len(b.read_log())
        b.signal(signal.SIGHUP)
        wait_for_log(b, "reloaded ACL", start)
        _, payload, _ = c.next_message(5, f"fynlo/v1/client/{c.client_id}/session")
        assert "fynlo/v1/sys/metrics" in json.loads(payload)["filters"]
        c.close()
    finally:
        b.assert_clean_exit()
        b.destroy()
        shutil.rmtree(folder, ignore_errors=True)


def snapshot(client, stream, views=None, timeout=10):
    client.subscribe(f"fynlo/v1/client/{client.client_id}/#")
    request = {"stream": stream} if views is None else {"stream": stream, "views": views}
    client.publish("fynlo/v1/ctl/snapshot", request)
    _, payload, _ = client.next_message(timeout, f"fynlo/v1/client/{client.client_id}/snapshot")
    return json.loads(payload)


def test_the_platform_snapshot_lists_restaurants_for_the_platform_owner_only(broker):
    r = rid("si")
    till = broker.client("staff", [r], "sam")
    o = f"order-{uuid.uuid4().hex[:6]}"
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    assert till.submit(r, event("order.created", o, {"status": "open", "total": 700}, created_at=now))["status"] == "accepted"
    assert till.submit(r, event("order.updated", o, {"status": "completed"}, created_at=now))["status"] == "accepted"

    pat = broker.client("platform_owner", None, "pat")
    listed = {x["id"]: x for x in snapshot(pat, "platform")["restaurants"]}
    assert listed[r]["head"] == 2 and listed[r]["orders"] == 1 and listed[r]["gross"] == 700
    assert "restaurants" in snapshot(pat, "platform", ["restaurants"])

    owner = broker.client("restaurant_owner", [r], "olivia")
    assert "restaurants" not in snapshot(owner, "platform")
    assert "restaurants" not in snapshot(owner, "platform", ["restaurants", "orders"])
    assert "orders" in snapshot(owner, "platform", ["restaurants", "orders"])
    for c in (till, pat, owner):
        c.close()
