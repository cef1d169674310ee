/*
 * workqueue.h: the one locked queue every thread of the hub is fed by.
 *
 * The writer takes jobs from one, each reader takes read requests from its
 * own, and the broker thread drains the outbox's. An item is any struct
 * whose first member is a struct fyn_work (core/job.h); the queue links it
 * and hands it back, never frees or copies it. The queue is bounded: a push
 * past max is refused at once, so the broker thread never waits on a
 * consumer. Any thread may push; the thread that consumes also uses the
 * queue's stop-aware pauses, so stopping the queue ends every wait at once.
 *
 * Plain pushes come out in the order they went in. Keyed pushes give fair
 * service (the readers: one client must not starve the others): an item
 * goes into the lane of its (group, key), say (restaurant, client); the
 * queue takes one item from each group in turn, and within a group one from
 * each key in turn, oldest first in each lane. Plain items form one more
 * group of their own. A key's items are taken one at a time: the next only
 * once the consumer reported the previous done (fyn_workqueue_done) or put
 * it back (fyn_workqueue_requeue), so with several consumer threads one key
 * never holds more than one of them and the others stay free for other
 * keys. A key may have at most key_max items outstanding: pushed and not
 * yet done.
 *
 * A consumer that serves a key's items together (the writers: one
 * restaurant's events in one commit) takes whole lanes instead
 * (fyn_workqueue_wait_take_lanes): every queued item of each key in turn,
 * the key then in hand until all of them are done. That is group commit:
 * while any consumer has items in hand another one starts only once a
 * backlog of min_while_busy items may be taken, so at a low rate one
 * consumer takes every key's items at once (one commit for many
 * restaurants, not one each), and the others join as the backlog grows.
 * Keys and groups are found by hash (uthash), so a push costs the same
 * with 5,000 clients resuming at once as with one; within its group a lane
 * is found by walking the group's lanes, one per key with items there.
 *
 * Waking: the queue keeps a running count of the items that may be taken,
 * and a push, done or requeue wakes one waiting taker only when that taker
 * would take; it wakes the next in turn once it has taken. Waking every
 * writer on every submission, to find the backlog still short and sleep
 * again, cost the broker thread about a fifth of its CPU in futex calls
 * and lock handoffs at 6,500 events/s (perf, docs/benchmarks.md).
 */
#ifndef FYNSYNC_WORKQUEUE_H
#define FYNSYNC_WORKQUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <uthash.h>

#include "job.h"

/* The parts of a queue; only workqueue.c looks inside them. */
struct fyn_work_key {               /* a key with items outstanding */
	char *name;
	size_t outstanding;
	size_t in_hand;                  /* of its items, those with a consumer (taken, not done) */
	size_t queued;                   /* of its items, those queued (in any group's lane) */
	UT_hash_handle hh;               /* in the queue's keys, by name */
};

struct fyn_work_lane {              /* one key's queued items within one group, oldest first */
	struct fyn_work *head, *tail;
	size_t count;                    /* items in it */
	struct fyn_work_key *key;        /* NULL for the plain lane */
	struct fyn_work_lane *next;      /* the group's next lane in turn */
};

struct fyn_work_group {             /* a group with items queued */
	char *name;                      /* NULL for the plain group */
	struct fyn_work_lane *head, *tail;   /* its lanes, in turn */
	struct fyn_work_group *next;     /* the next group in turn */
	UT_hash_handle hh;               /* in the queue's groups, by name (not the plain group) */
};

struct fyn_workqueue {
	pthread_mutex_t lock;
	pthread_cond_t takeable_now;          /* a waiting taker should take: signalled, one at a time */
	pthread_cond_t changed;               /* for fyn_workqueue_wait_pending, and stopping */
	size_t takers_waiting;                /* in wait_take or wait_take_lanes, waiting */
	size_t pending_waiters;               /* in wait_pending, waiting */
	size_t takeable;                      /* queued items whose key is not in hand (and plain ones) */
	size_t busy_min;                      /* min_while_busy of the takers of lanes; 1 otherwise */
	bool stopping;
	struct fyn_work_group *head, *tail;   /* groups with items queued, in turn */
	struct fyn_work_group plain;          /* plain pushes: one group, one lane */
	struct fyn_work_lane plain_lane;
	struct fyn_work_group *groups;        /* groups with items queued, by name (not plain) */
	struct fyn_work_key *keys;            /* keys with items outstanding, by name */
	size_t in_hand;                       /* keyed items with a consumer: taken, not done */
	size_t count;
	size_t max;
};

