/*
 * pipeline.h: the writer threads and the queues around them.
 *
 * There are `writers` writer threads, each with its own store connection,
 * and one bounded job queue they share, with a lane per restaurant
 * (workqueue.h). The broker thread submits a validated job to its
 * restaurant's lane; it never waits: when the queue is full the answer is
 * `unavailable` at once. A writer takes every queued job of the
 * restaurants no other writer holds (up to max_batch) as one batch, so one
 * restaurant's events are appended in submission order by one writer at a
 * time, while different restaurants commit in parallel. Commits group:
 * while one writer is committing, another starts only once max_batch / 4
 * jobs wait, so a trickle over many restaurants is one commit at a time
 * with everything that arrived meanwhile (each store call has a fixed cost
 * far above an event's), and the writers overlap their commits only when a
 * backlog builds. A writer appends its batch in one store call, pushes the
 * acks to the outbox for the broker thread and the stored events to the
 * fan-out gate (fanout.h), which publishes them in seq order; only then may
 * the restaurants' next jobs be taken. Jobs that cannot be committed before
 * their deadline are answered `unavailable`: never dropped, never
 * acknowledged before the commit.
 */
#ifndef FYNSYNC_PIPELINE_H
#define FYNSYNC_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "job.h"
#include "metrics.h"

struct fyn_fanout;

struct fyn_pipeline_config {
	const char *conninfo;
	size_t max_queue;        /* jobs waiting */
	size_t max_batch;        /* jobs per store call */
	size_t writers;          /* writer threads and store connections (0 counts as 1) */
	struct fyn_fanout *fanout;   /* publishes what the writers stored (borrowed: must outlive the pipeline) */
};

/* Since the start. Clients' submissions only: the hub's own events
 * (job->from_hub) are left out of the answer counts. */
struct fyn_pipeline_stats {
	size_t queued;
	unsigned long long accepted_batches;   /* store calls that committed */
	unsigned long long accepted_jobs;
	unsigned long long conflict_jobs;
	unsigned long long rejected_jobs;      /* refused by the store for what they contain */
	unsigned long long unavailable_jobs;   /* answered unavailable by the writer */
	bool store_up;
	struct fyn_histogram store_commit;     /* duration of each committed append call */
	long long call_started_ms;             /* monotonic: start of the longest-running store call; 0: none */
	long long oldest_received_ms;          /* wall clock: the oldest job a writer holds; 0: none */
};

struct fyn_pipeline;

struct fyn_outbox;

/* Starts the writer threads, which answer through outbox (borrowed: it must
 * outlive the pipeline). NULL with err on failure. */
struct fyn_pipeline *fyn_pipeline_start(const struct fyn_pipeline_config *config,
		struct fyn_outbox *outbox, char *err, size_t errlen);
/* Stops and joins the writers; jobs still queued are freed unanswered (their
 * clients keep them in their outbox and resubmit). */
void fyn_pipeline_stop(struct fyn_pipeline *p);

/* Broker thread: hands job over. Returns 0, or -1 when the queue is full
 * (the job is then still the caller's). */
int fyn_pipeline_submit(struct fyn_pipeline *p, struct fyn_job *job);
/* Broker thread: takes queued jobs whose deadline has passed (oldest first). */
struct fyn_job *fyn_pipeline_take_expired(struct fyn_pipeline *p, long long now_ms);
void fyn_pipeline_stats(struct fyn_pipeline *p, struct fyn_pipeline_stats *out);

#endif
