/*
 * fanout.c: the fan-out gate and the follower thread (see fanout.h).
 *
 * Locking: one mutex guards the stream table and the views pointer. It is never held across a store call or while event texts are
 * built: an offer decides under the lock, builds outside it, and publishes
 * under it only if no other thread moved those streams meanwhile (else it
 * leaves them to the follower). The outbox's lock nests inside it.
 */
#include "fanout.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "store.h"
#include "timestamp.h"
#include "view_text.h"

/* uthash would exit() on OOM; an entry that cannot be added is left out
 * (its stream is then published from the log by the next heads check). */
static bool hash_add_failed;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_add_failed = true)
#include <uthash.h>

/* Own node's commits are checked against the gate this often, and taken
 * from the log when still unpublished one interval later. 250 ms was too
 * short at load 10 on 2 cores: a writer descheduled between its commit and
 * its offer lost the race, so its events went out untimed (no delivery
 * latency), though never lost or twice. */
#define CHECK_INTERVAL_MS 1000
#define HEADS_INTERVAL_MS 5000     /* every stream's head compared with the gate */
#define IDLE_SESSION_TIMEOUT_S 60  /* the server ends the session of a hung node */
#define PAGE_SIZE 500
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 1000
/* Follower pages handed to the outbox and not yet published: wait_for_broker
 * lets at most two be, so this ring of their commit times never wraps. */
#define PAGES_IN_FLIGHT 4

struct stream_entry {
	UT_hash_handle hh;
	long long published;     /* last seq handed to the outbox */
	long long announced;     /* highest seq known to be stored */
	long long stale_mark;    /* announced at the previous check */
	long long claimed;       /* scratch of one locked decision (offer_result) */
	unsigned claim_round;
	bool wanted;             /* the follower reads it at its next turn */
	char stream[];
};

struct fyn_fanout {
	/* Widest fields first: the struct is packed without holes. */
	struct fyn_store *store;        /* follower thread only */
	struct fyn_outbox *outbox;
	pthread_t thread;
	/* The commit time (recorded_at, wall ms) of each follower page not yet
	 * published, of its oldest event, by push order: the follower writes a
	 * slot before it pushes, the broker thread reads it once the page is
	 * published (the lag). */
	atomic_llong page_recorded_ms[PAGES_IN_FLIGHT];
	atomic_llong lag_ms;            /* of the latest page published; -1: none yet */
	atomic_uint pages_pushed, pages_published;
	int wake_fd;                    /* eventfd: a stream is wanted, or stop */
	atomic_int unpublished_pages;   /* follower pages not yet published by the broker */
	char node[33];
	atomic_bool stopping;
	bool connected_once;            /* follower thread only: a later connect is a reconnect */
	pthread_mutex_t lock;           /* guards everything below */
	struct stream_entry *streams;
	long long started_ms;           /* fyn_now_ms() at the start: live fan-out begins with what was stored after */
	struct fyn_fanout_stats stats;  /* lag_s aside */
	struct fyn_views *views;
	unsigned round;
	bool ready;                     /* the baseline (where each stream's live fan-out starts) is taken */
};

static void wake_follower(struct fyn_fanout *f)
{
	uint64_t one = 1;
	if (write(f->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		/* The counter is full: the follower has a wake pending anyway. */
		return;
	}
}

/* With the lock held. NULL on OOM. */
static struct stream_entry *entry_for(struct fyn_fanout *f, const char *stream)
{
	struct stream_entry *e;
	size_t len = strlen(stream);

	HASH_FIND(hh, f->streams, stream, len, e);
	if (e) {
		return e;
	}
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e) {
		return NULL;
	}
	memcpy(e->stream, stream, len + 1);
	hash_add_failed = false;
	HASH_ADD_KEYPTR(hh, f->streams, e->stream, len, e);
	if (hash_add_failed) {
		free(e);
		return NULL;
	}
	return e;
}

