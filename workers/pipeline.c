/*
 * pipeline.c: the writer threads (see pipeline.h for the contract).
 *
 * The writers share one job queue (workqueue.h, with its own lock), keyed
 * by restaurant, and each owns one store connection and one thread. One
 * mutex guards the stats, the count of writers that find the store down,
 * and each writer's store call in progress and oldest job held (read by the
 * broker thread for the metrics). Nothing is locked across a store
 * call, so the broker thread only ever waits for a few pointer moves. Acks
 * go out through the outbox, stored events through the fan-out gate
 * (fanout.h).
 */
#include "pipeline.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "outbox.h"
#include "ack.h"
#include "clock.h"
#include "fanout.h"
#include "store.h"
#include "topics.h"
#include "workqueue.h"

#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 1000
#define TRANSIENT_RETRIES 5
/* Group commit: while a writer is committing, another one starts only once
 * max_batch / GROUP_COMMIT_SHARE jobs wait (pipeline.h). A store call costs
 * PostgreSQL about 1.5 ms of CPU whatever it holds, and about 100 µs more
 * per event (tests/load/append_batch.py, 2-vCPU VM at load 6: 1,615 µs per
 * event in batches of 1, 535 in batches of 4, 122 in batches of 256), so
 * four writers each committing a few events of a trickle cost several
 * times what one commit of them all does. */
#define GROUP_COMMIT_SHARE 4

struct fyn_pipeline;

struct fyn_writer {
	struct fyn_pipeline *p;
	struct fyn_store *store;
	pthread_t thread;
	bool started;
	bool store_was_down;         /* this writer's thread only */
	long long call_started_ms;   /* under p->lock: monotonic start of the store call in progress, 0: none */
	long long oldest_received_ms;/* under p->lock: wall clock receipt of the oldest job held, 0: none */
};

struct fyn_pipeline {
	struct fyn_pipeline_config config;
	struct fyn_workqueue jobs;   /* from the broker thread, keyed by restaurant */
	struct fyn_writer *writers;
	size_t writer_count;
	pthread_mutex_t lock;        /* guards stats and writers_down */
	struct fyn_outbox *outbox;
	struct fyn_pipeline_stats stats;
	size_t writers_down;         /* writers whose last store call found it down */
};

static void push_completion(struct fyn_pipeline *p, struct fyn_completion *c)
{
	fyn_outbox_push(p->outbox, c);
}

static void push_log(struct fyn_pipeline *p, enum fyn_log_level level, const char *text)
{
	fyn_outbox_log(p->outbox, level, text);
}

/* The jobs taken are answered: their restaurants' next jobs may be taken
 * (by any writer, now that these are offered to the fan-out in seq order). */
static void finish_jobs(struct fyn_pipeline *p, struct fyn_work **taken, size_t count)
{
	fyn_workqueue_done_all(&p->jobs, taken, count);
	for (size_t i = 0; i < count; i++) {
		fyn_job_free((struct fyn_job *)taken[i]);
	}
}

/* Adds what one answer counted (tally may be NULL) to the stats. */
static void count_answers(struct fyn_pipeline *p, const struct fyn_answer_tally *tally,
		unsigned long long unavailable, bool committed)
{
	pthread_mutex_lock(&p->lock);
	if (tally) {
		p->stats.accepted_jobs += tally->accepted;
		p->stats.conflict_jobs += tally->conflicts;
		p->stats.rejected_jobs += tally->rejected;
	}
	p->stats.unavailable_jobs += unavailable;
	p->stats.accepted_batches += committed;
	pthread_mutex_unlock(&p->lock);
}

static unsigned long long clients_jobs(struct fyn_job *const *jobs, size_t count)
{
	unsigned long long n = 0;
	for (size_t i = 0; i < count; i++) {
		n += !jobs[i]->from_hub;
	}
	return n;
}

/* The writer's store call in progress (started_ms 0: it ended, after
 * committed_us when it committed, for the commit histogram). */
static void note_call(struct fyn_writer *w, long long started_ms, long long committed_us)
{
	pthread_mutex_lock(&w->p->lock);
	w->call_started_ms = started_ms;
	if (committed_us >= 0) {
		fyn_histogram_observe(&w->p->stats.store_commit, (double)committed_us / 1e6);
	}
	pthread_mutex_unlock(&w->p->lock);
}

static void note_holding(struct fyn_writer *w, struct fyn_job *const *jobs, size_t count)
{
	long long oldest = 0;
	for (size_t i = 0; i < count; i++) {
		if (jobs[i]->received_ms > 0 && (oldest == 0 || jobs[i]->received_ms < oldest)) {
			oldest = jobs[i]->received_ms;
		}
	}
	pthread_mutex_lock(&w->p->lock);
	w->oldest_received_ms = oldest;
	pthread_mutex_unlock(&w->p->lock);
}

