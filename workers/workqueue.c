/*
 * workqueue.c: the bounded, locked queue of the hub's threads, with its
 * lanes taken in turn (see workqueue.h). The lock is held for pointer moves
 * and, on a keyed push, for finding the lane.
 */
#include <stdbool.h>

/* uthash would exit() on OOM; we fail the one push instead. Set under a
 * queue's lock, read right after under it: per thread, as each queue has
 * its own lock. */
static _Thread_local bool hash_add_failed;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_add_failed = true)

#include "workqueue.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

void fyn_workqueue_init(struct fyn_workqueue *q, size_t max)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->changed, NULL);
	pthread_cond_init(&q->takeable_now, NULL);
	q->stopping = false;
	q->takers_waiting = q->pending_waiters = 0;
	q->takeable = 0;
	q->busy_min = 1;
	q->head = q->tail = NULL;
	memset(&q->plain, 0, sizeof(q->plain));
	memset(&q->plain_lane, 0, sizeof(q->plain_lane));
	q->groups = NULL;
	q->keys = NULL;
	q->in_hand = 0;
	q->count = 0;
	q->max = max;
}

/* ---- the turn order; every function below runs with the lock held ---- */

static void append_group(struct fyn_workqueue *q, struct fyn_work_group *g)
{
	g->next = NULL;
	if (q->tail) {
		q->tail->next = g;
	} else {
		q->head = g;
	}
	q->tail = g;
}

static void append_lane(struct fyn_work_group *g, struct fyn_work_lane *l)
{
	l->next = NULL;
	if (g->tail) {
		g->tail->next = l;
	} else {
		g->head = l;
	}
	g->tail = l;
}

/* Adds item (its key already set) at the end of lane l of group g, putting
 * l and g in turn when they were empty. */
static void append_item(struct fyn_workqueue *q, struct fyn_work_group *g, struct fyn_work_lane *l,
		struct fyn_work *item)
{
	bool lane_was_empty = !l->head, group_was_empty = !g->head;
	if (item->key) {
		item->key->queued++;
	}
	if (!item->key || item->key->in_hand == 0) {
		q->takeable++;
	}
	item->next = NULL;
	if (l->tail) {
		l->tail->next = item;
	} else {
		l->head = item;
	}
	l->tail = item;
	l->count++;
	if (lane_was_empty) {
		append_lane(g, l);
	}
	if (group_was_empty) {
		append_group(q, g);
	}
	q->count++;
}

static bool may_take(const struct fyn_work_lane *l)
{
	return !l->key || l->key->in_hand == 0;
}

/* The first lane in turn whose next item may be taken, or NULL; *g is set
 * to its group, *gprev and *lprev to the group and lane before them (NULL
 * when first). */
static struct fyn_work_lane *next_lane(struct fyn_workqueue *q, struct fyn_work_group **g,
		struct fyn_work_group **gprev, struct fyn_work_lane **lprev)
{
	*gprev = NULL;
	for (*g = q->head; *g; *gprev = *g, *g = (*g)->next) {
		*lprev = NULL;
		for (struct fyn_work_lane *l = (*g)->head; l; *lprev = l, l = l->next) {
			if (may_take(l)) {
				return l;
			}
		}
	}
	return NULL;
}

/* Frees group g, which has no lanes (so is in no turn). */
static void free_group(struct fyn_workqueue *q, struct fyn_work_group *g)
{
	HASH_DEL(q->groups, g);   // NOLINT(clang-analyzer-unix.Malloc): uthash's bookkeeping confuses the analyzer
	free(g->name);
	free(g);
}

/* Takes up to max items, oldest first, from lane l of group g (gprev and
 * lprev: the group and lane before them in turn, NULL when first) into out;
 * the lane then goes to the back of its group, and the group to the back of
 * the queue. Returns how many (at least 1: l has items). */
static size_t pop_from(struct fyn_workqueue *q, struct fyn_work_group *g, struct fyn_work_group *gprev,
		struct fyn_work_lane *l, struct fyn_work_lane *lprev, struct fyn_work **out, size_t max)
{
	size_t n = 0;

