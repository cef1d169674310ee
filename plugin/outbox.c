/*
 * outbox.c: the completion queue and its waker thread (see outbox.h).
 */
#include "outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REWAKE_INTERVAL_NS 2000000L

struct fyn_outbox {
	pthread_mutex_t lock;
	pthread_cond_t pushed;
	pthread_t waker;
	bool stopping;
	void (*wake_broker)(void);
	struct fyn_completion *head, *tail;
};

/* Sleeps the full interval: pushes during it wake the broker themselves. */
static void wait_a_little(struct fyn_outbox *outbox)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += REWAKE_INTERVAL_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!outbox->stopping && pthread_cond_timedwait(&outbox->pushed, &outbox->lock, &until) != ETIMEDOUT) {
	}
}

/* fyn_outbox_push wakes the broker itself; this thread only repeats the
 * wake while something stays untaken 2 ms after it was pushed. */
static void *waker_main(void *arg)
{
	struct fyn_outbox *outbox = arg;
	pthread_mutex_lock(&outbox->lock);
	while (!outbox->stopping) {
		if (!outbox->head) {
			pthread_cond_wait(&outbox->pushed, &outbox->lock);
			continue;
		}
		wait_a_little(outbox);
		if (outbox->head && !outbox->stopping) {
			outbox->wake_broker();
		}
	}
	pthread_mutex_unlock(&outbox->lock);
	return NULL;
}

struct fyn_outbox *fyn_outbox_new(void (*wake_broker)(void))
{
	struct fyn_outbox *outbox = calloc(1, sizeof(*outbox));
	if (!outbox) {
		return NULL;
	}
	outbox->wake_broker = wake_broker;
	pthread_mutex_init(&outbox->lock, NULL);
	pthread_cond_init(&outbox->pushed, NULL);
	if (pthread_create(&outbox->waker, NULL, waker_main, outbox) != 0) {
		pthread_cond_destroy(&outbox->pushed);
		pthread_mutex_destroy(&outbox->lock);
		free(outbox);
		return NULL;
	}
	return outbox;
}

static void free_list(struct fyn_completion *c)
{
	while (c) {
		struct fyn_completion *next = c->next;
		fyn_completion_free(c);
		c = next;
	}
}

void fyn_outbox_free(struct fyn_outbox *outbox)
{
	if (!outbox) {
		return;
	}
	pthread_mutex_lock(&outbox->lock);
	outbox->stopping = true;
	pthread_cond_broadcast(&outbox->pushed);
	pthread_mutex_unlock(&outbox->lock);
	pthread_join(outbox->waker, NULL);
	free_list(outbox->head);
	pthread_cond_destroy(&outbox->pushed);
	pthread_mutex_destroy(&outbox->lock);
	free(outbox);
}

void fyn_outbox_push(struct fyn_outbox *outbox, struct fyn_completion *c)
{
	c->next = NULL;
	pthread_mutex_lock(&outbox->lock);
	if (outbox->tail) {
		outbox->tail->next = c;
	} else {
		outbox->head = c;
	}
	outbox->tail = c;
	pthread_cond_signal(&outbox->pushed);
	pthread_mutex_unlock(&outbox->lock);
	outbox->wake_broker();
}

void fyn_outbox_log(struct fyn_outbox *outbox, int level, const char *text)
{
	struct fyn_completion *c = fyn_completion_new();
	if (c && (c->log_text = strdup(text))) {
		c->log_level = level;
		fyn_outbox_push(outbox, c);
	} else {
		fyn_completion_free(c);
	}
}

struct fyn_completion *fyn_outbox_take(struct fyn_outbox *outbox)
{
	struct fyn_completion *list;
	pthread_mutex_lock(&outbox->lock);
	list = outbox->head;
	outbox->head = outbox->tail = NULL;
	pthread_mutex_unlock(&outbox->lock);
	return list;
}
