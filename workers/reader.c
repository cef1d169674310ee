/*
 * reader.c: the reader thread (see reader.h).
 */
#include "reader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "token.h"

#include "ack.h"
#include "batch.h"
#include "pace.h"
#include "redact.h"
#include "store.h"
#include "topics.h"
#include "clock.h"
#include "workqueue.h"

#define RETRY_PAUSE_MS 200   /* between attempts while the store is down */
#define STORE_ATTEMPTS 10
#define PAGE_POLL_MS 1
#define PAGES_PER_TURN 1     /* of a ctl/resume, before other requests get their turn */

/* One of a reader's threads, on a database connection of its own. */
struct reader_thread {
	struct fyn_reader *reader;
	struct fyn_store *store;
	pthread_t thread;
	bool running;
	atomic_int unpublished_pages;   /* this thread's pages handed to the broker, not yet published */
};

struct fyn_reader {
	struct fyn_reader_config config;
	struct fyn_outbox *outbox;
	struct fyn_workqueue requests;   /* from the broker thread, shared by the threads */
	struct reader_thread *threads;   /* config.threads of them */
	pthread_mutex_t pace_lock;
	struct fyn_pace pace;            /* replay pages, shared by the threads: config.replay_rate */
};

struct fyn_read_request *fyn_read_request_new(enum fyn_read_kind kind, const char *client_id,
		const char *sub, const char *stream, struct fyn_views *views, size_t view_index)
{
	struct fyn_read_request *r = calloc(1, sizeof(*r));
	if (!r) {
		return NULL;
	}
	r->kind = kind;
	r->client_id = strdup(client_id);
	r->sub = strdup(sub);
	r->stream = strdup(stream);
	r->views = fyn_views_ref(views);
	r->view_index = view_index;
	if (!r->client_id || !r->sub || !r->stream) {
		fyn_read_request_free(r);
		return NULL;
	}
	return r;
}

struct fyn_replay_budget *fyn_replay_budget_new(long long events)
{
	struct fyn_replay_budget *budget = calloc(1, sizeof(*budget));
	if (budget) {
		atomic_init(&budget->refs, 1);
		budget->remaining = events;
	}
	return budget;
}

void fyn_replay_budget_unref(struct fyn_replay_budget *budget)
{
	if (budget && atomic_fetch_sub(&budget->refs, 1) == 1) {
		free(budget);
	}
}

void fyn_read_request_free(struct fyn_read_request *r)
{
	if (r) {
		fyn_replay_budget_unref(r->budget);
		free(r->client_id);
		free(r->sub);
		free(r->stream);
		json_decref(r->sections);
		json_decref(r->identity);
		json_decref(r->ops);
		json_decref(r->report);
		fyn_views_unref(r->views);
		free(r);
	}
}

/* Connects if needed; retries briefly so a blip does not fail a request. */
static bool store_ready(struct reader_thread *t, char *err, size_t errlen)
{
	for (int attempt = 0; attempt < STORE_ATTEMPTS; attempt++) {
		if (fyn_store_connect(t->store, err, errlen) == FYN_STORE_OK) {
			return true;
		}
		if (!fyn_workqueue_pause(&t->reader->requests, RETRY_PAUSE_MS)) {
			break;
		}
	}
	return false;
}

/* After a read: should it run again? Yes when the connection broke and the
 * one reconnect a read gets succeeds (a read is safe to repeat), so a
 * server restart between two requests costs a client nothing. */
static bool read_again(struct reader_thread *t, enum fyn_store_status status, int *reconnects)
{
	char err[512];
	return status == FYN_STORE_DOWN && (*reconnects)++ < 1 && store_ready(t, err, sizeof(err));
}

/* One JSON text read by key (a stream's snapshot, a client's state), with
 * the reconnect and single repeat every read gets (read_again). *text is
 * malloc'd on FYN_STORE_OK, NULL otherwise. */
typedef enum fyn_store_status (*text_read)(struct fyn_store *store, const char *key,
		char **json, char *err, size_t errlen);

