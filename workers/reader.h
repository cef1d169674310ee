/*
 * reader.h: a reader: replays (ctl/resume, automatic resume), snapshots
 * (ctl/snapshot) and durable state saves, served by its own threads (each on
 * a database connection of its own) from one queue of requests with fair
 * turns between restaurants and clients (workqueue.h). The hub runs two
 * readers, one for replays and one for the rest, so a long replay never
 * delays a snapshot. The broker thread submits; each request is answered
 * through the outbox exactly once (per stream), with the result or an error.
 *
 * A replay is streamed in pages: the reader fetches one page, hands it to
 * the broker thread through the outbox and fetches the next only once the
 * broker has published the previous one, so neither the hub's memory nor
 * the broker thread ever holds more than two pages of a backlog. Pages go
 * out at most at replay_rate events/s, shared by the reader's threads
 * (core/pace.h), so that replays leave the machine to live submissions.
 */
#ifndef FYNSYNC_READER_H
#define FYNSYNC_READER_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "outbox.h"
#include "views.h"
#include "workqueue.h"

/* The events one ctl/resume may replay, shared by the streams it names:
 * max_replay in all, so that a whole request fits in mosquitto's per-client
 * queue (kept above max_replay) even if the client takes nothing meanwhile. */
struct fyn_replay_budget {
	atomic_int refs;
	long long remaining;   /* reader threads only, one at a time: its streams share a client's lane */
};

struct fyn_replay_budget *fyn_replay_budget_new(long long events);
void fyn_replay_budget_unref(struct fyn_replay_budget *budget);

enum fyn_read_kind {
	FYN_READ_RESUME,        /* ctl/resume, one stream */
	FYN_READ_SNAPSHOT,      /* ctl/snapshot */
	FYN_READ_AUTO_RESUME,   /* a persistent client connected: replay after its durable cursors */
	FYN_READ_SAVE_STATE,    /* write durable cursors and filters */
	FYN_READ_NODE_REPORT,   /* save this node's report, answer with the others' (plugin/nodes.c) */
};

struct fyn_read_request {
	struct fyn_work work;         /* first: the reader's queue links requests by it */
	enum fyn_read_kind kind;
	char *client_id;
	char *sub;                    /* replies are dropped if the client id changed hands */
	char *stream;
	long long after_seq;          /* resume */
	struct fyn_replay_budget *budget;   /* resume: owned reference, shared by one request's streams */
	json_t *sections;             /* snapshot: array of projection names, or NULL for all */
	json_t *identity;             /* auto resume: {sub, role, client_id, restaurants} for ACL checks */
	json_t *ops;                  /* save state: operations for fynsync_save_client_state */
	json_t *report;               /* node report: {node, metrics, alerts, presence}; answered to
	                               * client_id, payload the others' reports or null */
	struct fyn_views *views;      /* referenced */
	size_t view_index;            /* the client's view */
	bool admitted;                /* resume: a later stream of a request already let in past
	                               * the client's bound, so not refused by it */
	bool started;                 /* resume: head read; replayed page by page, in turns */
	long long head;               /* resume, once started: the stream's head then */
	long long cursor;             /* resume, once started: the last seq sent */
};

struct fyn_reader_config {
	const char *conninfo;
	long long max_replay;
	long long replay_rate;        /* replayed events/s over all threads (core/pace.h); 0: unbounded */
	int page_size;
	size_t max_pending;           /* queued requests beyond this are refused */
	size_t max_client_requests;   /* a client's resumes and snapshots outstanding beyond this are refused */
	size_t threads;               /* each with its own database connection, at least 1 */
};

struct fyn_reader;

struct fyn_reader *fyn_reader_start(const struct fyn_reader_config *config,
		struct fyn_outbox *outbox, char *err, size_t errlen);
void fyn_reader_stop(struct fyn_reader *reader);

/* Broker thread: hands request over (ownership moves). A resume or snapshot
 * waits in the lane of its (stream, client): the reader serves streams in
 * turn and, within one, clients in turn (workqueue.h), and one client may
 * have at most max_client_requests of them outstanding. Automatic resumes
 * (in the client's lane, unbounded) and state saves (in a lane of their
 * own, so they run one at a time, in order) wait in the hub's own group.
 * Returns FYN_PUSH_OK, or
 * FYN_PUSH_BUSY (that client's bound) or FYN_PUSH_FULL (the reader is
 * saturated); the request is then still the caller's. */
int fyn_reader_submit(struct fyn_reader *reader, struct fyn_read_request *request);
/* Any thread: requests waiting (the queue depth metric). */
size_t fyn_reader_pending(struct fyn_reader *reader);

/* Builds a request; takes a reference on views. NULL on OOM. */
struct fyn_read_request *fyn_read_request_new(enum fyn_read_kind kind, const char *client_id,
		const char *sub, const char *stream, struct fyn_views *views, size_t view_index);
void fyn_read_request_free(struct fyn_read_request *request);

#endif
