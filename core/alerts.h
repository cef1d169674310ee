/*
 * alerts.h: evaluating the brief's alert thresholds over a sliding window.
 *
 * Each node evaluates itself. The broker thread adds one sample of its
 * cumulative counters about once a second; the window's values are the
 * differences between the newest sample and the oldest one still inside
 * the window, so nothing is kept per event. An alert is raised as soon as
 * its value goes above the threshold and cleared when it is back at or below
 * it. Pure C, one owner (the broker thread); docs/operations.md has the
 * definitions.
 */
#ifndef FYNSYNC_ALERTS_H
#define FYNSYNC_ALERTS_H

#include <stdbool.h>
#include <stddef.h>

enum fyn_alert_kind {
	FYN_ALERT_CONNECTION_DROPS,   /* dropped / (active at the window's start + opened in it) > 5% */
	FYN_ALERT_DELIVERY_LATENCY,   /* mean receipt -> delivery of events in the window > 1 s */
	FYN_ALERT_SYNC_FAILURES,      /* unavailable / answered submissions in the window > 1% */
	FYN_ALERT_STORE_QUERY_TIME,   /* mean store call in the window, or the one running, > 0.5 s */
	FYN_ALERT_COUNT
};

/* "connection_drops", "delivery_latency", "sync_failures", "store_query_time". */
const char *fyn_alert_name(enum fyn_alert_kind kind);
double fyn_alert_threshold(enum fyn_alert_kind kind);

/* Cumulative counters at one moment (they only grow, except the gauges). */
struct fyn_alert_sample {
	long long at_ms;                        /* monotonic */
	unsigned long long connections_active;  /* gauge */
	unsigned long long connections_opened;
	unsigned long long connections_dropped;
	unsigned long long answered;            /* submissions answered in any way */
	unsigned long long unavailable;         /* ... of them `unavailable` */
	unsigned long long conflicts;           /* ... of them `conflict` */
	unsigned long long delivered;           /* events with a known receipt time, published */
	double delivery_s;                      /* their summed receipt -> delivery time */
	unsigned long long store_calls;
	double store_s;                         /* summed duration of the store calls */
	double store_call_running_s;            /* gauge: the call in progress, 0 when none */
};

/* The window's values; ratios are 0..1. value[kind] is what the threshold
 * is compared with (0 when the window holds too little to say). */
struct fyn_alert_values {
	double value[FYN_ALERT_COUNT];
	double conflict_rate;                   /* conflicts / answered */
};

struct fyn_alerts {
	struct fyn_alert_sample *ring;
	size_t capacity, count, first;
	long long window_ms;
	unsigned long long min_count;   /* ratios need this many connections / submissions in the window */
	bool raised[FYN_ALERT_COUNT];
	struct fyn_alert_values values;
};

struct fyn_alert_change {
	enum fyn_alert_kind kind;
	bool raised;                    /* false: cleared */
	double value, threshold;
};

/* window_s >= 1. Returns 0, or -1 on OOM. */
int fyn_alerts_init(struct fyn_alerts *a, int window_s, unsigned long long min_count);
void fyn_alerts_clear(struct fyn_alerts *a);

/* Adds sample (at_ms not before the previous one's), re-evaluates, and
 * writes each alert whose state changed into changes. Returns how many. */
size_t fyn_alerts_update(struct fyn_alerts *a, const struct fyn_alert_sample *sample,
		struct fyn_alert_change changes[FYN_ALERT_COUNT]);

#endif
