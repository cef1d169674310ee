/*
 * durable.h: automatic resume for devices that never ask.
 *
 * A device with a persistent MQTT session (clean session off in 3.1.1,
 * clean start off in MQTT 5) is owed every event its subscriptions cover,
 * even when the broker and its in-memory sessions are lost. The hub keeps,
 * in PostgreSQL, each such client's ev/ filters and per stream the last seq
 * it saw routed to the client, written in batches once a second and lagging
 * one to two seconds behind delivery (so an event still in flight when the
 * broker dies is not counted as received). When the client connects again,
 * the hub replays what its filters cover after its cursors. Guarantee: at
 * least once; clients drop a seq they already have. While it is offline,
 * mosquitto is refused its ev/ deliveries (acl_check.c), so its own queue
 * never delivers them a second time.
 */
#ifndef FYNSYNC_DURABLE_H
#define FYNSYNC_DURABLE_H

#include <stddef.h>

#include "hub.h"

void fyn_durable_on_connect(struct fyn_hub *hub, struct fyn_session *session, bool clean_session);
void fyn_durable_on_subscribe(struct fyn_hub *hub, struct fyn_session *session, const char *filter);
void fyn_durable_on_unsubscribe(struct fyn_hub *hub, struct fyn_session *session, const char *filter);
/* A confirmed event on an ev/ topic is being routed to this client. */
void fyn_durable_on_delivery(struct fyn_session *session, const char *topic,
		const void *payload, size_t payloadlen);
void fyn_durable_on_disconnect(struct fyn_hub *hub, struct fyn_session *session);
/* Broker tick: once a second, ages cursors and saves what changed. */
void fyn_durable_flush(struct fyn_hub *hub, long long now_ms);

#endif