	while (n < max && l->head) {
		struct fyn_work *item = l->head;
		l->head = item->next;
		item->next = NULL;
		out[n++] = item;
	}
	if (!l->head) {
		l->tail = NULL;
	}
	l->count -= n;
	q->count -= n;
	q->takeable -= n;
	if (l->key) {   /* now in hand, so the key's other queued items wait */
		l->key->queued -= n;
		l->key->in_hand += n;
		q->in_hand += n;
		q->takeable -= l->key->queued;
	}
	/* unlink the lane from its group, and the group from the queue */
	*(lprev ? &lprev->next : &g->head) = l->next;
	if (g->tail == l) {
		g->tail = lprev;
	}
	*(gprev ? &gprev->next : &q->head) = g->next;
	if (q->tail == g) {
		q->tail = gprev;
	}
	if (l->head) {
		append_lane(g, l);
	} else if (l != &q->plain_lane) {
		free(l);
	}
	if (g->head) {
		append_group(q, g);
	} else if (g != &q->plain) {
		free_group(q, g);
	}
	return n;
}

/* Takes the next item in turn, or returns NULL when none may be taken: the
 * first item of the first lane that may be taken. */
static struct fyn_work *pop_next(struct fyn_workqueue *q)
{
	struct fyn_work_group *g, *gprev;
	struct fyn_work_lane *lprev;
	struct fyn_work_lane *l = next_lane(q, &g, &gprev, &lprev);
	struct fyn_work *item = NULL;

	if (l) {
		pop_from(q, g, gprev, l, lprev, &item, 1);
	}
	return item;
}

/* n of key k's items are no longer in hand; once none is, its queued items
 * may be taken. */
static void give_back(struct fyn_workqueue *q, struct fyn_work_key *k, size_t n)
{
	k->in_hand -= n;
	q->in_hand -= n;
	if (k->in_hand == 0) {
		q->takeable += k->queued;
	}
}

/* Whether a waiting taker should take now: items may be taken and either
 * none is in hand or at least busy_min may be taken. */
static bool ready_for_takers(const struct fyn_workqueue *q)
{
	return q->takeable > 0 && (q->in_hand == 0 || q->takeable >= q->busy_min);
}

/* Wakes one waiting taker when it would take; the one woken wakes the next
 * (wake_one_taker again after it took), so a push wakes no taker that
 * would only go back to sleep. */
static void wake_one_taker(struct fyn_workqueue *q)
{
	if (q->takers_waiting > 0 && ready_for_takers(q)) {
		pthread_cond_signal(&q->takeable_now);
	}
}

/* Waits on takeable_now, counted as a waiting taker. */
static void wait_as_taker(struct fyn_workqueue *q)
{
	q->takers_waiting++;
	pthread_cond_wait(&q->takeable_now, &q->lock);
	q->takers_waiting--;
}

/* A push's wake-ups: a taker that would take, and fyn_workqueue_wait_pending. */
static void wake_after_push(struct fyn_workqueue *q)
{
	wake_one_taker(q);
	if (q->pending_waiters > 0) {
		pthread_cond_broadcast(&q->changed);
	}
}

static struct fyn_work_key *find_key(struct fyn_workqueue *q, const char *name)
{
	struct fyn_work_key *k;
	HASH_FIND_STR(q->keys, name, k);
	return k;
}

/* A new key, in the queue's keys; NULL on OOM. */
static struct fyn_work_key *new_key(struct fyn_workqueue *q, const char *name)
{
	struct fyn_work_key *k = calloc(1, sizeof(*k));
	if (!k || (k->name = strdup(name)) == NULL) {
		free(k);
		return NULL;
	}
	hash_add_failed = false;
	HASH_ADD_KEYPTR(hh, q->keys, k->name, strlen(k->name), k);
	if (hash_add_failed) {
		free(k->name);
		free(k);
		return NULL;
	}
	return k;
}

static struct fyn_work_group *find_group(struct fyn_workqueue *q, const char *name)
{
	struct fyn_work_group *g;
	HASH_FIND_STR(q->groups, name, g);
	return g;
}

/* A new group without lanes, in the queue's groups; NULL on OOM. */
static struct fyn_work_group *new_group(struct fyn_workqueue *q, const char *name)
{
	struct fyn_work_group *g = calloc(1, sizeof(*g));
	if (!g || (g->name = strdup(name)) == NULL) {
		free(g);
		return NULL;
	}
	hash_add_failed = false;
	HASH_ADD_KEYPTR(hh, q->groups, g->name, strlen(g->name), g);
	if (hash_add_failed) {
		free(g->name);
		free(g);
		return NULL;
	}
	return g;
}

static struct fyn_work_lane *find_lane(struct fyn_work_group *g, const struct fyn_work_key *k)
{
	struct fyn_work_lane *l = g->head;
	while (l && l->key != k) {
		l = l->next;
	}
	return l;
}

