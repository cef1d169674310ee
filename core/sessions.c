/*
 * sessions.c: the tables of connected and offline clients (see sessions.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* uthash would exit() on OOM; we want to fail the one operation instead. */
static bool hash_add_failed;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_add_failed = true)

#include "sessions.h"

/* Enough for every topic a client normally receives, small enough that a
 * client cycling through hostile topics cannot grow the hub. */
#define READ_CACHE_MAX 256

static void clear_read_cache(struct fyn_session *session)
{
	struct fyn_read_cache_entry *entry, *tmp;
	/* The uthash deletion idiom; the analyzer loses track of its pointers. */
	HASH_ITER(hh, session->read_cache, entry, tmp) {
		HASH_DEL(session->read_cache, entry);   // NOLINT(clang-analyzer-unix.Malloc)
		free(entry);
	}
	session->read_cache_size = 0;
}

static void free_session(struct fyn_session *session)
{
	clear_read_cache(session);
	fyn_claims_clear(&session->claims);
	free(session->cursors);
	free(session->client_id);
	free(session);
}

static void fill_identity(struct fyn_session *session)
{
	session->identity.sub = session->claims.sub;
	session->identity.role = fyn_role_name(session->claims.role);
	session->identity.client_id = session->client_id;
	session->identity.restaurants = (const char *const *)session->claims.restaurants;
	session->identity.restaurant_count = session->claims.restaurant_count;
}

void fyn_session_replace_claims(struct fyn_session *session, struct fyn_claims *claims)
{
	fyn_claims_clear(&session->claims);
	session->claims = *claims;
	memset(claims, 0, sizeof(*claims));
	fill_identity(session);
	clear_read_cache(session);
}

struct fyn_session *fyn_sessions_find(struct fyn_sessions *s, const void *client)
{
	struct fyn_session *session = NULL;
	HASH_FIND(by_client, s->by_client, &client, sizeof(client), session);
	return session;
}

struct fyn_session *fyn_sessions_find_by_id(struct fyn_sessions *s, const char *client_id)
{
	struct fyn_session *session = NULL;
	HASH_FIND(by_id, s->by_id, client_id, strlen(client_id), session);
	return session;
}

bool fyn_session_is_current(struct fyn_sessions *s, const struct fyn_session *session)
{
	return fyn_sessions_find_by_id(s, session->client_id) == session;
}

void fyn_sessions_remove(struct fyn_sessions *s, struct fyn_session *session)
{
	HASH_DELETE(by_client, s->by_client, session);
	if (fyn_session_is_current(s, session)) {
		HASH_DELETE(by_id, s->by_id, session);
	}
	free_session(session);
}

static bool index_session(struct fyn_sessions *s, struct fyn_session *session)
{
	struct fyn_session *previous = fyn_sessions_find_by_id(s, session->client_id);

	hash_add_failed = false;
	HASH_ADD(by_client, s->by_client, client, sizeof(session->client), session);
	if (hash_add_failed) {
		return false;
	}
	if (previous) {
		HASH_DELETE(by_id, s->by_id, previous);
	}
	HASH_ADD_KEYPTR(by_id, s->by_id, session->client_id, strlen(session->client_id), session);
	if (hash_add_failed) {
		HASH_DELETE(by_client, s->by_client, session);
		if (previous) {
			HASH_ADD_KEYPTR(by_id, s->by_id, previous->client_id, strlen(previous->client_id), previous);
		}
		return false;
	}
	return true;
}

/* table is s->offline or s->closing; the by_id handle links them. */
static struct fyn_session *find_in(struct fyn_session *table, const char *client_id)
{
	struct fyn_session *session = NULL;
	HASH_FIND(by_id, table, client_id, strlen(client_id), session);
	return session;
}

static void forget_in(struct fyn_session **table, struct fyn_session *session)
{
	/* Called from the uthash deletion idiom; the analyzer loses track of its pointers. */
	HASH_DELETE(by_id, *table, session);   // NOLINT(clang-analyzer-unix.Malloc)
	free_session(session);
}

/* Adds session to *table, in place of any entry with its id. Out of memory,
 * the session is forgotten instead (freed): mosquitto is then refused what
 * it asks for it, as for a client the hub never knew. */
static void add_to(struct fyn_session **table, struct fyn_session *session)
{
	struct fyn_session *previous = find_in(*table, session->client_id);

	if (previous) {
		forget_in(table, previous);
	}
	hash_add_failed = false;
	HASH_ADD_KEYPTR(by_id, *table, session->client_id, strlen(session->client_id), session);
	if (hash_add_failed) {
		free_session(session);
	}
}

static void supersede_offline(struct fyn_sessions *s, const char *client_id)
{
	struct fyn_session *offline = find_in(s->offline, client_id);

	if (offline) {
		forget_in(&s->offline, offline);
	}
}