enum fyn_push_result {
	FYN_PUSH_OK = 0,
	FYN_PUSH_FULL = -1,   /* the queue is full or stopping (or out of memory) */
	FYN_PUSH_BUSY = -2,   /* keyed: the key already has key_max items outstanding */
};

void fyn_workqueue_init(struct fyn_workqueue *q, size_t max);
/* Frees what is still queued with free_item, then the queue's own state. */
void fyn_workqueue_destroy(struct fyn_workqueue *q, void (*free_item)(struct fyn_work *item));

/* FYN_PUSH_OK, or FYN_PUSH_FULL (the item is still the caller's). */
int fyn_workqueue_push(struct fyn_workqueue *q, struct fyn_work *item);
/* Queues item in the lane of (group, key), both copied. On FYN_PUSH_OK the
 * item counts as outstanding for key until fyn_workqueue_done; otherwise it
 * is still the caller's. */
int fyn_workqueue_push_keyed(struct fyn_workqueue *q, struct fyn_work *item, const char *group,
		const char *key, size_t key_max);
/* Puts item, taken from q and not yet done, back at the end of its lane in
 * group (the one it was pushed with), for a consumer that serves an item
 * in several turns. No bound applies: the item is still outstanding.
 * FYN_PUSH_FULL when stopping or out of memory (the item is then still the
 * caller's, and still outstanding until done). */
int fyn_workqueue_requeue(struct fyn_workqueue *q, struct fyn_work *item, const char *group);
/* The consumer is done with item (taken from this queue): it no longer
 * counts for its key. Harmless for plain items. */
void fyn_workqueue_done(struct fyn_workqueue *q, struct fyn_work *item);
/* fyn_workqueue_done of every item, under one lock. */
void fyn_workqueue_done_all(struct fyn_workqueue *q, struct fyn_work *const *items, size_t count);

/* Waits for items that may be taken, then takes up to max of them into out,
 * in turn. Returns how many; 0 only once the queue is stopping. */
size_t fyn_workqueue_wait_take(struct fyn_workqueue *q, struct fyn_work **out, size_t max);
/* Waits until items may be taken and either no keyed item is in hand or at
 * least min_while_busy may be taken; then takes whole lanes in turn (each
 * key's queued items, oldest first), up to max items. Every item taken is
 * in hand until done. Returns how many; 0 only once the queue is stopping. */
size_t fyn_workqueue_wait_take_lanes(struct fyn_workqueue *q, struct fyn_work **out, size_t max,
		size_t min_while_busy);
/* Takes everything that may be taken, in turn, as a list linked by next
 * (NULL when none): for plain items, everything queued. */
struct fyn_work *fyn_workqueue_take_all(struct fyn_workqueue *q);
/* Takes items, in turn, while take_this says yes to the next one that may
 * be taken. */
struct fyn_work *fyn_workqueue_take_while(struct fyn_workqueue *q,
		bool (*take_this)(const struct fyn_work *item, const void *arg), const void *arg);
/* Items queued (taken ones no longer count). */
size_t fyn_workqueue_count(struct fyn_workqueue *q);
/* Items key has outstanding: queued or taken and not yet done. */
size_t fyn_workqueue_outstanding(struct fyn_workqueue *q, const char *key);

/* Ends every wait and refuses further pushes. */
void fyn_workqueue_stop(struct fyn_workqueue *q);
/* Sleeps ms (pushes do not shorten it). Returns false when stopping. */
bool fyn_workqueue_pause(struct fyn_workqueue *q, long long ms);
/* Waits until something is queued. Returns false when stopping. */
bool fyn_workqueue_wait_pending(struct fyn_workqueue *q);

#endif