static void note_announced(struct stream_entry *e, long long seq)
{
	if (seq > e->announced) {
		e->announced = seq;
	}
}

static struct fyn_views *current_views(struct fyn_fanout *f)
{
	struct fyn_views *views;
	pthread_mutex_lock(&f->lock);
	views = fyn_views_ref(f->views);
	pthread_mutex_unlock(&f->lock);
	return views;
}

/* ---- offers from the writer ---- */

struct offered {
	const char *event;            /* the row's text */
	char stream[FYN_STREAM_MAX + 1];
	struct stream_entry *entry;   /* entries live until the fan-out stops */
	long long seq;
	long long base;               /* entry->published when decided */
	long long received_ms;        /* its job's, 0 for the hub's own events */
	bool publish;
};

/* With the lock held: which offered events are their stream's next seq.
 * Counts in *gaps those that must wait for an earlier seq. */
static size_t decide(struct fyn_fanout *f, struct offered *items, size_t count, size_t *gaps)
{
	unsigned round = ++f->round;
	size_t publishing = 0;

	*gaps = 0;
	for (size_t i = 0; i < count; i++) {
		struct offered *it = &items[i];
		struct stream_entry *e = it->entry;
		if (!e) {
			continue;
		}
		note_announced(e, it->seq);
		if (!f->ready) {
			continue;   /* stored after the start: the baseline has the follower publish it */
		}
		if (e->claim_round != round) {
			e->claim_round = round;
			e->claimed = e->published;
		}
		it->base = e->published;
		if (it->seq == e->claimed + 1) {
			e->claimed = it->seq;
			it->publish = true;
			publishing++;
		} else if (it->seq > e->claimed + 1) {   /* (an older seq is a duplicate: dropped) */
			e->wanted = true;   /* an earlier seq is not published yet: the follower reads it */
			(*gaps)++;
		}
	}
	return publishing;
}

/* With the lock held: publishes c if no decided stream moved since decide;
 * else the follower gets those streams. */
static bool commit_offer(struct fyn_fanout *f, struct offered *items, size_t count,
		struct fyn_completion *c)
{
	bool unmoved = c != NULL;
	for (size_t i = 0; unmoved && i < count; i++) {
		unmoved = !items[i].publish || items[i].entry->published == items[i].base;
	}
	for (size_t i = 0; i < count; i++) {
		if (!items[i].publish) {
			continue;
		}
		if (!unmoved) {
			items[i].entry->wanted = true;
		} else if (items[i].seq > items[i].entry->published) {
			items[i].entry->published = items[i].seq;
		}
	}
	if (unmoved) {
		fyn_outbox_push(f->outbox, c);
	}
	return unmoved;
}

/* The stream of a stored event's text into stream; false when it has none. */
static bool event_stream(const char *text, char *stream)
{
	struct fyn_event_text event;
	bool ok = fyn_event_text_scan(&event, text, strlen(text)) == 0 && event.restaurant[0];

	if (ok) {
		memcpy(stream, event.restaurant, sizeof(event.restaurant));
	}
	fyn_event_text_release(&event);
	return ok;
}

/* Builds the publishes of the decided events; NULL on OOM. */
static struct fyn_completion *build_offer(const struct offered *items, size_t count,
		const struct fyn_views *views)
{
	struct fyn_completion *c = fyn_completion_new();
	for (size_t i = 0; c && i < count; i++) {
		size_t first = c->message_count;
		if (!items[i].publish) {
			continue;
		}
		if (fyn_fanout_event(items[i].event, views, c) != 0) {
			fyn_completion_free(c);
			c = NULL;
		} else if (c->message_count > first) {
			c->messages[first].received_ms = items[i].received_ms;
		}
	}
	return c;
}