struct fyn_session *fyn_sessions_put(struct fyn_sessions *s, const void *client,
		const char *client_id, struct fyn_claims *claims)
{
	struct fyn_session *existing = fyn_sessions_find(s, client);
	struct fyn_session *session = calloc(1, sizeof(*session));

	if (!session || !(session->client_id = strdup(client_id))) {
		free(session);
		fyn_claims_clear(claims);
		return NULL;
	}
	session->client = client;
	session->claims = *claims;
	memset(claims, 0, sizeof(*claims));
	fill_identity(session);
	if (existing) {
		fyn_sessions_remove(s, existing);
	}
	if (!index_session(s, session)) {
		free_session(session);
		return NULL;
	}
	supersede_offline(s, client_id);
	return session;
}

size_t fyn_sessions_park(struct fyn_sessions *s, struct fyn_session *session, bool keep)
{
	size_t forgotten = 0;

	HASH_DELETE(by_client, s->by_client, session);
	if (fyn_session_is_current(s, session)) {
		HASH_DELETE(by_id, s->by_id, session);
	}
	clear_read_cache(session);
	free(session->cursors);
	session->cursors = NULL;
	session->cursor_count = 0;
	if (!keep) {
		add_to(&s->closing, session);
		return 0;
	}
	if (!find_in(s->offline, session->client_id)
			&& HASH_CNT(by_id, s->offline) >= FYN_SESSIONS_MAX_OFFLINE) {
		forget_in(&s->offline, s->offline);   /* the head is the oldest */
		forgotten = 1;
	}
	add_to(&s->offline, session);
	return forgotten;
}

struct fyn_session *fyn_sessions_find_offline(struct fyn_sessions *s, const void *client,
		const char *client_id)
{
	struct fyn_session *session = find_in(s->offline, client_id);

	if (session && session->client == client) {
		return session;
	}
	session = find_in(s->closing, client_id);
	return session && session->client == client ? session : NULL;
}

static void forget_all(struct fyn_session **table)
{
	struct fyn_session *session, *tmp;
	HASH_ITER(by_id, *table, session, tmp) {
		forget_in(table, session);
	}
}

void fyn_sessions_end_closing(struct fyn_sessions *s)
{
	forget_all(&s->closing);
}

void fyn_sessions_clear(struct fyn_sessions *s)
{
	struct fyn_session *session, *tmp;
	HASH_ITER(by_client, s->by_client, session, tmp) {
		fyn_sessions_remove(s, session);
	}
	forget_all(&s->offline);
	forget_all(&s->closing);
}

int fyn_session_cached_read(struct fyn_session *session, const char *topic, unsigned generation)
{
	struct fyn_read_cache_entry *entry = NULL;
	if (session->read_cache_generation != generation) {
		clear_read_cache(session);
		session->read_cache_generation = generation;
		return -1;
	}
	HASH_FIND_STR(session->read_cache, topic, entry);
	return entry ? entry->allowed : -1;
}

void fyn_session_cache_read(struct fyn_session *session, const char *topic, bool allowed,
		unsigned generation)
{
	size_t len = strlen(topic);
	struct fyn_read_cache_entry *entry;

	if (session->read_cache_generation != generation || session->read_cache_size >= READ_CACHE_MAX) {
		clear_read_cache(session);
		session->read_cache_generation = generation;
	}
	entry = malloc(sizeof(*entry) + len + 1);
	if (!entry) {
		return;   /* the cache is an optimisation; the caller has its answer */
	}
	memcpy(entry->topic, topic, len + 1);
	entry->allowed = allowed;
	hash_add_failed = false;
	HASH_ADD(hh, session->read_cache, topic, len, entry);   // NOLINT(clang-analyzer-unix.Malloc): uthash's bookkeeping confuses the analyzer
	if (hash_add_failed) {
		free(entry);
		return;
	}
	session->read_cache_size++;
}

json_t *fyn_session_identity_json(const struct fyn_session *session)
{
	json_t *restaurants = json_array();
	for (size_t i = 0; restaurants && i < session->identity.restaurant_count; i++) {
		json_array_append_new(restaurants, json_string(session->identity.restaurants[i]));
	}
	return json_pack("{s:s?, s:s?, s:s?, s:o*}", "sub", session->identity.sub,
			"role", session->identity.role, "client_id", session->identity.client_id,
			"restaurants", restaurants);
}

size_t fyn_sessions_count(const struct fyn_sessions *s)
{
	return HASH_CNT(by_client, s->by_client);
}

void fyn_sessions_each(struct fyn_sessions *s, void (*visit)(struct fyn_session *session, void *arg), void *arg)
{
	struct fyn_session *session, *tmp;
	HASH_ITER(by_client, s->by_client, session, tmp) {
		visit(session, arg);
	}
}
