/*
 * hub.h: the plugin's state, owned by the broker thread.
 *
 * Threads beside the broker's: the writers (workers/pipeline.c, one per
 * `writers`), two readers of two threads each (workers/reader.c: replays;
 * snapshots and durable state), the fan-out follower (workers/fanout.c),
 * the outbox's waker (workers/outbox.c) and the metrics endpoint's HTTP
 * thread (workers/metrics_http.c). None of them touches anything here: they
 * take work through their own locked queues and answer through the outbox,
 * which only the broker thread drains (publish.c). The views are
 * shared with them by reference count (views.h). docs/architecture.md has
 * the picture.
 */
#ifndef FYNSYNC_HUB_H
#define FYNSYNC_HUB_H

#include <jansson.h>
#include <mosquitto_broker.h>

#include "acl.h"
#include "clock.h"
#include "config.h"
#include "fanout.h"
#include "hub_alerts.h"
#include "hub_metrics.h"
#include "nodes.h"
#include "outbox.h"
#include "pipeline.h"
#include "reader.h"
#include "sessions.h"
#include "token.h"
#include "views.h"

struct fyn_hub {
	mosquitto_plugin_id_t *plugin_id;
	struct fyn_config config;
	struct fyn_token_config tokens;
	const struct fyn_acl *acl;     /* borrowed from views, which owns it */
	unsigned acl_generation;       /* bumped on reload: invalidates session caches */
	struct fyn_views *views;
	struct fyn_sessions sessions;
	struct fyn_outbox *outbox;      /* answers from the writer and reader threads */
	struct fyn_fanout *fanout;      /* publishes every node's stored events in seq order (the follower thread) */
	struct fyn_pipeline *pipeline;  /* the writer thread */
	struct fyn_reader *replays;     /* reader for replays (ctl/resume, automatic resume) */
	struct fyn_reader *lookups;     /* reader for snapshots and durable state, so a long
	                                 * replay never delays them */
	long long next_expiry_check_ms;
	struct fyn_hub_metrics metrics; /* hub_metrics.c; its HTTP thread gets copies only */
	struct fyn_hub_alerts alerts;   /* hub_alerts.c */
	json_t *presence;               /* {topic: payload}: this node's presence messages (presence.c) */
	struct fyn_hub_nodes nodes;     /* the other nodes' metrics, alerts and presence (nodes.c) */
	json_t *durable_ops;            /* client state changes not yet saved (durable.c) */
	long long next_durable_flush_ms;
};

/* Callbacks, one file each. */
int fyn_on_basic_auth(int event, void *event_data, void *userdata);
int fyn_on_acl_check(int event, void *event_data, void *userdata);
int fyn_on_message(int event, void *event_data, void *userdata);
int fyn_on_tick(int event, void *event_data, void *userdata);
int fyn_on_disconnect(int event, void *event_data, void *userdata);
int fyn_on_reload(int event, void *event_data, void *userdata);

/* Loads the ACL file and key file named in config, replacing the current
 * ones only if both load. Returns 0 or -1 (logged with the reason). */
int fyn_hub_load_policy(struct fyn_hub *hub);

/* Publishes every completion the writer and reader have finished. */
void fyn_hub_drain_completions(struct fyn_hub *hub);

/* Publishes payload (consumed) on fynlo/v1/client/{cid}/{kind} to that
 * client alone (broker thread). */
void fyn_hub_send(const char *client_id, const char *kind, char *payload);
/* Publishes an ack rejection to one client (broker thread). */
void fyn_hub_reject(const char *client_id, const char *id, const char *code, const char *reason);

#endif