void fyn_fanout_offer_result(struct fyn_fanout *f, struct fyn_job *const *jobs, size_t count_jobs,
		const struct fyn_append_result *result)
{
	struct offered *items = calloc(result->count ? result->count : 1, sizeof(*items));
	struct fyn_views *views;
	size_t count = 0, publishing, gaps;

	if (!items) {
		return;   /* the follower's next check publishes them from the log */
	}
	for (size_t i = 0; i < result->count; i++) {
		const struct fyn_append_row *row = &result->rows[i];
		if (row->event && row->seq > 0 && event_stream(row->event, items[count].stream)) {
			items[count].event = row->event;
			items[count].received_ms = row->idx >= 0 && (size_t)row->idx < count_jobs ? jobs[row->idx]->received_ms : 0;
			items[count++].seq = row->seq;
		}
	}
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < count; i++) {
		items[i].entry = entry_for(f, items[i].stream);
	}
	publishing = decide(f, items, count, &gaps);
	views = publishing ? fyn_views_ref(f->views) : NULL;
	pthread_mutex_unlock(&f->lock);

	if (publishing > 0) {
		struct fyn_completion *c = build_offer(items, count, views);
		bool pushed;
		pthread_mutex_lock(&f->lock);
		pushed = commit_offer(f, items, count, c);
		pthread_mutex_unlock(&f->lock);
		if (!pushed) {
			fyn_completion_free(c);
			gaps++;
		}
	}
	fyn_views_unref(views);
	free(items);
	if (gaps > 0) {
		wake_follower(f);
	}
}

/* ---- the follower ---- */

static void log_line(struct fyn_fanout *f, enum fyn_log_level level, const char *text)
{
	fyn_outbox_log(f->outbox, level, text);
}

/* "{stream} {seq} {node}" (store/migrations/011); node may be empty. */
static bool parse_notification(const char *payload, char stream[65], long long *seq, const char **node)
{
	const char *space = strchr(payload, ' ');
	char *end;
	size_t len = space ? (size_t)(space - payload) : 0;

	if (len == 0 || len > 64) {
		return false;
	}
	memcpy(stream, payload, len);
	stream[len] = '\0';
	errno = 0;
	*seq = strtoll(space + 1, &end, 10);
	if (errno != 0 || end == space + 1 || (*end != ' ' && *end != '\0')) {
		return false;
	}
	*node = *end == ' ' ? end + 1 : end;
	return true;
}

static void on_notification(const char *payload, void *arg)
{
	struct fyn_fanout *f = arg;
	char stream[65];
	const char *node;
	long long seq;
	struct stream_entry *e;

	if (!parse_notification(payload, stream, &seq, &node)) {
		return;
	}
	pthread_mutex_lock(&f->lock);
	f->stats.notifications++;
	if ((e = entry_for(f, stream))) {
		note_announced(e, seq);
		/* Another node's commit: read it now. Our own is the writer's to
		 * offer; the next check catches one it never offered. */
		if (strcmp(node, f->node) != 0 && seq > e->published) {
			e->wanted = true;
		}
	}
	pthread_mutex_unlock(&f->lock);
}

struct heads_scan {
	struct fyn_fanout *f;
	bool gap;   /* a head no notification or offer had announced */
};

static void on_head(const char *stream, long long head, long long live_from, void *arg)
{
	struct heads_scan *scan = arg;
	struct fyn_fanout *f = scan->f;
	struct stream_entry *e;
	(void)live_from;

	pthread_mutex_lock(&f->lock);
	if ((e = entry_for(f, stream))) {
		scan->gap = scan->gap || head > e->announced;
		note_announced(e, head);
	}
	pthread_mutex_unlock(&f->lock);
}

/* One stream of a baseline, as fyn_store_heads gave it. */
struct base_row {
	long long head, live_from;
	char stream[65];
};

struct baseline {
	struct base_row *rows;
	size_t count, cap;
	bool failed;   /* out of memory: not applied */
};