static void answer_unavailable(struct fyn_pipeline *p, struct fyn_job **jobs, size_t count,
		const char *reason)
{
	struct fyn_completion *c = fyn_completion_new();
	for (size_t i = 0; c && i < count; i++) {
		if (fyn_completion_add_unavailable(c, jobs[i], reason) != 0) {
			break;
		}
	}
	if (c) {
		push_completion(p, c);
	}
	count_answers(p, NULL, clients_jobs(jobs, count), false);
}

/* Counts writers finding the store down; true when this is the first (or,
 * for up, the last) of them, which is when the change is logged. */
static bool count_down(struct fyn_pipeline *p, bool down)
{
	bool changed;
	pthread_mutex_lock(&p->lock);
	p->writers_down = down ? p->writers_down + 1 : p->writers_down - 1;
	changed = p->writers_down == (down ? 1U : 0U);
	p->stats.store_up = p->writers_down == 0;
	pthread_mutex_unlock(&p->lock);
	return changed;
}

static void note_store_down(struct fyn_writer *w, const char *err)
{
	char text[768];
	if (w->store_was_down) {
		return;
	}
	w->store_was_down = true;
	if (!count_down(w->p, true)) {
		return;
	}
	snprintf(text, sizeof(text), "fynsync: PostgreSQL is unreachable (%s); submissions are "
			"answered 'unavailable' until it is back. Check the server and plugin_opt_db_conninfo; "
			"the hub reconnects by itself.", err);
	push_log(w->p, FYN_LOG_ERR, text);
}

static void note_store_up(struct fyn_writer *w)
{
	if (w->store_was_down) {
		w->store_was_down = false;
		if (count_down(w->p, false)) {
			push_log(w->p, FYN_LOG_NOTICE, "fynsync: PostgreSQL is reachable again; accepting events.");
		}
	}
}

/* Sends the batch's acks to the broker thread and its events to the
 * fan-out gate. Returns false on OOM. */
static bool deliver(struct fyn_pipeline *p, struct fyn_job **jobs, size_t count,
		const struct fyn_append_result *result)
{
	struct fyn_completion *c = fyn_completion_new();
	bool ok = c && fyn_batch_answer(jobs, count, result, c) == 0;
	struct fyn_answer_tally tally;

	if (!ok) {
		fyn_completion_free(c);
		return false;
	}
	push_completion(p, c);
	fyn_fanout_offer_result(p->config.fanout, jobs, count, result);
	fyn_batch_tally(jobs, count, result, &tally);
	count_answers(p, &tally, 0, true);
	return true;
}

static bool is_transient(const char *sqlstate)
{
	return strncmp(sqlstate, "40", 2) == 0 || strcmp(sqlstate, "55P03") == 0
		|| strcmp(sqlstate, "57014") == 0 || strncmp(sqlstate, "53", 2) == 0;
}

static bool is_data_problem(const char *sqlstate)
{
	return strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0;
}

/* The answer for a data error (SQLSTATE class 22 or 23) the store raised
 * for one event. A fixed text per class: the database's own message can
 * hold SQL, table names and other events' data, and goes to the log only. */
static const char *data_problem_reason(const char *sqlstate)
{
	return strncmp(sqlstate, "22", 2) == 0
		? "the store cannot hold a value in this event (out of range or malformed); fix the event"
		: "the event breaks a rule of the store; fix the event";
}

/* A single event the store refused: invalid when for what it contains,
 * otherwise unavailable. Either way the database's text is only logged. */
static void reject_refused(struct fyn_pipeline *p, struct fyn_job *job, const char *sqlstate,
		const char *err)
{
	char text[768];

	if (is_data_problem(sqlstate)) {
		struct fyn_completion *c = fyn_completion_new();
		struct fyn_answer_tally tally = { .rejected = !job->from_hub };
		snprintf(text, sizeof(text), "fynsync: the store refused event %s (SQLSTATE %s: %.500s); "
				"answered 'invalid'. The hub's own checks should have caught this: report it.",
				job->id, sqlstate, err);
		push_log(p, FYN_LOG_WARNING, text);
		if (c && fyn_completion_add(c, job->client_id, job->sub, fyn_client_topic(job->client_id, "ack"),
				fyn_ack_rejected(job->id, "invalid", data_problem_reason(sqlstate))) == 0) {
			push_completion(p, c);
		} else {
			fyn_completion_free(c);
		}
		count_answers(p, &tally, 0, false);
		return;
	}
	snprintf(text, sizeof(text), "fynsync: the store failed to append event %s (SQLSTATE %s: %.500s); "
			"answered 'unavailable'. Check the database schema and server log.", job->id, sqlstate, err);
	push_log(p, FYN_LOG_ERR, text);
	answer_unavailable(p, &job, 1, "the store failed; retry later");
}

