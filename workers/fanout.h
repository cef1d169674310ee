/*
 * fanout.h: cross-node fan-out. Every node publishes every confirmed event
 * of every stream to its own subscribers, in seq order and once, whichever
 * node (or writer connection) stored it (docs/scale.md has the design and
 * its failure cases).
 *
 * The gate: per stream, the last seq this node has handed to the broker.
 * An event goes out only as the next seq of its stream. An older one is a
 * duplicate (a store retry handed it back, or it was already read from the
 * log) and is dropped. A newer one means an earlier seq was stored elsewhere:
 * it is left to the follower, which reads the stream by seq from the event
 * log and publishes from there, so the stream stays in order.
 *
 * The writer offers what it committed (fyn_fanout_offer_result), so a node's
 * own events cost no extra read. The follower thread, on a connection of its
 * own, LISTENs on the database's fynsync_events notifications
 * (store/migrations/011): another node's commit makes it read that stream
 * at once; its own node's commits are checked against the gate one interval
 * later (a lost answer, e.g. a connection that broke after the commit), and
 * every stream's head is compared every few seconds and after every
 * reconnect, so a lost notification delays an event but never loses it.
 * A node's live fan-out starts with the events stored after it started
 * (those before are for resume), also when the database was out of reach
 * at first.
 *
 * Threads: writer threads offer; the follower reads; both push to the
 * outbox while holding the gate's lock, so the outbox holds each stream's
 * events in seq order and the broker thread publishes them as they come.
 * The broker thread never waits here: it only swaps views and reads stats.
 */
#ifndef FYNSYNC_FANOUT_H
#define FYNSYNC_FANOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "batch.h"
#include "outbox.h"
#include "store.h"
#include "views.h"

struct fyn_fanout;

/* Starts the follower thread on conninfo; answers through outbox (borrowed:
 * it must outlive the fan-out). views is referenced. NULL with err on failure. */
struct fyn_fanout *fyn_fanout_start(const char *conninfo, struct fyn_views *views,
		struct fyn_outbox *outbox, char *err, size_t errlen);
/* Stops and joins the follower. Stop the writers first: they offer here. */
void fyn_fanout_stop(struct fyn_fanout *f);

/* This node's tag, for fyn_store_set_node on the writer's connections:
 * random per start, so two nodes never share one. */
const char *fyn_fanout_node(const struct fyn_fanout *f);

/* Writer threads: the events of one committed batch of jobs (the rows with
 * an event), published now where they are their stream's next seq; an
 * event's first publish carries its job's received_ms (delivery latency). */
void fyn_fanout_offer_result(struct fyn_fanout *f, struct fyn_job *const *jobs, size_t count,
		const struct fyn_append_result *result);

/* Writer threads and the follower: takes the baseline (where each stream's
 * live fan-out starts: after the last seq recorded before this node
 * started) on store's connection, unless it was taken already. Until it is,
 * every stored event is left to the follower; a writer takes it before its
 * first append, so the node's own events go out live from its first commit.
 * FYN_STORE_OK also when it was taken already. */
enum fyn_store_status fyn_fanout_take_baseline(struct fyn_fanout *f, struct fyn_store *store,
		char *err, size_t errlen);

/* The follower's counters, since the start (docs/operations.md, "Metrics"). */
struct fyn_fanout_stats {
	unsigned long long events;         /* published from the event log: other nodes' and unoffered own ones */
	unsigned long long notifications;  /* fynsync_events notifications received */
	unsigned long long gap_polls;      /* periodic heads comparisons that found a head nobody announced */
	unsigned long long reconnects;     /* connects after the first */
	double lag_s;                      /* recorded_at -> published, of the oldest event of the latest page; 0: none yet */
};

/* Any thread (the broker's, for the metrics). */
void fyn_fanout_stats(struct fyn_fanout *f, struct fyn_fanout_stats *out);

/* Broker thread: views used for events published from now on. */
void fyn_fanout_set_views(struct fyn_fanout *f, struct fyn_views *views);

#endif