static enum fyn_store_status read_text(struct reader_thread *t, text_read read, const char *key,
		char **text)
{
	char err[512];
	enum fyn_store_status status = FYN_STORE_DOWN;
	int reconnects = 0;

	*text = NULL;
	if (store_ready(t, err, sizeof(err))) {
		do {
			free(*text);
			*text = NULL;
			status = read(t->store, key, text, err, sizeof(err));
		} while (read_again(t, status, &reconnects));
	}
	if (status != FYN_STORE_OK) {
		free(*text);
		*text = NULL;
	}
	return status;
}

static void push_to_client(struct reader_thread *t, const struct fyn_read_request *r, const char *kind,
		char *payload)
{
	struct fyn_completion *c = fyn_completion_new();
	if (c && fyn_completion_add(c, r->client_id, r->sub, fyn_client_topic(r->client_id, kind), payload) == 0) {
		fyn_outbox_push(t->reader->outbox, c);
	} else {
		fyn_completion_free(c);
	}
}

static void answer_error(struct reader_thread *t, const struct fyn_read_request *r,
		const char *verb, enum fyn_control_code code, const char *reason)
{
	push_to_client(t, r, "error", fyn_control_error_text(verb, code, r->stream, reason));
}

static void replay_done(struct reader_thread *t, const struct fyn_read_request *r,
		long long head, bool snapshot_required)
{
	json_t *doc = json_pack("{s:s, s:I}", "stream", r->stream, "head", (json_int_t)head);
	if (doc && snapshot_required) {
		json_object_set_new(doc, "snapshot_required", json_true());
	}
	push_to_client(t, r, "replay.done", fyn_json_text(doc));
}

static void page_published(void *arg)
{
	atomic_fetch_sub((atomic_int *)arg, 1);
}

/* Waits until the broker has published all but at most one page. */
static bool wait_for_broker(struct reader_thread *t)
{
	while (atomic_load(&t->unpublished_pages) > 1) {
		if (!fyn_workqueue_pause(&t->reader->requests, PAGE_POLL_MS)) {
			return false;
		}
	}
	return true;
}

/* What an automatic resume may send: topics the client's stored filters
 * cover and the current ACL lets it read. */
struct auto_resume_scope {
	const json_t *filters;
	const struct fyn_acl *acl;
	struct fyn_acl_identity identity;
};

static bool in_scope(const char *topic, const void *arg)
{
	const struct auto_resume_scope *scope = arg;
	size_t index;
	json_t *filter;

	if (!fyn_acl_check_topic(scope->acl, &scope->identity, topic, FYN_ACCESS_READ).allowed) {
		return false;
	}
	json_array_foreach(scope->filters, index, filter) {
		if (json_is_string(filter) && fyn_topic_matches_filter(json_string_value(filter), topic)) {
			return true;
		}
	}
	return false;
}

/* Sends one page of stream to the client (only what scope allows, when given). */
static bool send_page(struct reader_thread *t, const struct fyn_read_request *r, const char *stream,
		const struct auto_resume_scope *scope, const struct fyn_replay_page *page)
{
	struct fyn_completion *c = fyn_completion_new();
	const struct fyn_view *view = &r->views->items[r->view_index];

	for (size_t i = 0; c && i < page->count; i++) {
		if (fyn_replay_event(page->rows[i].event, stream, view, r->client_id, r->sub,
				scope ? in_scope : NULL, scope, c) != 0) {
			fyn_completion_free(c);
			return false;
		}
	}
	if (!c || !wait_for_broker(t)) {
		fyn_completion_free(c);
		return false;
	}
	c->after_publish = page_published;
	c->after_publish_arg = &t->unpublished_pages;
	atomic_fetch_add(&t->unpublished_pages, 1);
	fyn_outbox_push(t->reader->outbox, c);
	return true;
}

/* Waits for the page's turn at the replay rate (pace.h). Returns false
 * when stopping. */