static long long earliest_deadline(struct fyn_job **jobs, size_t count)
{
	long long earliest = jobs[0]->deadline_ms;
	for (size_t i = 1; i < count; i++) {
		if (jobs[i]->deadline_ms < earliest) {
			earliest = jobs[i]->deadline_ms;
		}
	}
	return earliest;
}

enum attempt_outcome { ATTEMPT_DONE, ATTEMPT_RETRY, ATTEMPT_SPLIT };

/* One store call for the batch. */
static enum attempt_outcome attempt(struct fyn_writer *w, struct fyn_job **jobs, size_t count,
		int *transient_failures)
{
	struct fyn_pipeline *p = w->p;
	struct fyn_append_result result;
	char err[512], sqlstate[6] = "";
	enum fyn_store_status status;

	note_call(w, fyn_now_ms(), -1);
	status = fyn_store_connect(w->store, err, sizeof(err));
	if (status == FYN_STORE_OK) {
		/* Without the baseline the gate leaves this batch's events to the
		 * follower (late, though never lost): take it first. If it fails,
		 * the append still goes ahead. */
		(void)fyn_fanout_take_baseline(p->config.fanout, w->store, err, sizeof(err));
		char *text = fyn_batch_text(jobs, count);
		if (!text) {
			note_call(w, 0, -1);
			return ATTEMPT_RETRY;
		}
		for (size_t i = 0; i < count; i++) {
			jobs[i]->attempts++;
		}
		long long append_started_us = fyn_now_us();
		status = fyn_store_append(w->store, text, &result, sqlstate, err, sizeof(err));
		free(text);
		note_call(w, 0, status == FYN_STORE_OK ? fyn_now_us() - append_started_us : -1);
	} else {
		note_call(w, 0, -1);
	}
	if (status == FYN_STORE_DOWN) {
		note_store_down(w, err);
		return ATTEMPT_RETRY;
	}
	note_store_up(w);
	if (status == FYN_STORE_OK) {
		bool delivered = deliver(p, jobs, count, &result);
		fyn_append_result_clear(&result);
		return delivered ? ATTEMPT_DONE : ATTEMPT_RETRY;
	}
	if (is_transient(sqlstate) && ++*transient_failures < TRANSIENT_RETRIES) {
		return ATTEMPT_RETRY;
	}
	if (count > 1) {
		return ATTEMPT_SPLIT;
	}
	reject_refused(p, jobs[0], sqlstate, err);
	return ATTEMPT_DONE;
}

static void process_batch(struct fyn_writer *w, struct fyn_job **jobs, size_t count);

/* The database refused the batch as a whole: find the event it objects to
 * by appending each alone, so the others still get through. */
static void process_one_by_one(struct fyn_writer *w, struct fyn_job **jobs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		process_batch(w, &jobs[i], 1);
	}
}