static void release_key(struct fyn_workqueue *q, struct fyn_work_key *k)
{
	HASH_DEL(q->keys, k);   // NOLINT(clang-analyzer-unix.Malloc): uthash's bookkeeping confuses the analyzer
	free(k->name);
	free(k);
}

/* ---- the interface ---- */

/* Frees every lane of group g and, with free_item, their items. */
static void free_lanes(struct fyn_workqueue *q, struct fyn_work_group *g,
		void (*free_item)(struct fyn_work *item))
{
	while (g->head) {
		struct fyn_work_lane *l = g->head;
		g->head = l->next;
		while (l->head) {
			struct fyn_work *item = l->head;
			l->head = item->next;
			if (free_item) {
				free_item(item);
			}
		}
		if (l != &q->plain_lane) {
			free(l);
		}
	}
}

void fyn_workqueue_destroy(struct fyn_workqueue *q, void (*free_item)(struct fyn_work *item))
{
	struct fyn_work_key *k, *next_key;
	while (q->head) {
		struct fyn_work_group *g = q->head;
		q->head = g->next;
		free_lanes(q, g, free_item);
		if (g != &q->plain) {
			free_group(q, g);
		}
	}
	/* The uthash deletion idiom; the analyzer loses track of its pointers. */
	HASH_ITER(hh, q->keys, k, next_key) {
		release_key(q, k);   // NOLINT(clang-analyzer-unix.Malloc)
	}
	pthread_cond_destroy(&q->takeable_now);
	pthread_cond_destroy(&q->changed);
	pthread_mutex_destroy(&q->lock);
}