static void on_base_row(const char *stream, long long head, long long live_from, void *arg)
{
	struct baseline *b = arg;
	struct base_row *row;

	if (b->failed || strlen(stream) >= sizeof(row->stream)) {
		return;   /* a stream id is at most 64 bytes (topic levels) */
	}
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct base_row *bigger = realloc(b->rows, cap * sizeof(*bigger));
		if (!bigger) {
			b->failed = true;
			return;
		}
		b->rows = bigger;
		b->cap = cap;
	}
	row = &b->rows[b->count++];
	row->head = head;
	row->live_from = live_from;
	memcpy(row->stream, stream, strlen(stream) + 1);
}

/* With the lock held: marks every stream with stored events not yet published. */
static void want_behind_streams(struct fyn_fanout *f)
{
	struct stream_entry *e, *tmp;
	HASH_ITER(hh, f->streams, e, tmp) {
		if (e->announced > e->published) {
			e->wanted = true;
		}
	}
}

enum fyn_store_status fyn_fanout_take_baseline(struct fyn_fanout *f, struct fyn_store *store,
		char *err, size_t errlen)
{
	struct baseline b = { 0 };
	enum fyn_store_status status;
	bool wake = false;

	pthread_mutex_lock(&f->lock);
	if (f->ready) {
		pthread_mutex_unlock(&f->lock);
		return FYN_STORE_OK;
	}
	pthread_mutex_unlock(&f->lock);
	status = fyn_store_heads(store, fyn_now_ms() - f->started_ms, on_base_row, &b, err, errlen);
	if (status == FYN_STORE_OK && b.failed) {
		snprintf(err, errlen, "out of memory");
		status = FYN_STORE_REFUSED;
	}
	pthread_mutex_lock(&f->lock);
	/* Whoever has it first sets it; another taker's copy is the same (the
	 * moment is the node's start) and nothing was published before. */
	for (size_t i = 0; status == FYN_STORE_OK && !f->ready && i < b.count; i++) {
		struct stream_entry *e = entry_for(f, b.rows[i].stream);
		if (e) {
			/* Events stored before this node started are for resume;
			 * those stored since go out live, also those stored before
			 * the node first reached the database. */
			e->published = b.rows[i].live_from;
			note_announced(e, b.rows[i].head);
		}
	}
	if (status == FYN_STORE_OK && !f->ready) {
		f->ready = true;
		want_behind_streams(f);
		wake = true;
	}
	pthread_mutex_unlock(&f->lock);
	free(b.rows);
	if (wake) {
		wake_follower(f);   /* what other nodes stored since the start */
	}
	return status;
}

/* Every interval: a stream still behind what was announced one interval
 * ago (its own node's commit that its writer never offered, a missed
 * notification) is read from the log. */
static void mark_stale(struct fyn_fanout *f)
{
	struct stream_entry *e, *tmp;
	pthread_mutex_lock(&f->lock);
	HASH_ITER(hh, f->streams, e, tmp) {
		if (e->published < e->stale_mark) {
			e->wanted = true;
		}
		e->stale_mark = e->announced;
	}
	pthread_mutex_unlock(&f->lock);
}

static void page_published(void *arg)
{
	struct fyn_fanout *f = arg;
	unsigned slot = atomic_fetch_add(&f->pages_published, 1) % PAGES_IN_FLIGHT;
	long long recorded = atomic_load(&f->page_recorded_ms[slot]);

	if (recorded > 0) {
		long long lag = fyn_wall_ms() - recorded;
		atomic_store(&f->lag_ms, lag > 0 ? lag : 0);
	}
	atomic_fetch_sub(&f->unpublished_pages, 1);
}

/* An event text's recorded_at (the database's clock when it was stored,
 * just before its commit) as wall ms; 0 when unreadable. */
static long long recorded_ms(const char *event_text)
{
	json_t *event = json_loads(event_text, 0, NULL);
	long long ms = 0;

	if (fyn_timestamp_parse_ms(json_string_value(json_object_get(event, "recorded_at")), &ms) != 0) {
		ms = 0;
	}
	json_decref(event);
	return ms;
}

