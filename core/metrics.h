/*
 * metrics.h: the hub's metrics as plain numbers, and their two texts: the
 * Prometheus text exposition format (served on /metrics) and the retained
 * JSON of fynlo/v1/sys/metrics.
 *
 * A struct fyn_metrics is a snapshot: plain data without pointers, filled by
 * the broker thread once a second and copied by value to whoever formats it
 * (the HTTP thread, workers/metrics_http.c). Pure C: no state, no locks; the
 * caller owns the thread. docs/operations.md lists every metric.
 */
#ifndef FYNSYNC_METRICS_H
#define FYNSYNC_METRICS_H

#include <stdbool.h>

#include "alerts.h"

/* Upper bounds (seconds) of the latency histograms' buckets; the last
 * bucket (+Inf) is implicit. */
#define FYN_HISTOGRAM_BOUNDS 14
extern const double fyn_histogram_bounds[FYN_HISTOGRAM_BOUNDS];

struct fyn_histogram {
	unsigned long long buckets[FYN_HISTOGRAM_BOUNDS + 1];   /* per bucket, not cumulative; last: +Inf */
	unsigned long long count;
	double sum;                                             /* seconds */
};

/* Counts one observation (negative values count as 0). */
void fyn_histogram_observe(struct fyn_histogram *h, double seconds);

/* Every counter counts since the broker started. */
struct fyn_metrics {
	long long at;                                   /* unix seconds of the snapshot */
	/* connections (authenticated ones: refused CONNECTs are auth failures) */
	unsigned long long connections_active;
	unsigned long long connections_opened;
	unsigned long long connections_dropped;         /* lost without DISCONNECT: network, keepalive, protocol error */
	unsigned long long reconnects;                  /* a client id that left this node in the last 10 minutes, or took over a live one */
	unsigned long long auth_failures;
	unsigned long long acl_denials;                 /* subscriptions, deliveries and submissions the ACL refused */
	/* submissions, by answer */
	unsigned long long accepted;
	unsigned long long conflicts;
	unsigned long long rejected;                    /* refused by the store for what they contain */
	unsigned long long unavailable;                 /* by the writer, past their deadline in the queue, or queue full */
	/* the store */
	bool store_up;
	unsigned long long store_calls;                 /* append calls that committed */
	double store_call_running_s;                    /* the append in progress, 0 when none */
	struct fyn_histogram store_commit;              /* duration of each append call */
	/* queues and lag */
	unsigned long long queue_writer;                /* submissions waiting for the writer */
	unsigned long long queue_replays;               /* replay requests waiting */
	unsigned long long queue_lookups;               /* snapshot and durable-state requests waiting */
	double sync_lag_s;                              /* age of the oldest submission not yet answered */
	/* delivery */
	unsigned long long events_delivered;            /* confirmed events published live (not replays) */
	struct fyn_histogram event_latency;             /* created_at -> published by this node */
	struct fyn_histogram delivery_latency;          /* received by this node -> published */
	/* replays */
	unsigned long long replays;                     /* streams replayed: ctl/resume and automatic resume */
	unsigned long long replayed_events;
	unsigned long long snapshots;
	/* cross-node fan-out: the follower (workers/fanout.h) */
	unsigned long long fanout_events;               /* published from the event log: other nodes' events, mostly */
	unsigned long long fanout_notifications;        /* fynsync_events notifications received */
	unsigned long long fanout_gap_polls;            /* periodic heads comparisons that found an unannounced event */
	unsigned long long fanout_reconnects;           /* the follower's reconnects to PostgreSQL */
	double fanout_lag_s;                            /* recorded_at -> published, latest page; 0: none yet */
	/* alerts (core/alerts.h), over the alert window */
	int alert_window_s;
	struct fyn_alert_values window;
	bool alert_raised[FYN_ALERT_COUNT];
};

/* The Prometheus text format (version 0.0.4) of m, every sample labelled
 * node="{node}". malloc'd; NULL on OOM. */
char *fyn_metrics_prometheus(const struct fyn_metrics *m, const char *node);

/* The retained JSON of fynlo/v1/sys/metrics (docs/protocol.md). malloc'd;
 * NULL on OOM. */
char *fyn_metrics_json(const struct fyn_metrics *m, const char *node);

#endif
