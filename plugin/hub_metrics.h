/*
 * hub_metrics.h: the broker thread's side of the metrics (hub_metrics.c):
 * the counters only the broker thread sees (connections, refusals,
 * deliveries, replays), a snapshot of everything once a second for the
 * alerts and the Prometheus endpoint, and the retained JSON every 5 s on
 * fynlo/v1/sys/metrics and fynlo/v1/sys/metrics/{node}.
 *
 * Broker thread only. The writer's counters come from fyn_pipeline_stats;
 * the HTTP thread gets copies (workers/metrics_http.h).
 */
#ifndef FYNSYNC_HUB_METRICS_H
#define FYNSYNC_HUB_METRICS_H

#include <jansson.h>
#include <stdbool.h>

#include "alerts.h"
#include "config.h"
#include "job.h"
#include "metrics.h"
#include "metrics_http.h"

struct fyn_hub_metrics {
	char node[FYN_NODE_NAME_MAX + 1];
	unsigned long long connections_opened, connections_dropped, reconnects;
	unsigned long long auth_failures, acl_denials;
	unsigned long long unavailable;         /* answered by the broker thread: past the deadline, queue full */
	unsigned long long replays, replayed_events, snapshots, events_delivered;
	struct fyn_histogram event_latency, delivery_latency;
	json_t *recent_ids;                     /* client id -> wall ms it left this node (reconnects) */
	struct fyn_alerts alerts;
	struct fyn_metrics_http *http;          /* NULL when metrics_port is 0 */
	long long next_sample_ms, next_publish_ms, next_prune_ms;
};

struct fyn_hub;

/* At init: the node name, the alert window and the HTTP endpoint. Returns
 * 0, or -1 (logged, with what to change). */
int fyn_metrics_start(struct fyn_hub *hub);
/* At cleanup: stops the HTTP thread. */
void fyn_metrics_stop(struct fyn_hub *hub);

/* A client authenticated; took_over: its client id was connected already. */
void fyn_metrics_connected(struct fyn_hub *hub, const char *client_id, bool took_over);
/* A session ended; reason is mosquitto's (MOSQ_ERR_*). */
void fyn_metrics_disconnected(struct fyn_hub *hub, const char *client_id, int reason);
/* publish.c published m: counts live events (and their latency) and replays. */
void fyn_metrics_published(struct fyn_hub *hub, const struct fyn_outgoing *m);

/* Every tick: a sample a second (alerts, HTTP snapshot), the retained JSON
 * every 5 s. */
void fyn_metrics_tick(struct fyn_hub *hub, long long now_ms);

#endif
