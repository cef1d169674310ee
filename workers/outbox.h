/*
 * outbox.h: completions waiting for the broker thread.
 *
 * The writer and reader threads push completions here; the broker thread
 * takes them all on its next tick. Pushing wakes the broker (see wake.h),
 * and a small waker thread keeps waking it every 2 ms while anything is
 * still waiting, because a wake that lands just before the broker goes to
 * sleep is lost.
 */
#ifndef FYNSYNC_OUTBOX_H
#define FYNSYNC_OUTBOX_H

#include "job.h"

struct fyn_outbox;

struct fyn_outbox *fyn_outbox_new(void (*wake_broker)(void));
/* Stops the waker thread and frees whatever was never taken. */
void fyn_outbox_free(struct fyn_outbox *outbox);

void fyn_outbox_push(struct fyn_outbox *outbox, struct fyn_completion *c);
/* A log line for the broker thread to write through mosquitto's log. */
void fyn_outbox_log(struct fyn_outbox *outbox, enum fyn_log_level level, const char *text);
/* Broker thread: everything pushed so far, oldest first, linked by work.next. */
struct fyn_completion *fyn_outbox_take(struct fyn_outbox *outbox);

#endif
