"""Metrics and alerts on one node (issue 12): GET /metrics parses as
Prometheus text and its counters move with traffic; the retained JSON on
fynlo/v1/sys/metrics and fynlo/v1/sys/metrics/{node}; an alert raised by
freezing PostgreSQL (SIGSTOP) and cleared after it is thawed, both on the
retained fynlo/v1/sys/alerts and as stored platform.alert events."""

import json
import os
import re
import signal
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import Broker, Client, event, postgres_processes

NODE = "node-a"
WINDOW_S = 3
COMMIT_TIMEOUT_MS = 1000

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\} '
                    r'(-?[0-9.]+(?:e[-+]?[0-9]+)?|\+Inf|NaN)$')


@pytest.fixture(scope="module")
def broker(postgres):
    b = Broker(postgres, options={"node_name": NODE, "alert_window": WINDOW_S, "alert_min_count": 1,
                                  "commit_timeout_ms": COMMIT_TIMEOUT_MS})
    yield b
    b.assert_clean_exit()
    b.destroy()


def scrape(broker, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{broker.metrics_port}{path}", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def strict_families(text):
    """Checks the text line by line (HELP, then TYPE, then that family's
    samples; every sample named fynsync_* with node="NODE") and returns
    {family: type}."""
    families, current, helped = {}, None, None
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped = line.split(" ")[2]
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == helped and name not in families, line
            assert kind in ("counter", "gauge", "histogram"), line
            families[name], current = kind, name
        else:
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name = m.group(1)
            assert name.startswith("fynsync_") and f'node="{NODE}"' in m.group(2), line
            suffixes = ("", "_bucket", "_sum", "_count") if families[current] == "histogram" else ("",)
            assert any(name == current + s for s in suffixes), f"{name} outside its family {current}"
    return families


def samples(text):
    """{(name, frozenset(labels without node)): value}, read by
    prometheus_client's parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            assert s.labels.get("node") == NODE
            labels = frozenset((k, v) for k, v in s.labels.items() if k != "node")
            out[(s.name, labels)] = s.value
    return out


def value(values, name, **labels):
    return values[(name, frozenset(labels.items()))]


def next_sample(broker, previous_text):
    """The endpoint's snapshot is renewed once a second: waits for a new one."""
    deadline = time.time() + 5
    while time.time() < deadline:
        text = scrape(broker)
        if text != previous_text:
            return text
        time.sleep(0.2)
    raise TimeoutError("the metrics did not change within 5 s")


def test_scrape_parses_as_prometheus_text_and_counters_move_with_traffic(broker):
    before_text = scrape(broker)
    families = strict_families(before_text)
    for name, kind in [("fynsync_connections_active", "gauge"), ("fynsync_connections_dropped_total", "counter"),
                       ("fynsync_reconnects_total", "counter"), ("fynsync_event_latency_seconds", "histogram"),
                       ("fynsync_delivery_latency_seconds", "histogram"), ("fynsync_sync_lag_seconds", "gauge"),
                       ("fynsync_conflict_ratio", "gauge"), ("fynsync_queue_depth", "gauge"),
                       ("fynsync_store_commit_seconds", "histogram"), ("fynsync_replays_total", "counter"),
                       ("fynsync_auth_failures_total", "counter"), ("fynsync_acl_denials_total", "counter"),
                       ("fynsync_alert_active", "gauge")]:
        assert families.get(name) == kind, name
    before = samples(before_text)

    till = broker.client("staff", ["r1"], client_id="till-metrics")
    for _ in range(5):
        assert till.submit("r1", event())["status"] == "accepted"
    order = event()
    assert till.submit("r1", order)["status"] == "accepted"
    assert till.submit("r1", event(aggregate_id=order["aggregate_id"]))["code"] == "conflict"
    assert till.submit("r2", event())["code"] == "forbidden"
    assert Client(broker.port, "intruder").connect("x", "not-a-token", expect_ok=False) != 0
    till.publish("fynlo/v1/ctl/resume", {"streams": {"r1": 0}})
    till.next_message(topic_filter=f"fynlo/v1/client/{till.client_id}/replay.done")
    till.close()
    again = broker.client("staff", ["r1"], client_id="till-metrics")   # back within 10 minutes
    after_text = next_sample(broker, before_text)
    deadline = time.time() + 5
    while value(samples(after_text), "fynsync_reconnects_total") == value(before, "fynsync_reconnects_total") \
            and time.time() < deadline:
        after_text = next_sample(broker, after_text)
    strict_families(after_text)
    after = samples(after_text)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("fynsync_submissions_total", outcome="accepted") == 6
    assert moved("fynsync_submissions_total", outcome="conflict") == 1
    assert moved("fynsync_auth_failures_total") == 1
    assert moved("fynsync_acl_denials_total") >= 1
    assert moved("fynsync_connections_opened_total") == 2
    assert moved("fynsync_reconnects_total") == 1
    assert moved("fynsync_events_delivered_total") == 6
    assert moved("fynsync_delivery_latency_seconds_count") == 6
    assert moved("fynsync_event_latency_seconds_count") == 6
    assert moved("fynsync_replays_total") == 1
    assert moved("fynsync_replayed_events_total") >= 6
    assert moved("fynsync_store_calls_total") >= 1
    assert moved("fynsync_store_commit_seconds_count") >= 1
    assert value(after, "fynsync_connections_active") == 1
    assert value(after, "fynsync_store_up") == 1
    assert value(after, "fynsync_alert_threshold", alert="delivery_latency") == 1
    again.close()
    with pytest.raises(urllib.error.HTTPError) as refused:
        scrape(broker, "/other")
    assert refused.value.code == 404


def test_retained_metrics_per_node(broker):
    owner = broker.client("platform_owner", None)
    assert owner.subscribe("fynlo/v1/sys/metrics/+") == [1]
    assert owner.subscribe("fynlo/v1/sys/metrics") == [1]
    got = {}
    deadline = time.time() + 10   # the retained copies, then a refresh that counts the owner (every 5 s)
    while (len(got) < 2 or got[f"fynlo/v1/sys/metrics/{NODE}"]["clients"] < 1) and time.time() < deadline:
        topic, payload, _ = owner.next_message(timeout=max(0.1, deadline - time.time()))
        got[topic] = json.loads(payload)
    mine = got[f"fynlo/v1/sys/metrics/{NODE}"]
    assert got["fynlo/v1/sys/metrics"]["node"] == NODE
    for key in ("at", "clients", "store_up", "queued", "answered", "unavailable", "batches"):
        assert key in mine, key
    assert mine["node"] == NODE and mine["connections"]["active"] >= 1
    assert set(mine["alerts"]) == {"connection_drops", "delivery_latency", "sync_failures", "store_query_time"}
    # Nobody else may read them.
    staff = broker.client("staff", ["r1"])
    assert staff.subscribe(f"fynlo/v1/sys/metrics/{NODE}") == [135]
    assert staff.subscribe("fynlo/v1/sys/alerts") == [135]
    staff.close()
    owner.close()


def alert_states(owner, until, timeout):
    """Reads retained fynlo/v1/sys/alerts updates until until(doc) holds."""
    deadline = time.time() + timeout
    while True:
        topic, payload, _ = owner.next_message(timeout=max(0.1, deadline - time.time()),
                                               topic_filter="fynlo/v1/sys/alerts")
        doc = json.loads(payload)
        if until(doc):
            return doc


def test_frozen_postgres_raises_an_alert_cleared_after_thaw(broker, postgres):
    owner = broker.client("platform_owner", None)
    assert owner.subscribe("fynlo/v1/ev/platform/full/platform/alert") == [1]
    assert owner.subscribe("fynlo/v1/sys/alerts") == [1]
    first = alert_states(owner, lambda d: True, 10)   # the retained state
    assert first["node"] == NODE and all(a["state"] == "cleared" for a in first["alerts"].values())
    till = broker.client("staff", ["r1"])
    assert till.submit("r1", event())["status"] == "accepted"   # the writer is connected
    frozen = postgres_processes(postgres)
    assert len(frozen) > 2
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(3):
            till.publish("fynlo/v1/in/r1/order/created", event())
            time.sleep(0.3)
        raised = alert_states(owner, lambda d: d["alerts"]["store_query_time"]["state"] == "raised", 10)
        query_time = raised["alerts"]["store_query_time"]
        assert query_time["value"] > 0.5 and query_time["threshold"] == 0.5
        # The endpoint answers while the writer is stuck in PostgreSQL.
        text = scrape(broker)
        assert value(samples(text), "fynsync_alert_active", alert="store_query_time") == 1
        assert value(samples(text), "fynsync_store_call_running_seconds") > 0.5
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    cleared = alert_states(owner, lambda d: all(a["state"] == "cleared" for a in d["alerts"].values()),
                           WINDOW_S + 15)
    assert cleared["alerts"]["store_query_time"]["value"] <= 0.5

    # Every raise and every clear is stored as a platform.alert event, in order.
    deadline = time.time() + 10
    while True:
        rows = postgres.query("SELECT payload, created_by, metadata FROM events WHERE restaurant = 'platform' "
                              "AND event_type = 'platform.alert' ORDER BY seq")
        states = [(r[0]["alert"], r[0]["state"]) for r in rows]
        if ("store_query_time", "cleared") in states or time.time() > deadline:
            break
        time.sleep(0.2)
    assert states.index(("store_query_time", "raised")) < states.index(("store_query_time", "cleared"))
    for name in {a for a, _ in states}:
        assert [s for a, s in states if a == name][-1] == "cleared", states
    payload, created_by, metadata = rows[states.index(("store_query_time", "raised"))]
    assert payload["node"] == NODE and payload["threshold"] == 0.5 and payload["value"] > 0.5
    assert created_by == "hub" and metadata["node"] == NODE
    # ... and fanned out like any platform event.
    live = [json.loads(p) for t, p, _ in owner.drain(1.0) if t.startswith("fynlo/v1/ev/platform/")]
    live_states = [(e["payload"]["alert"], e["payload"]["state"]) for e in live]
    assert ("store_query_time", "cleared") in live_states
    till.close()
    owner.close()


def test_every_node_shows_the_others_metrics_alerts_and_presence(broker, postgres):
    other = Broker(postgres, options={"node_name": "node-b"})
    try:
        owner = other.client("platform_owner", None)
        for topic in ("fynlo/v1/sys/metrics/+", "fynlo/v1/sys/alerts/+", "fynlo/v1/presence/#"):
            assert owner.subscribe(topic) == [1]
        till = broker.client("staff", ["r1"], client_id="till-on-a")
        presence_topic = "fynlo/v1/presence/r1/till-on-a"
        seen = {}
        deadline = time.time() + 20   # a report every 5 s from each node
        while not {f"fynlo/v1/sys/metrics/{NODE}", f"fynlo/v1/sys/alerts/{NODE}", presence_topic} <= set(seen):
            topic, payload, _ = owner.next_message(timeout=max(0.1, deadline - time.time()))
            seen[topic] = payload
        assert json.loads(seen[f"fynlo/v1/sys/metrics/{NODE}"])["node"] == NODE
        assert json.loads(seen[f"fynlo/v1/sys/alerts/{NODE}"])["node"] == NODE
        assert json.loads(seen[presence_topic])["client_id"] == "till-on-a"

        till.close()   # its presence leaves node-b too
        deadline = time.time() + 20
        while True:
            topic, payload, _ = owner.next_message(timeout=max(0.1, deadline - time.time()),
                                                   topic_filter=presence_topic)
            if payload == b"":
                break
        owner.close()
        # A late subscriber on node-b finds node-a's metrics retained there.
        late = other.client("platform_owner", None, client_id="late-owner")
        assert late.subscribe(f"fynlo/v1/sys/metrics/{NODE}") == [1]
        topic, payload, retained = late.next_message(timeout=5)
        assert retained and json.loads(payload)["node"] == NODE
        late.close()
        other.assert_clean_exit()
    finally:
        other.destroy()