/* Answers every job in jobs exactly once (the caller frees them). */
static void process_batch(struct fyn_writer *w, struct fyn_job **jobs, size_t count)
{
	struct fyn_pipeline *p = w->p;
	long long backoff = BACKOFF_FIRST_MS;
	int transient_failures = 0;

	if (count == 0) {
		return;
	}
	for (;;) {
		enum attempt_outcome outcome = attempt(w, jobs, count, &transient_failures);
		long long remaining = earliest_deadline(jobs, count) - fyn_now_ms();
		if (outcome == ATTEMPT_DONE) {
			break;
		}
		if (outcome == ATTEMPT_SPLIT) {
			process_one_by_one(w, jobs, count);
			return;
		}
		if (remaining <= 0 || !fyn_workqueue_pause(&p->jobs, backoff < remaining ? backoff : remaining)) {
			answer_unavailable(p, jobs, count, "the event store is unavailable; retry with backoff");
			break;
		}
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
}

static void *writer_main(void *arg)
{
	struct fyn_writer *w = arg;
	struct fyn_pipeline *p = w->p;
	struct fyn_work **taken = calloc(p->config.max_batch, sizeof(struct fyn_work *));
	struct fyn_job **jobs = calloc(p->config.max_batch, sizeof(struct fyn_job *));
	char err[512];
	size_t count;

	if (!taken || !jobs) {
		push_log(p, FYN_LOG_ERR, "fynsync: writer thread out of memory; no events will be stored.");
		free(taken);
		free(jobs);
		return NULL;
	}
	/* Connect and migrate now, so the first submission does not pay for it. */
	note_call(w, fyn_now_ms(), -1);
	if (fyn_store_connect(w->store, err, sizeof(err)) != FYN_STORE_OK) {
		note_store_down(w, err);
	} else {
		(void)fyn_fanout_take_baseline(p->config.fanout, w->store, err, sizeof(err));
	}
	note_call(w, 0, -1);
	while ((count = fyn_workqueue_wait_take_lanes(&p->jobs, taken, p->config.max_batch,
			p->config.max_batch / GROUP_COMMIT_SHARE)) > 0) {
		for (size_t i = 0; i < count; i++) {
			jobs[i] = (struct fyn_job *)taken[i];
		}
		note_holding(w, jobs, count);
		process_batch(w, jobs, count);
		finish_jobs(p, taken, count);
		note_holding(w, jobs, 0);
	}
	free(taken);
	free(jobs);
	return NULL;
}

static void free_job(struct fyn_work *item)
{
	fyn_job_free((struct fyn_job *)item);
}

/* Stops and joins every started writer, then frees everything. */
static void free_pipeline(struct fyn_pipeline *p)
{
	fyn_workqueue_stop(&p->jobs);
	for (size_t i = 0; p->writers && i < p->writer_count; i++) {
		struct fyn_writer *w = &p->writers[i];
		if (w->started) {
			pthread_join(w->thread, NULL);
		}
		fyn_store_free(w->store);
	}
	fyn_workqueue_destroy(&p->jobs, free_job);
	free(p->writers);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct fyn_pipeline *fyn_pipeline_start(const struct fyn_pipeline_config *config,
		struct fyn_outbox *outbox, char *err, size_t errlen)
{
	struct fyn_pipeline *p = calloc(1, sizeof(*p));
	size_t writers = config->writers > 0 ? config->writers : 1;
	bool ok;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->config = *config;
	p->outbox = outbox;
	pthread_mutex_init(&p->lock, NULL);
	fyn_workqueue_init(&p->jobs, config->max_queue);
	p->stats.store_up = true;
	p->writers = calloc(writers, sizeof(*p->writers));
	ok = p->writers != NULL && config->max_batch > 0;
	if (ok) {
		p->writer_count = writers;
		for (size_t i = 0; i < writers; i++) {
			p->writers[i].p = p;
		}
	}
	for (size_t i = 0; ok && i < writers; i++) {
		struct fyn_writer *w = &p->writers[i];
		w->store = fyn_store_new(config->conninfo);
		w->started = w->store && fyn_store_set_node(w->store, fyn_fanout_node(config->fanout)) == 0
			&& pthread_create(&w->thread, NULL, writer_main, w) == 0;
		ok = w->started;
	}
	if (!ok) {
		snprintf(err, errlen, "cannot start the writer threads (out of memory or threads)");
		free_pipeline(p);
		return NULL;
	}
	return p;
}

void fyn_pipeline_stop(struct fyn_pipeline *p)
{
	if (p) {
		free_pipeline(p);
	}
}

int fyn_pipeline_submit(struct fyn_pipeline *p, struct fyn_job *job)
{
	return fyn_workqueue_push_keyed(&p->jobs, &job->work, job->restaurant, job->restaurant, SIZE_MAX)
		== FYN_PUSH_OK ? 0 : -1;
}

static bool is_expired(const struct fyn_work *item, const void *now_ms)
{
	return ((const struct fyn_job *)item)->deadline_ms <= *(const long long *)now_ms;
}

struct fyn_job *fyn_pipeline_take_expired(struct fyn_pipeline *p, long long now_ms)
{
	struct fyn_work *all = fyn_workqueue_take_while(&p->jobs, is_expired, &now_ms);
	for (struct fyn_work *w = all; w; w = w->next) {
		fyn_workqueue_done(&p->jobs, w);   /* they leave the queue for good */
	}
	return (struct fyn_job *)all;
}

void fyn_pipeline_stats(struct fyn_pipeline *p, struct fyn_pipeline_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	/* The longest-running store call and the oldest job held, of all writers. */
	for (size_t i = 0; i < p->writer_count; i++) {
		const struct fyn_writer *w = &p->writers[i];
		if (w->call_started_ms > 0 && (out->call_started_ms == 0 || w->call_started_ms < out->call_started_ms)) {
			out->call_started_ms = w->call_started_ms;
		}
		if (w->oldest_received_ms > 0
				&& (out->oldest_received_ms == 0 || w->oldest_received_ms < out->oldest_received_ms)) {
			out->oldest_received_ms = w->oldest_received_ms;
		}
	}
	pthread_mutex_unlock(&p->lock);
	out->queued = fyn_workqueue_count(&p->jobs);
}
