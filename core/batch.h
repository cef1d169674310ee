/*
 * batch.h: turning jobs into one store call and the store's answer into
 * messages. Pure: no threads, no I/O, so the batching logic is unit-tested
 * without a database.
 */
#ifndef FYNSYNC_BATCH_H
#define FYNSYNC_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"
#include "views.h"

/* One row of fynsync_append's answer. Strings are owned by the row. */
struct fyn_append_row {
	int idx;               /* element index in the batch; -1 for hub-generated events */
	char *status;          /* accepted, rejected, generated */
	char *code;            /* rejection code or NULL */
	char *reason;          /* rejection reason or NULL */
	long long seq;         /* 0 when none */
	char *event;           /* stored event JSON to fan out, or NULL */
};

struct fyn_append_result {
	struct fyn_append_row *rows;
	size_t count;
};

/* Frees the rows (the store fills a result; whoever got it clears it). */
void fyn_append_result_clear(struct fyn_append_result *result);


/* The JSON array fynsync_append takes: each job's element plus its index
 * and, for a job that may already have reached the store, "retry": true so
 * the store hands the event back for fan-out (both written into the
 * element's text). malloc'd; NULL on OOM. */
char *fyn_batch_text(struct fyn_job *const *jobs, size_t count);

/* Adds to out, in the store's order, the ack for every job. The events the
 * store returned are published through the fan-out gate
 * (workers/fanout.h), which keeps each stream in seq order across nodes.
 * Returns 0, or -1 on OOM. */
int fyn_batch_answer(struct fyn_job *const *jobs, size_t count,
		const struct fyn_append_result *result, struct fyn_completion *out);

/* How the store answered a batch's jobs (the hub's own jobs left out). */
struct fyn_answer_tally {
	unsigned long long accepted, conflicts, rejected;
};

void fyn_batch_tally(struct fyn_job *const *jobs, size_t count, const struct fyn_append_result *result,
		struct fyn_answer_tally *out);

/* Publishes of one stored event (its text as the store returned it), one
 * per view, each view's text copied once from it (core/view_text.h); the
 * first carries the event's created_at as created_ms. -1 on OOM, or when
 * the text is no event with a restaurant and an event_type. */
int fyn_fanout_event(const char *event_text, const struct fyn_views *views, struct fyn_completion *out);

/* Decides whether a replayed event's topic goes to the client. */
typedef bool (*fyn_topic_wanted)(const char *topic, const void *arg);

/* One replayed event (its text as the store returned it) for one client:
 * the event in that client's view (core/view_text.h), marked
 * "replay": true, on the usual ev topic, sent to the client alone; skipped (returning 0) when wanted is given and says no. */
int fyn_replay_event(const char *event_text, const char *stream, const struct fyn_view *view,
		const char *client_id, const char *owner_sub, fyn_topic_wanted wanted, const void *arg,
		struct fyn_completion *out);

#endif