/* Waits until the broker has published all but at most one page, so a long
 * catch-up never piles up in the outbox. false when stopping. */
static bool wait_for_broker(struct fyn_fanout *f)
{
	while (atomic_load(&f->unpublished_pages) > 1) {
		if (atomic_load(&f->stopping)) {
			return false;
		}
		poll(NULL, 0, 1);
	}
	return !atomic_load(&f->stopping);
}

static struct fyn_completion *build_page(struct fyn_fanout *f, const struct fyn_replay_page *page)
{
	struct fyn_views *views = current_views(f);
	struct fyn_completion *c = fyn_completion_new();

	for (size_t i = 0; c && i < page->count; i++) {
		if (fyn_fanout_event(page->rows[i].event, views, c) != 0) {
			fyn_completion_free(c);
			c = NULL;
		}
	}
	fyn_views_unref(views);
	return c;
}

/* Publishes stream from the log, from the gate's seq to the head. */
static enum fyn_store_status follow_stream(struct fyn_fanout *f, const char *stream, char *err, size_t errlen)
{
	for (;;) {
		struct fyn_replay_page page;
		struct fyn_completion *c;
		struct stream_entry *e;
		enum fyn_store_status status;
		long long base, recorded;
		bool moved, full;

		pthread_mutex_lock(&f->lock);
		e = entry_for(f, stream);
		base = e ? e->published : 0;
		pthread_mutex_unlock(&f->lock);
		if (!e) {
			return FYN_STORE_OK;
		}
		status = fyn_store_events_after(f->store, stream, base, PAGE_SIZE, &page, err, errlen);
		if (status != FYN_STORE_OK || page.count == 0) {
			fyn_replay_page_clear(&page);
			return status;
		}
		c = build_page(f, &page);
		recorded = recorded_ms(page.rows[0].event);
		if (!c || !wait_for_broker(f)) {
			fyn_completion_free(c);
			fyn_replay_page_clear(&page);
			return FYN_STORE_OK;   /* out of memory or stopping: the next check retries */
		}
		pthread_mutex_lock(&f->lock);
		moved = e->published != base;   /* a writer published meanwhile: read again from there */
		if (!moved) {
			c->after_publish = page_published;
			c->after_publish_arg = f;
			atomic_store(&f->page_recorded_ms[atomic_fetch_add(&f->pages_pushed, 1) % PAGES_IN_FLIGHT], recorded);
			atomic_fetch_add(&f->unpublished_pages, 1);
			f->stats.events += page.count;
			fyn_outbox_push(f->outbox, c);
			e->published = page.rows[page.count - 1].seq;
		}
		pthread_mutex_unlock(&f->lock);
		full = page.count == PAGE_SIZE;
		fyn_replay_page_clear(&page);
		if (moved) {
			fyn_completion_free(c);
		} else if (!full) {
			return FYN_STORE_OK;
		}
	}
}

/* Reads every wanted stream. Returns how many it read, or -1 when the
 * connection broke (those not read stay wanted). */