int fyn_workqueue_push(struct fyn_workqueue *q, struct fyn_work *item)
{
	int rc = FYN_PUSH_FULL;
	pthread_mutex_lock(&q->lock);
	if (!q->stopping && q->count < q->max) {
		item->key = NULL;
		append_item(q, &q->plain, &q->plain_lane, item);
		wake_after_push(q);
		rc = FYN_PUSH_OK;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* The lane of key k in group, made when missing (with the group, when
 * that has no items yet); *g is set to the group. NULL on OOM. */
static struct fyn_work_lane *lane_for(struct fyn_workqueue *q, struct fyn_work_key *k,
		const char *group, struct fyn_work_group **g)
{
	struct fyn_work_lane *l;

	*g = find_group(q, group);
	l = *g ? find_lane(*g, k) : NULL;
	if (l) {
		return l;
	}
	if (!*g && (*g = new_group(q, group)) == NULL) {
		return NULL;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		if (!(*g)->head) {   /* new, so in no turn yet */
			free_group(q, *g);
			*g = NULL;
		}
		return NULL;
	}
	l->key = k;
	return l;
}

/* fyn_workqueue_push_keyed with the lock held. */
static int push_keyed_locked(struct fyn_workqueue *q, struct fyn_work *item, const char *group,
		const char *key, size_t key_max)
{
	struct fyn_work_key *k;
	struct fyn_work_group *g;
	struct fyn_work_lane *l;

	if (q->stopping || q->count >= q->max) {
		return FYN_PUSH_FULL;
	}
	k = find_key(q, key);
	if ((k ? k->outstanding : 0) >= key_max) {
		return FYN_PUSH_BUSY;
	}
	if (!k && (k = new_key(q, key)) == NULL) {
		return FYN_PUSH_FULL;
	}
	if ((l = lane_for(q, k, group, &g)) == NULL) {
		if (k->outstanding == 0) {
			release_key(q, k);
		}
		return FYN_PUSH_FULL;
	}
	item->key = k;
	k->outstanding++;
	append_item(q, g, l, item);
	wake_after_push(q);
	return FYN_PUSH_OK;
}

int fyn_workqueue_push_keyed(struct fyn_workqueue *q, struct fyn_work *item, const char *group,
		const char *key, size_t key_max)
{
	int rc;
	pthread_mutex_lock(&q->lock);
	rc = push_keyed_locked(q, item, group, key, key_max);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int fyn_workqueue_requeue(struct fyn_workqueue *q, struct fyn_work *item, const char *group)
{
	struct fyn_work_group *g = &q->plain;
	struct fyn_work_lane *l = NULL;
	int rc = FYN_PUSH_FULL;

	pthread_mutex_lock(&q->lock);
	if (!q->stopping) {
		l = item->key ? lane_for(q, item->key, group, &g) : &q->plain_lane;
	}
	if (l) {
		if (item->key) {
			give_back(q, item->key, 1);
		}
		append_item(q, g, l, item);
		wake_after_push(q);
		rc = FYN_PUSH_OK;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* fyn_workqueue_done of one keyed item, with the lock held. */
static void done_locked(struct fyn_workqueue *q, struct fyn_work *item)
{
	give_back(q, item->key, 1);
	if (--item->key->outstanding == 0) {
		release_key(q, item->key);
	}
	item->key = NULL;
}

void fyn_workqueue_done(struct fyn_workqueue *q, struct fyn_work *item)
{
	fyn_workqueue_done_all(q, &item, 1);
}

void fyn_workqueue_done_all(struct fyn_workqueue *q, struct fyn_work *const *items, size_t count)
{
	bool any = false;
	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < count; i++) {
		if (items[i]->key) {
			done_locked(q, items[i]);
			any = true;
		}
	}
	if (any) {
		wake_one_taker(q);   /* the keys' next items may be taken now */
	}
	pthread_mutex_unlock(&q->lock);
}

size_t fyn_workqueue_wait_take(struct fyn_workqueue *q, struct fyn_work **out, size_t max)
{
	size_t taken = 0;
	pthread_mutex_lock(&q->lock);
	while (!q->stopping && taken < max) {
		struct fyn_work *item = pop_next(q);
		if (item) {
			out[taken++] = item;
		} else if (taken > 0) {
			break;
		} else {
			wait_as_taker(q);
		}
	}
	wake_one_taker(q);   /* for what is left */
	pthread_mutex_unlock(&q->lock);
	return taken;
}

size_t fyn_workqueue_wait_take_lanes(struct fyn_workqueue *q, struct fyn_work **out, size_t max,
		size_t min_while_busy)
{
	size_t taken = 0;
	struct fyn_work_group *g, *gprev;
	struct fyn_work_lane *l, *lprev;

	pthread_mutex_lock(&q->lock);
	q->busy_min = min_while_busy > 0 ? min_while_busy : 1;
	while (!q->stopping && !ready_for_takers(q)) {
		wait_as_taker(q);
	}
	while (!q->stopping && taken < max && (l = next_lane(q, &g, &gprev, &lprev)) != NULL) {
		taken += pop_from(q, g, gprev, l, lprev, out + taken, max - taken);
	}
	wake_one_taker(q);   /* a backlog of busy_min is left: another taker joins */
	pthread_mutex_unlock(&q->lock);
	return taken;
}

struct fyn_work *fyn_workqueue_take_all(struct fyn_workqueue *q)
{
	return fyn_workqueue_take_while(q, NULL, NULL);
}

struct fyn_work *fyn_workqueue_take_while(struct fyn_workqueue *q,
		bool (*take_this)(const struct fyn_work *item, const void *arg), const void *arg)
{
	struct fyn_work *taken = NULL, **tail = &taken, *item;
	struct fyn_work_group *g, *gprev;
	struct fyn_work_lane *l, *lprev;
	pthread_mutex_lock(&q->lock);
	while ((l = next_lane(q, &g, &gprev, &lprev)) != NULL && (!take_this || take_this(l->head, arg))
			&& (item = pop_next(q)) != NULL) {
		*tail = item;
		tail = &item->next;
	}
	pthread_mutex_unlock(&q->lock);
	return taken;
}

size_t fyn_workqueue_count(struct fyn_workqueue *q)
{
	size_t count;
	pthread_mutex_lock(&q->lock);
	count = q->count;
	pthread_mutex_unlock(&q->lock);
	return count;
}

size_t fyn_workqueue_outstanding(struct fyn_workqueue *q, const char *key)
{
	const struct fyn_work_key *k;
	size_t outstanding;
	pthread_mutex_lock(&q->lock);
	k = find_key(q, key);
	outstanding = k ? k->outstanding : 0;
	pthread_mutex_unlock(&q->lock);
	return outstanding;
}

void fyn_workqueue_stop(struct fyn_workqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->takeable_now);
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
}

bool fyn_workqueue_pause(struct fyn_workqueue *q, long long ms)
{
	bool stopping;
	pthread_mutex_lock(&q->lock);
	stopping = fyn_wait_unless_stopping(&q->changed, &q->lock, &q->stopping, ms);
	pthread_mutex_unlock(&q->lock);
	return !stopping;
}

bool fyn_workqueue_wait_pending(struct fyn_workqueue *q)
{
	bool stopping;
	pthread_mutex_lock(&q->lock);
	while (!q->stopping && !q->head) {
		q->pending_waiters++;
		pthread_cond_wait(&q->changed, &q->lock);
		q->pending_waiters--;
	}
	stopping = q->stopping;
	pthread_mutex_unlock(&q->lock);
	return !stopping;
}
