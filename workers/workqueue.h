/*
 * workqueue.h: the one locked queue every thread of the hub is fed by.
 *
 * The writer takes jobs from one, each reader takes read requests from its
 * own, and the broker thread drains the outbox's. An item is any struct
 * whose first member is a struct fyn_work (core/job.h); the queue links it
 * and hands it back, never frees or copies it. Items come out in the order
 * they went in. The queue is bounded: a push past max is refused at once, so
 * the broker thread never waits on a consumer. Any thread may push; the
 * thread that consumes also uses the queue's stop-aware pauses, so stopping
 * the queue ends every wait at once.
 */
#ifndef FYNSYNC_WORKQUEUE_H
#define FYNSYNC_WORKQUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "job.h"

struct fyn_workqueue {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool stopping;
	struct fyn_work *head, *tail;
	size_t count;
	size_t max;
};

void fyn_workqueue_init(struct fyn_workqueue *q, size_t max);
/* Frees what is still queued with free_item, then the queue's own state. */
void fyn_workqueue_destroy(struct fyn_workqueue *q, void (*free_item)(struct fyn_work *item));

/* 0, or -1 when the queue is full or stopping (the item is still the caller's). */
int fyn_workqueue_push(struct fyn_workqueue *q, struct fyn_work *item);
/* Waits for items, then takes up to max of them into out. Returns how many;
 * 0 only once the queue is stopping. */
size_t fyn_workqueue_wait_take(struct fyn_workqueue *q, struct fyn_work **out, size_t max);
/* Takes everything queued, as a list linked by next (NULL when empty). */
struct fyn_work *fyn_workqueue_take_all(struct fyn_workqueue *q);
/* Takes items from the front while take_this says yes (oldest first). */
struct fyn_work *fyn_workqueue_take_while(struct fyn_workqueue *q,
		bool (*take_this)(const struct fyn_work *item, const void *arg), const void *arg);
size_t fyn_workqueue_count(struct fyn_workqueue *q);

/* Ends every wait and refuses further pushes. */
void fyn_workqueue_stop(struct fyn_workqueue *q);
/* Sleeps ms (pushes do not shorten it). Returns false when stopping. */
bool fyn_workqueue_pause(struct fyn_workqueue *q, long long ms);
/* Waits until something is queued. Returns false when stopping. */
bool fyn_workqueue_wait_pending(struct fyn_workqueue *q);

#endif
