#!/usr/bin/python3
"""Simulated tills for the demo restaurant: each till opens orders, moves
them through the kitchen statuses, completes them and adjusts inventory,
over MQTT like a real POS. Run by `./fynsync up`; stopped by `./fynsync stop`.

usage: FYNSYNC_TILL_TOKENS="TOKEN [TOKEN...]" simulate_tills.py PORT
(one token per till, each with sub demo-till-N)
"""

import json
import os
import random
import sys
import time
import uuid

import paho.mqtt.client as mqtt

RESTAURANT = "demo-bistro"
MENU = [("burger", "Burger", 1250, 410), ("fries", "Fries", 450, 90), ("cola", "Cola", 300, 60)]


def connect(port, index, token):
    client = mqtt.Client(client_id=f"demo-till-{index}", protocol=mqtt.MQTTv5)
    client.username_pw_set(f"demo-till-{index}", token)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def submit(client, event_type, aggregate_id, payload):
    domain, action = event_type.split(".")
    event = {"id": str(uuid.uuid4()), "aggregate_id": aggregate_id, "event_type": event_type,
             "payload": payload, "metadata": {"device": client._client_id.decode()},
             "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
    client.publish(f"fynlo/v1/in/{RESTAURANT}/{domain}/{action}", json.dumps(event), qos=1)


def order_lifecycle(client):
    order_id = f"order-{uuid.uuid4().hex[:6]}"
    items = [{"item_id": i, "qty": random.randint(1, 2), "price": p, "cost": c}
             for i, _, p, c in random.sample(MENU, random.randint(1, 3))]
    total = sum(i["qty"] * i["price"] for i in items)
    submit(client, "order.created", order_id, {"status": "open", "total": total, "items": items,
                                              "table": random.randint(1, 20)})
    for status in ("preparing", "ready", "completed"):
        time.sleep(random.uniform(0.5, 2.0))
        submit(client, "order.updated", order_id, {"status": status})
    for item in items:
        submit(client, "inventory.adjusted", item["item_id"], {"item_id": item["item_id"], "delta": -item["qty"]})


def main():
    port, tokens = int(sys.argv[1]), os.environ["FYNSYNC_TILL_TOKENS"].split()
    tills = [connect(port, i + 1, t) for i, t in enumerate(tokens)]
    for item_id, name, price, cost in MENU:
        submit(tills[0], "menu.updated", item_id, {"item_id": item_id, "name": name, "price": price,
                                                   "cost": cost, "available": True})
        submit(tills[0], "inventory.adjusted", item_id, {"item_id": item_id, "level": 200, "low_threshold": 20})
    while True:
        order_lifecycle(random.choice(tills))
        time.sleep(random.uniform(0.5, 3.0))


if __name__ == "__main__":
    main()
