/*
 * outbox.c: the completion queue and its waker thread (see outbox.h).
 */
#include "outbox.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workqueue.h"

#define REWAKE_INTERVAL_MS 2

struct fyn_outbox {
	struct fyn_workqueue queue;   /* unbounded: every answer must reach the broker */
	pthread_t waker;
	void (*wake_broker)(void);
};

/* fyn_outbox_push wakes the broker itself; this thread only repeats the
 * wake while something stays untaken 2 ms after it was pushed. The pause
 * is the full interval: pushes during it wake the broker themselves. */
static void *waker_main(void *arg)
{
	struct fyn_outbox *outbox = arg;
	while (fyn_workqueue_wait_pending(&outbox->queue) && fyn_workqueue_pause(&outbox->queue, REWAKE_INTERVAL_MS)) {
		if (fyn_workqueue_count(&outbox->queue) > 0) {
			outbox->wake_broker();
		}
	}
	return NULL;
}

struct fyn_outbox *fyn_outbox_new(void (*wake_broker)(void))
{
	struct fyn_outbox *outbox = calloc(1, sizeof(*outbox));
	if (!outbox) {
		return NULL;
	}
	outbox->wake_broker = wake_broker;
	fyn_workqueue_init(&outbox->queue, SIZE_MAX);
	if (pthread_create(&outbox->waker, NULL, waker_main, outbox) != 0) {
		fyn_workqueue_destroy(&outbox->queue, NULL);
		free(outbox);
		return NULL;
	}
	return outbox;
}

static void free_completion(struct fyn_work *item)
{
	fyn_completion_free((struct fyn_completion *)item);
}

void fyn_outbox_free(struct fyn_outbox *outbox)
{
	if (!outbox) {
		return;
	}
	fyn_workqueue_stop(&outbox->queue);
	pthread_join(outbox->waker, NULL);
	fyn_workqueue_destroy(&outbox->queue, free_completion);
	free(outbox);
}

void fyn_outbox_push(struct fyn_outbox *outbox, struct fyn_completion *c)
{
	if (fyn_workqueue_push(&outbox->queue, &c->work) != 0) {
		fyn_completion_free(c);   /* only while stopping: nobody would publish it */
		return;
	}
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
	return (struct fyn_completion *)fyn_workqueue_take_all(&outbox->queue);
}