static bool wait_for_pace(struct reader_thread *t, size_t events)
{
	long long wait_us;
	pthread_mutex_lock(&t->reader->pace_lock);
	wait_us = fyn_pace_book(&t->reader->pace, fyn_now_us(), (long long)events);
	pthread_mutex_unlock(&t->reader->pace_lock);
	return wait_us == 0 || fyn_workqueue_pause(&t->reader->requests, (wait_us + 999) / 1000);
}

/* Streams stream's events from after to head to the client, at most
 * max_pages pages of them. Returns the last seq sent (or after), or -1 when
 * a page could not be read or sent (the store failed, memory ran out, the
 * hub is stopping): the client must not be told the replay is complete.
 * *finished says whether nothing is left to send. */
static long long replay_range(struct reader_thread *t, const struct fyn_read_request *r,
		const char *stream, const struct auto_resume_scope *scope, long long after, long long head,
		int max_pages, bool *finished)
{
	char err[512];
	struct fyn_replay_page page;
	long long cursor = after;

	*finished = true;
	for (int pages = 0; cursor < head; pages++) {
		enum fyn_store_status status;
		int reconnects = 0;
		if (pages == max_pages) {
			*finished = false;
			break;
		}
		do {
			status = fyn_store_events_after(t->store, stream, cursor, t->reader->config.page_size,
					&page, err, sizeof(err));
		} while (read_again(t, status, &reconnects));
		if (status != FYN_STORE_OK) {
			return -1;
		}
		if (page.count == 0) {
			fyn_replay_page_clear(&page);
			break;   /* nothing after cursor: the head was the last event */
		}
		if (!wait_for_pace(t, page.count) || !send_page(t, r, stream, scope, &page)) {
			fyn_replay_page_clear(&page);
			return -1;
		}
		cursor = page.rows[page.count - 1].seq;
		fyn_replay_page_clear(&page);
	}
	return cursor;
}

static size_t identity_from(const json_t *who, struct fyn_acl_identity *out, const char **restaurants,
		size_t capacity);

/* ctl/resume of one stream, PAGES_PER_TURN pages per turn: returns false
 * when more is left to send, and the request then waits its next turn
 * behind other clients' requests. A request with an identity comes from a
 * client the ACL lets read only some of the stream (see control.c): each
 * event is then checked against the ACL and the others are left out. */
static bool resume(struct reader_thread *t, struct fyn_read_request *r)
{
	char err[512], filter[200];   // cppcheck-suppress variableScope ; scope.filters points into it
	const char *restaurants[FYN_TOKEN_MAX_RESTAURANTS];   // cppcheck-suppress variableScope ; scope.identity points into it
	long long head = 0, last;
	struct auto_resume_scope scope = { .acl = r->views->acl };
	json_t *filters = NULL;
	enum fyn_store_status status = FYN_STORE_DOWN;
	int reconnects = 0;
	bool finished;

	if (r->identity) {
		snprintf(filter, sizeof(filter), "fynlo/v1/ev/%s/%s/#", r->stream, r->views->items[r->view_index].name);
		identity_from(r->identity, &scope.identity, restaurants, FYN_TOKEN_MAX_RESTAURANTS);
		scope.filters = filters = json_pack("[s]", filter);
		if (!filters || !scope.identity.sub || !scope.identity.role) {
			json_decref(filters);
			answer_error(t, r, "resume", FYN_CONTROL_UNAVAILABLE, "hub out of memory; retry later");
			return true;
		}
	}

	if (!r->started) {
		if (store_ready(t, err, sizeof(err))) {
			do {
				status = fyn_store_head(t->store, r->stream, &head, err, sizeof(err));
			} while (read_again(t, status, &reconnects));
		}
		if (status != FYN_STORE_OK) {
			json_decref(filters);
			answer_error(t, r, "resume", FYN_CONTROL_UNAVAILABLE, "the event store is unavailable; retry with backoff");
			return true;
		}
		if (head - r->after_seq > r->budget->remaining) {
			json_decref(filters);
			replay_done(t, r, head, true);
			return true;
		}
		if (head > r->after_seq) {
			r->budget->remaining -= head - r->after_seq;
		}
		r->started = true;
		r->head = head;
		r->cursor = r->after_seq;
	}
	last = replay_range(t, r, r->stream, r->identity ? &scope : NULL, r->cursor, r->head,
			PAGES_PER_TURN, &finished);
	json_decref(filters);
	if (last < 0) {
		answer_error(t, r, "resume", FYN_CONTROL_UNAVAILABLE, "the replay was interrupted (the event store failed or the hub is short of memory); resume again from your last seq");
		return true;
	}
	r->cursor = last;
	if (!finished) {
		return false;
	}
	/* The head, or the last seq sent if later events came along. A client
	 * that claimed a seq beyond the head is told the real head, not its own
	 * number back (it would then drop the events up to it as duplicates). */
	replay_done(t, r, last > r->head && last > r->after_seq ? last : r->head, false);
	return true;
}