static int follow_wanted(struct fyn_fanout *f, char *err, size_t errlen)
{
	struct stream_entry *e, *tmp;
	char **names;
	size_t count = 0, wanted = 0;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	HASH_ITER(hh, f->streams, e, tmp) {
		wanted += e->wanted;
	}
	names = wanted ? calloc(wanted, sizeof(*names)) : NULL;
	HASH_ITER(hh, f->streams, e, tmp) {
		if (e->wanted && names && count < wanted && (names[count] = strdup(e->stream))) {
			e->wanted = false;
			count++;
		}
	}
	pthread_mutex_unlock(&f->lock);

	for (size_t i = 0; i < count; i++) {
		if (rc >= 0 && follow_stream(f, names[i], err, errlen) == FYN_STORE_OK) {
			rc++;
		} else {
			rc = -1;
			pthread_mutex_lock(&f->lock);
			if ((e = entry_for(f, names[i]))) {
				e->wanted = true;
			}
			pthread_mutex_unlock(&f->lock);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

/* Connects, listens, and compares every head with the gate (the first
 * time this also takes the baseline, unless a writer did): finds what was
 * missed while the connection was down. */
static enum fyn_store_status connect_and_catch_up(struct fyn_fanout *f, char *err, size_t errlen)
{
	enum fyn_store_status status = fyn_store_connect(f->store, err, errlen);

	if (status == FYN_STORE_OK) {
		status = fyn_store_listen(f->store, IDLE_SESSION_TIMEOUT_S, err, errlen);
	}
	if (status == FYN_STORE_OK) {
		bool ready;
		pthread_mutex_lock(&f->lock);
		ready = f->ready;
		pthread_mutex_unlock(&f->lock);
		struct heads_scan scan = { f, false };
		status = ready ? fyn_store_heads(f->store, -1, on_head, &scan, err, errlen)
			: fyn_fanout_take_baseline(f, f->store, err, errlen);
	}
	if (status != FYN_STORE_OK) {
		return status;
	}
	pthread_mutex_lock(&f->lock);
	want_behind_streams(f);
	pthread_mutex_unlock(&f->lock);
	return follow_wanted(f, err, errlen) < 0 ? FYN_STORE_DOWN : FYN_STORE_OK;
}

/* Sleeps up to ms, less when the database sends something or a writer
 * wants a stream read. */
static void wait_for_work(struct fyn_fanout *f, long long ms)
{
	struct pollfd fds[2] = { { .fd = f->wake_fd, .events = POLLIN }, { .fd = fyn_store_socket(f->store), .events = POLLIN } };
	uint64_t count;

	if (ms < 0) {
		ms = 0;
	}
	poll(fds, fds[1].fd >= 0 ? 2 : 1, (int)(ms > INT_MAX ? INT_MAX : ms));
	if (read(f->wake_fd, &count, sizeof(count)) < 0) {
		return;   /* EAGAIN: nothing was counted */
	}
}

static void note_down(struct fyn_fanout *f, bool *down, const char *err)
{
	char text[768];
	if (*down) {
		return;
	}
	*down = true;
	snprintf(text, sizeof(text), "fynsync: fan-out: cannot follow the event log (%s); events "
			"stored by other nodes reach this node's subscribers once PostgreSQL is reachable "
			"again (its own are published as usual). The hub reconnects by itself.", err);
	log_line(f, FYN_LOG_WARNING, text);
}

static void *follower_main(void *arg)
{
	struct fyn_fanout *f = arg;
	long long backoff = BACKOFF_FIRST_MS, next_check = 0, next_heads = 0;
	bool down = false;
	char err[512];

	while (!atomic_load(&f->stopping)) {
		long long now = fyn_now_ms();
		int followed;

		if (!fyn_store_is_connected(f->store)) {
			if (connect_and_catch_up(f, err, sizeof(err)) != FYN_STORE_OK) {
				note_down(f, &down, err);
				wait_for_work(f, backoff);
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			if (down) {
				log_line(f, FYN_LOG_NOTICE, "fynsync: fan-out: following the event log again.");
			}
			if (f->connected_once) {
				pthread_mutex_lock(&f->lock);
				f->stats.reconnects++;
				pthread_mutex_unlock(&f->lock);
			}
			f->connected_once = true;
			down = false;
			backoff = BACKOFF_FIRST_MS;
			next_check = now + CHECK_INTERVAL_MS;
			next_heads = now + HEADS_INTERVAL_MS;
		}
		if (now >= next_check) {
			mark_stale(f);
			next_check = now + CHECK_INTERVAL_MS;
		}
		if (now >= next_heads) {
			struct heads_scan scan = { f, false };
			next_heads = now + HEADS_INTERVAL_MS;
			/* Notifications first, so that a head they announce is no gap. */
			if (fyn_store_notifications(f->store, on_notification, f, err, sizeof(err)) != FYN_STORE_OK
					|| fyn_store_heads(f->store, -1, on_head, &scan, err, sizeof(err)) != FYN_STORE_OK) {
				continue;
			}
			if (scan.gap) {
				pthread_mutex_lock(&f->lock);
				f->stats.gap_polls++;
				pthread_mutex_unlock(&f->lock);
			}
		}
		/* Notifications that arrived during the reads are already buffered
		 * by libpq, where poll cannot see them: take them before sleeping. */
		do {
			if (fyn_store_notifications(f->store, on_notification, f, err, sizeof(err)) != FYN_STORE_OK) {
				break;
			}
			followed = follow_wanted(f, err, sizeof(err));
		} while (followed > 0 && !atomic_load(&f->stopping));
		if (fyn_store_is_connected(f->store)) {
			now = fyn_now_ms();
			wait_for_work(f, (next_check < next_heads ? next_check : next_heads) - now);
		}
	}
	return NULL;
}

static void make_node_tag(char node[33])
{
	unsigned char bytes[16];
	if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes)) {
		/* No entropy yet: the pid and the clock still tell nodes apart. */
		snprintf(node, 33, "%08x%016llx", (unsigned)getpid(), (unsigned long long)fyn_now_ms());
		return;
	}
	for (size_t i = 0; i < sizeof(bytes); i++) {
		snprintf(node + 2 * i, 3, "%02x", bytes[i]);
	}
}

static void free_fanout(struct fyn_fanout *f)
{
	struct stream_entry *e, *tmp;
	HASH_ITER(hh, f->streams, e, tmp) {
		HASH_DEL(f->streams, e);   // NOLINT(clang-analyzer-unix.Malloc)
		free(e);
	}
	fyn_store_free(f->store);
	fyn_views_unref(f->views);
	if (f->wake_fd >= 0) {
		close(f->wake_fd);
	}
	pthread_mutex_destroy(&f->lock);
	free(f);
}

struct fyn_fanout *fyn_fanout_start(const char *conninfo, struct fyn_views *views,
		struct fyn_outbox *outbox, char *err, size_t errlen)
{
	struct fyn_fanout *f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&f->lock, NULL);
	make_node_tag(f->node);
	f->started_ms = fyn_now_ms();
	atomic_store(&f->lag_ms, -1);
	f->outbox = outbox;
	f->views = fyn_views_ref(views);
	f->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->store = fyn_store_new(conninfo);
	if (f->wake_fd < 0 || !f->store || pthread_create(&f->thread, NULL, follower_main, f) != 0) {
		snprintf(err, errlen, "cannot start the fan-out thread (out of memory, file descriptors or threads)");
		free_fanout(f);
		return NULL;
	}
	return f;
}

void fyn_fanout_stop(struct fyn_fanout *f)
{
	if (!f) {
		return;
	}
	atomic_store(&f->stopping, true);
	wake_follower(f);
	pthread_join(f->thread, NULL);
	free_fanout(f);
}

const char *fyn_fanout_node(const struct fyn_fanout *f)
{
	return f->node;
}

void fyn_fanout_set_views(struct fyn_fanout *f, struct fyn_views *views)
{
	struct fyn_views *old;
	pthread_mutex_lock(&f->lock);
	old = f->views;
	f->views = fyn_views_ref(views);
	pthread_mutex_unlock(&f->lock);
	fyn_views_unref(old);
}

void fyn_fanout_stats(struct fyn_fanout *f, struct fyn_fanout_stats *out)
{
	long long lag = atomic_load(&f->lag_ms);
	pthread_mutex_lock(&f->lock);
	*out = f->stats;
	pthread_mutex_unlock(&f->lock);
	out->lag_s = lag >= 0 ? (double)lag / 1000.0 : 0;
}
