/*
 * job.h: what travels between the broker thread and the writer thread.
 *
 * A job is one validated submission going to the store. An outgoing message
 * is one publish the broker thread must make. A completion is the writer's
 * answer to a batch: messages to publish and at most one log line, because
 * only the broker thread may call mosquitto.
 */
#ifndef FYNSYNC_JOB_H
#define FYNSYNC_JOB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct fyn_work_key;

/* The link by which a job, a completion or a read request waits in a
 * queue (workers/workqueue.h); always an item's first member. Only the
 * queue sets it. */
struct fyn_work {
	struct fyn_work *next;
	struct fyn_work_key *key;   /* keyed pushes: whose outstanding count it is in */
};

struct fyn_job {
	struct fyn_work work;   /* first: the writer's queue links jobs by it */
	char *client_id;        /* who gets the ack */
	char *sub;              /* ... as long as that client id is still this user's connection */
	char id[80];            /* the submitted event id, for the ack */
	char *element;          /* owned: the batch element (envelope + restaurant, created_by, client_id)
	                         * as compact JSON text, made once on the thread that built it */
	char *restaurant;       /* owned: the element's restaurant ("" when it has none) */
	long long deadline_ms;  /* monotonic: past it the answer is unavailable */
	long long received_ms;  /* wall clock: when the hub took the submission (delivery latency) */
	int attempts;           /* append calls that may have reached the store */
	bool from_hub;          /* the hub's own event (an alert): not counted as a client's submission */
};

/* How serious a log line from another thread is; the broker thread writes
 * it through mosquitto's log at the matching level. */
enum fyn_log_level { FYN_LOG_NOTICE, FYN_LOG_WARNING, FYN_LOG_ERR };

struct fyn_outgoing {
	char *client_id;        /* NULL: to every subscriber */
	char *owner_sub;        /* with client_id: dropped unless that client is still this sub */
	char *topic;
	char *payload;
	/* Set on the first message of a confirmed event's fan-out (wall clock
	 * ms, 0 when unknown), for the latency metrics: */
	long long created_ms;   /* the event's created_at */
	long long received_ms;  /* when this node took the submission */
};

struct fyn_completion {
	struct fyn_work work;   /* first: the outbox links completions by it */
	struct fyn_outgoing *messages;
	size_t message_count;
	size_t message_capacity;
	enum fyn_log_level log_level;   /* used when log_text is set */
	char *log_text;
	void (*after_publish)(void *arg);   /* optional: told once the broker has published */
	void *after_publish_arg;
};

/* Takes ownership of element, serialises it and frees it, so its memory
 * goes back on the thread that allocated it. NULL on OOM (element is then
 * freed). */
struct fyn_job *fyn_job_new(const char *client_id, const char *sub, const char *id, json_t *element,
		long long deadline_ms);
void fyn_job_free(struct fyn_job *job);

struct fyn_completion *fyn_completion_new(void);
/* Adds a message; takes ownership of topic and payload (freed on failure).
 * client_id and owner_sub are copied; a reply to one client names the sub it
 * is for, so a later connection of another user with the same client id
 * never receives it. Returns 0 or -1 on OOM. */
int fyn_completion_add(struct fyn_completion *c, const char *client_id, const char *owner_sub,
		char *topic, char *payload);
void fyn_completion_free(struct fyn_completion *c);

/* The unavailable answer for a job the store could not take in time. */
int fyn_completion_add_unavailable(struct fyn_completion *c, const struct fyn_job *job, const char *reason);

#endif