/* The identity an automatic resume checks the ACL with, from the request's
 * JSON copy of the session's claims. restaurants points into r->identity. */
static size_t identity_from(const json_t *who, struct fyn_acl_identity *out, const char **restaurants,
		size_t capacity)
{
	const json_t *list = json_object_get(who, "restaurants");
	size_t count = 0, index;
	json_t *rid;

	json_array_foreach(list, index, rid) {
		if (count < capacity) {
			restaurants[count++] = json_string_value(rid);
		}
	}
	out->sub = json_string_value(json_object_get(who, "sub"));
	out->role = json_string_value(json_object_get(who, "role"));
	out->client_id = json_string_value(json_object_get(who, "client_id"));
	out->restaurants = restaurants;
	out->restaurant_count = count;
	return count;
}

/* A persistent client connected: replay what its stored filters cover
 * after its stored cursors, at most max_replay events per stream. */
static void auto_resume(struct reader_thread *t, const struct fyn_read_request *r)
{
	char *text;
	const char *restaurants[FYN_TOKEN_MAX_RESTAURANTS];
	struct auto_resume_scope scope = { .acl = r->views->acl };
	json_t *state, *cursors;

	if (read_text(t, fyn_store_client_state, r->client_id, &text) != FYN_STORE_OK) {
		fyn_outbox_log(t->reader->outbox, FYN_LOG_WARNING, "fynsync: automatic resume skipped: the event store is unavailable.");
		return;
	}
	state = json_loads(text ? text : "{}", 0, NULL);
	free(text);
	scope.filters = json_object_get(state, "filters");
	cursors = json_object_get(state, "cursors");
	identity_from(r->identity, &scope.identity, restaurants, FYN_TOKEN_MAX_RESTAURANTS);
	if (json_array_size(scope.filters) > 0 && scope.identity.sub && scope.identity.role) {
		const char *stream;
		json_t *seq;
		json_object_foreach(cursors, stream, seq) {
			long long head = 0, after = json_integer_value(seq);
			char err[512];
			if (fyn_store_head(t->store, stream, &head, err, sizeof(err)) != FYN_STORE_OK) {
				continue;
			}
			if (head - after > t->reader->config.max_replay) {
				after = head - t->reader->config.max_replay;
			}
			bool finished;
			replay_range(t, r, stream, &scope, after, head, INT_MAX, &finished);
		}
	}
	json_decref(state);
}

static void save_state(struct reader_thread *t, const struct fyn_read_request *r)
{
	char err[512];
	char *text = json_dumps(r->ops, JSON_COMPACT);

	if (!text || !store_ready(t, err, sizeof(err))
			|| fyn_store_save_client_state(t->store, text, err, sizeof(err)) != FYN_STORE_OK) {
		fyn_outbox_log(t->reader->outbox, FYN_LOG_WARNING, "fynsync: could not save durable cursors "
				"(the event store is unavailable); persistent clients may get more events again on reconnect.");
	}
	free(text);
}

