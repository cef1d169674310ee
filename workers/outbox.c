/*
 * outbox.c: the completion queue and its waker thread (see outbox.h).
 */
#include "outbox.h"

#include "clock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define REWAKE_INTERVAL_MS 2

struct fyn_outbox {
	pthread_mutex_t lock;
	pthread_cond_t pushed;
	pthread_t waker;
	bool stopping;
	void (*wake_broker)(void);
	struct fyn_completion *head, *tail;
};

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
		/* The full interval: pushes during it wake the broker themselves. */
		fyn_wait_unless_stopping(&outbox->pushed, &outbox->lock, &outbox->stopping, REWAKE_INTERVAL_MS);
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

void fyn_outbox_log(struct fyn_outbox *outbox, enum fyn_log_level level, const char *text)
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
