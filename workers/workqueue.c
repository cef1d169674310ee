/*
 * workqueue.c: the bounded, locked FIFO of the hub's threads (see
 * workqueue.h). The lock is held for pointer moves only.
 */
#include "workqueue.h"

#include "clock.h"

void fyn_workqueue_init(struct fyn_workqueue *q, size_t max)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->changed, NULL);
	q->stopping = false;
	q->head = q->tail = NULL;
	q->count = 0;
	q->max = max;
}

void fyn_workqueue_destroy(struct fyn_workqueue *q, void (*free_item)(struct fyn_work *item))
{
	struct fyn_work *item = q->head;
	while (item && free_item) {
		struct fyn_work *next = item->next;
		free_item(item);
		item = next;
	}
	q->head = q->tail = NULL;
	pthread_cond_destroy(&q->changed);
	pthread_mutex_destroy(&q->lock);
}

int fyn_workqueue_push(struct fyn_workqueue *q, struct fyn_work *item)
{
	int rc = -1;
	pthread_mutex_lock(&q->lock);
	if (!q->stopping && q->count < q->max) {
		item->next = NULL;
		if (q->tail) {
			q->tail->next = item;
		} else {
			q->head = item;
		}
		q->tail = item;
		q->count++;
		pthread_cond_broadcast(&q->changed);
		rc = 0;
	}
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* Unlinks the front item; called with the lock held and the queue not empty. */
static struct fyn_work *pop_front(struct fyn_workqueue *q)
{
	struct fyn_work *item = q->head;
	q->head = item->next;
	if (!q->head) {
		q->tail = NULL;
	}
	item->next = NULL;
	q->count--;
	return item;
}

size_t fyn_workqueue_wait_take(struct fyn_workqueue *q, struct fyn_work **out, size_t max)
{
	size_t taken = 0;
	pthread_mutex_lock(&q->lock);
	while (!q->stopping && !q->head) {
		pthread_cond_wait(&q->changed, &q->lock);
	}
	while (!q->stopping && q->head && taken < max) {
		out[taken++] = pop_front(q);
	}
	pthread_mutex_unlock(&q->lock);
	return taken;
}

struct fyn_work *fyn_workqueue_take_all(struct fyn_workqueue *q)
{
	struct fyn_work *list;
	pthread_mutex_lock(&q->lock);
	list = q->head;
	q->head = q->tail = NULL;
	q->count = 0;
	pthread_mutex_unlock(&q->lock);
	return list;
}

struct fyn_work *fyn_workqueue_take_while(struct fyn_workqueue *q,
		bool (*take_this)(const struct fyn_work *item, const void *arg), const void *arg)
{
	struct fyn_work *taken = NULL, **tail = &taken;
	pthread_mutex_lock(&q->lock);
	while (q->head && take_this(q->head, arg)) {
		*tail = pop_front(q);
		tail = &(*tail)->next;
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

void fyn_workqueue_stop(struct fyn_workqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
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
		pthread_cond_wait(&q->changed, &q->lock);
	}
	stopping = q->stopping;
	pthread_mutex_unlock(&q->lock);
	return !stopping;
}