/* A node counts as gone when it has not reported for this long. */
#define NODE_LIVE_S 15

static char *member_text(const json_t *doc, const char *key)
{
	return json_dumps(json_object_get(doc, key), JSON_COMPACT | JSON_ENCODE_ANY);
}

static void node_report(struct reader_thread *t, const struct fyn_read_request *r)
{
	char err[512];
	char *metrics = member_text(r->report, "metrics"), *alerts = member_text(r->report, "alerts");
	char *presence = member_text(r->report, "presence"), *others = NULL;
	const char *node = json_string_value(json_object_get(r->report, "node"));
	struct fyn_completion *c = fyn_completion_new();

	if (!node || !metrics || !alerts || !presence || !store_ready(t, err, sizeof(err))
			|| fyn_store_node_report(t->store, node, metrics, alerts, presence, NODE_LIVE_S, &others,
				err, sizeof(err)) != FYN_STORE_OK) {
		free(others);
		others = strdup("null");   /* the store is unavailable: nothing known, nothing changes */
	}
	if (!c) {
		free(others);
	} else if (fyn_completion_add(c, r->client_id, NULL, fyn_client_topic(r->client_id, "nodes"), others) == 0) {
		fyn_outbox_push(t->reader->outbox, c);
	} else {
		fyn_completion_free(c);   /* the add freed others */
	}
	free(metrics);
	free(alerts);
	free(presence);
}

/* Keeps only the projections the client asked for. */
static void keep_sections(json_t *snapshot, const json_t *sections)
{
	static const char *const all[] = { "orders", "menu", "inventory", "sales", "employees", "restaurants" };
	for (size_t i = 0; sections && i < sizeof(all) / sizeof(all[0]); i++) {
		bool wanted = false;
		size_t index;
		json_t *name;
		json_array_foreach(sections, index, name) {
			wanted = wanted || (json_is_string(name) && strcmp(json_string_value(name), all[i]) == 0);
		}
		if (!wanted) {
			json_object_del(snapshot, all[i]);
		}
	}
}

static void snapshot(struct reader_thread *t, const struct fyn_read_request *r)
{
	char *text;
	json_t *doc;
	const struct fyn_view *view = &r->views->items[r->view_index];

	if (read_text(t, fyn_store_snapshot, r->stream, &text) != FYN_STORE_OK) {
		answer_error(t, r, "snapshot", FYN_CONTROL_UNAVAILABLE, "the event store is unavailable; retry with backoff");
		return;
	}
	doc = json_loads(text, 0, NULL);
	free(text);
	if (!doc) {
		answer_error(t, r, "snapshot", FYN_CONTROL_UNAVAILABLE, "the hub could not read the snapshot");
		return;
	}
	keep_sections(doc, r->sections);
	fyn_redact_keys(doc, (const char *const *)view->removed_keys, view->removed_count);
	json_object_set_new(doc, "view", json_string(view->name));
	push_to_client(t, r, "snapshot", fyn_json_text(doc));
}

static struct fyn_read_request *next_request(struct reader_thread *t)
{
	struct fyn_work *item = NULL;
	return fyn_workqueue_wait_take(&t->reader->requests, &item, 1) == 1 ? (struct fyn_read_request *)item : NULL;
}

static void *reader_main(void *arg)
{
	struct reader_thread *t = arg;
	struct fyn_read_request *r;

	if (t == &t->reader->threads[0]) {
		/* early, so the first request does not pay for it; the other
		 * threads connect on their first request (requests retry anyway) */
		char err[512];
		fyn_store_connect(t->store, err, sizeof(err));
	}
	while ((r = next_request(t)) != NULL) {
		switch (r->kind) {
		case FYN_READ_RESUME:
			if (!resume(t, r)) {
				if (fyn_workqueue_requeue(&t->reader->requests, &r->work, r->stream) == FYN_PUSH_OK) {
					continue;   /* its next page comes in its next turn */
				}
				answer_error(t, r, "resume", FYN_CONTROL_UNAVAILABLE,
						"the hub is stopping or out of memory; resume again from your last seq");
			}
			break;
		case FYN_READ_SNAPSHOT: snapshot(t, r); break;
		case FYN_READ_AUTO_RESUME: auto_resume(t, r); break;
		case FYN_READ_SAVE_STATE: save_state(t, r); break;
		case FYN_READ_NODE_REPORT: node_report(t, r); break;
		}
		fyn_workqueue_done(&t->reader->requests, &r->work);   /* answered: off the client's bound */
		fyn_read_request_free(r);
	}
	return NULL;
}

static void free_request(struct fyn_work *item)
{
	fyn_read_request_free((struct fyn_read_request *)item);
}

/* Stops the threads that run, then frees everything. */
static void free_reader(struct fyn_reader *reader)
{
	fyn_workqueue_stop(&reader->requests);
	for (size_t i = 0; reader->threads && i < reader->config.threads; i++) {
		if (reader->threads[i].running) {
			pthread_join(reader->threads[i].thread, NULL);
		}
		fyn_store_free(reader->threads[i].store);
	}
	free(reader->threads);
	fyn_workqueue_destroy(&reader->requests, free_request);
	pthread_mutex_destroy(&reader->pace_lock);
	free(reader);
}

struct fyn_reader *fyn_reader_start(const struct fyn_reader_config *config,
		struct fyn_outbox *outbox, char *err, size_t errlen)
{
	struct fyn_reader *reader = calloc(1, sizeof(*reader));
	if (!reader) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	reader->config = *config;
	reader->outbox = outbox;
	pthread_mutex_init(&reader->pace_lock, NULL);
	fyn_pace_init(&reader->pace, config->replay_rate);
	fyn_workqueue_init(&reader->requests, config->max_pending);
	reader->threads = config->threads > 0 ? calloc(config->threads, sizeof(*reader->threads)) : NULL;
	for (size_t i = 0; reader->threads && i < config->threads; i++) {
		struct reader_thread *t = &reader->threads[i];
		t->reader = reader;
		atomic_init(&t->unpublished_pages, 0);
		t->store = fyn_store_new(config->conninfo);
		t->running = t->store && pthread_create(&t->thread, NULL, reader_main, t) == 0;
		if (!t->running) {
			snprintf(err, errlen, "cannot start a reader thread");
			free_reader(reader);
			return NULL;
		}
	}
	if (!reader->threads) {
		snprintf(err, errlen, "cannot start the reader threads");
		free_reader(reader);
		return NULL;
	}
	return reader;
}

void fyn_reader_stop(struct fyn_reader *reader)
{
	if (reader) {
		free_reader(reader);
	}
}

/* The lane of the hub's own work: saves of durable state, one at a time and
 * in order (":" is in no client id). */
#define HUB_GROUP ""
#define STATE_SAVES ":state"
#define NODE_REPORTS ":nodes"

int fyn_reader_submit(struct fyn_reader *reader, struct fyn_read_request *r)
{
	switch (r->kind) {
	case FYN_READ_RESUME:
	case FYN_READ_SNAPSHOT:
		return fyn_workqueue_push_keyed(&reader->requests, &r->work, r->stream, r->client_id,
				r->admitted ? SIZE_MAX : reader->config.max_client_requests);
	case FYN_READ_AUTO_RESUME:
		return fyn_workqueue_push_keyed(&reader->requests, &r->work, HUB_GROUP, r->client_id, SIZE_MAX);
	case FYN_READ_SAVE_STATE:
		break;
	case FYN_READ_NODE_REPORT:
		return fyn_workqueue_push_keyed(&reader->requests, &r->work, HUB_GROUP, NODE_REPORTS, SIZE_MAX);
	}
	return fyn_workqueue_push_keyed(&reader->requests, &r->work, HUB_GROUP, STATE_SAVES, SIZE_MAX);
}

size_t fyn_reader_pending(struct fyn_reader *reader)
{
	return fyn_workqueue_count(&reader->requests);
}
