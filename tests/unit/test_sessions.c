/*
 * test_sessions.c: the tables of connected and offline clients
 * (core/sessions.c): lookup by connection and by client id, takeover of a
 * client id, removal while iterating, the per-session read cache and its
 * reset on ACL reload; offline sessions: kept or closing, found only for
 * their own connection, ended by a new connection with their id, bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sessions.h"

static struct fyn_claims claims_for(const char *sub, enum fyn_role role, const char *rid)
{
	struct fyn_claims c = { .sub = strdup(sub), .role = role, .exp = 4102444800 };
	c.restaurants = calloc(1, sizeof(char *));
	c.restaurants[0] = strdup(rid);
	c.restaurant_count = 1;
	return c;
}

static struct fyn_session *connect_as(struct fyn_sessions *s, const void *client, const char *client_id,
		const char *sub)
{
	struct fyn_claims c = claims_for(sub, FYN_ROLE_STAFF, "r1");
	struct fyn_session *session = fyn_sessions_put(s, client, client_id, &c);
	assert_non_null(session);
	assert_null(c.sub);   /* ownership moved */
	return session;
}

static void found_by_connection_and_by_client_id(void **state)
{
	struct fyn_sessions s = { 0 };
	int a = 0, b = 0;
	struct fyn_session *one = connect_as(&s, &a, "till-1", "alice");
	struct fyn_session *two = connect_as(&s, &b, "till-2", "bob");
	(void)state;
	assert_ptr_equal(fyn_sessions_find(&s, &a), one);
	assert_ptr_equal(fyn_sessions_find_by_id(&s, "till-2"), two);
	assert_null(fyn_sessions_find_by_id(&s, "till-3"));
	assert_string_equal(one->identity.role, "staff");
	assert_string_equal(one->identity.restaurants[0], "r1");
	assert_int_equal(fyn_sessions_count(&s), 2);
	fyn_sessions_clear(&s);
	assert_int_equal(fyn_sessions_count(&s), 0);
}

static void a_takeover_makes_the_newest_connection_current(void **state)
{
	struct fyn_sessions s = { 0 };
	int old_client = 0, new_client = 0;
	struct fyn_session *old = connect_as(&s, &old_client, "kds-1", "kitchen-a");
	struct fyn_session *taker = connect_as(&s, &new_client, "kds-1", "kitchen-a");
	(void)state;
	assert_ptr_equal(fyn_sessions_find_by_id(&s, "kds-1"), taker);
	assert_false(fyn_session_is_current(&s, old));
	assert_true(fyn_session_is_current(&s, taker));
	/* The old connection's disconnect must leave the new one in place. */
	fyn_sessions_remove(&s, old);
	assert_ptr_equal(fyn_sessions_find_by_id(&s, "kds-1"), taker);
	assert_int_equal(fyn_sessions_count(&s), 1);
	fyn_sessions_clear(&s);
}

static void remove_visited(struct fyn_session *session, void *arg)
{
	struct fyn_sessions *s = arg;
	if (strcmp(session->claims.sub, "expired") == 0) {
		fyn_sessions_remove(s, session);
	}
}

static void each_may_remove_the_visited_session(void **state)
{
	struct fyn_sessions s = { 0 };
	int clients[4] = { 0 };
	(void)state;
	connect_as(&s, &clients[0], "a", "ok");
	connect_as(&s, &clients[1], "b", "expired");
	connect_as(&s, &clients[2], "c", "ok");
	connect_as(&s, &clients[3], "d", "expired");
	fyn_sessions_each(&s, remove_visited, &s);
	assert_int_equal(fyn_sessions_count(&s), 2);
	assert_null(fyn_sessions_find_by_id(&s, "b"));
	assert_non_null(fyn_sessions_find_by_id(&s, "c"));
	fyn_sessions_clear(&s);
}

static void read_cache_forgets_on_reload_and_refresh(void **state)
{
	struct fyn_sessions s = { 0 };
	int client = 0;
	struct fyn_session *session = connect_as(&s, &client, "till-1", "alice");
	struct fyn_claims refreshed = claims_for("alice", FYN_ROLE_STAFF, "r2");
	(void)state;
	assert_int_equal(fyn_session_cached_read(session, "t/1", 1), -1);
	fyn_session_cache_read(session, "t/1", true, 1);
	fyn_session_cache_read(session, "t/2", false, 1);
	assert_int_equal(fyn_session_cached_read(session, "t/1", 1), 1);
	assert_int_equal(fyn_session_cached_read(session, "t/2", 1), 0);
	assert_int_equal(fyn_session_cached_read(session, "t/1", 2), -1);   /* ACL reloaded */
	fyn_session_cache_read(session, "t/1", true, 2);
	fyn_session_replace_claims(session, &refreshed);
	assert_int_equal(fyn_session_cached_read(session, "t/1", 2), -1);   /* new token */
	assert_string_equal(session->identity.restaurants[0], "r2");
	fyn_sessions_clear(&s);
}

static void identity_json_copies_what_other_threads_need(void **state)
{
	struct fyn_sessions s = { 0 };
	int client = 0;
	struct fyn_session *session = connect_as(&s, &client, "till-1", "alice");
	json_t *who = fyn_session_identity_json(session);
	(void)state;
	assert_string_equal(json_string_value(json_object_get(who, "sub")), "alice");
	assert_string_equal(json_string_value(json_object_get(who, "role")), "staff");
	assert_string_equal(json_string_value(json_object_get(who, "client_id")), "till-1");
	assert_string_equal(json_string_value(json_array_get(json_object_get(who, "restaurants"), 0)), "r1");
	json_decref(who);
	fyn_sessions_clear(&s);
}

static void an_offline_session_is_found_for_its_own_connection_only(void **state)
{
	struct fyn_sessions s = { 0 };
	int kept_client = 0, closing_client = 0, stranger = 0;
	struct fyn_session *kept = connect_as(&s, &kept_client, "kds-1", "kitchen-a");
	struct fyn_session *closing = connect_as(&s, &closing_client, "till-1", "alice");
	(void)state;
	kept->persistent = true;
	assert_int_equal(fyn_sessions_park(&s, kept, true), 0);
	assert_int_equal(fyn_sessions_park(&s, closing, false), 0);
	assert_int_equal(fyn_sessions_count(&s), 0);
	assert_null(fyn_sessions_find(&s, &kept_client));
	assert_null(fyn_sessions_find_by_id(&s, "kds-1"));
	assert_ptr_equal(fyn_sessions_find_offline(&s, &kept_client, "kds-1"), kept);
	assert_string_equal(kept->identity.sub, "kitchen-a");
	assert_true(kept->persistent);
	assert_ptr_equal(fyn_sessions_find_offline(&s, &closing_client, "till-1"), closing);
	assert_null(fyn_sessions_find_offline(&s, &stranger, "kds-1"));
	assert_null(fyn_sessions_find_offline(&s, &kept_client, "till-1"));
	fyn_sessions_end_closing(&s);
	assert_null(fyn_sessions_find_offline(&s, &closing_client, "till-1"));
	assert_ptr_equal(fyn_sessions_find_offline(&s, &kept_client, "kds-1"), kept);
	fyn_sessions_clear(&s);
	assert_null(fyn_sessions_find_offline(&s, &kept_client, "kds-1"));
}

static void a_new_connection_with_its_id_ends_the_offline_session(void **state)
{
	struct fyn_sessions s = { 0 };
	int old_client = 0, new_client = 0, other_client = 0;
	struct fyn_session *old = connect_as(&s, &old_client, "kds-1", "kitchen-a");
	struct fyn_session *other = connect_as(&s, &other_client, "kds-2", "kitchen-a");
	(void)state;
	fyn_sessions_park(&s, old, true);
	fyn_sessions_park(&s, other, true);
	connect_as(&s, &new_client, "kds-1", "kitchen-b");
	assert_null(fyn_sessions_find_offline(&s, &old_client, "kds-1"));
	assert_ptr_equal(fyn_sessions_find_offline(&s, &other_client, "kds-2"), other);
	assert_string_equal(fyn_sessions_find(&s, &new_client)->identity.sub, "kitchen-b");
	fyn_sessions_clear(&s);
}

static void a_parked_session_forgets_its_cursors_and_cached_reads(void **state)
{
	struct fyn_sessions s = { 0 };
	int client = 0;
	struct fyn_session *session = connect_as(&s, &client, "kds-1", "kitchen-a");
	(void)state;
	session->cursors = calloc(1, sizeof(*session->cursors));
	assert_non_null(session->cursors);
	session->cursor_count = 1;
	fyn_session_cache_read(session, "plain/r1/a", true, 1);
	fyn_sessions_park(&s, session, true);
	assert_null(session->cursors);
	assert_int_equal(session->cursor_count, 0);
	assert_int_equal(fyn_session_cached_read(session, "plain/r1/a", 1), -1);
	fyn_sessions_clear(&s);
}

static void offline_sessions_are_bounded_oldest_first(void **state)
{
	struct fyn_sessions s = { 0 };
	static char clients[FYN_SESSIONS_MAX_OFFLINE + 1];
	char id[32];
	size_t forgotten = 0;
	(void)state;
	for (size_t i = 0; i <= FYN_SESSIONS_MAX_OFFLINE; i++) {
		snprintf(id, sizeof(id), "kds-%zu", i);
		forgotten += fyn_sessions_park(&s, connect_as(&s, &clients[i], id, "kitchen-a"), true);
	}
	assert_int_equal(forgotten, 1);
	assert_null(fyn_sessions_find_offline(&s, &clients[0], "kds-0"));
	assert_non_null(fyn_sessions_find_offline(&s, &clients[1], "kds-1"));
	snprintf(id, sizeof(id), "kds-%d", FYN_SESSIONS_MAX_OFFLINE);
	assert_non_null(fyn_sessions_find_offline(&s, &clients[FYN_SESSIONS_MAX_OFFLINE], id));
	fyn_sessions_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(found_by_connection_and_by_client_id),
		cmocka_unit_test(a_takeover_makes_the_newest_connection_current),
		cmocka_unit_test(each_may_remove_the_visited_session),
		cmocka_unit_test(read_cache_forgets_on_reload_and_refresh),
		cmocka_unit_test(identity_json_copies_what_other_threads_need),
		cmocka_unit_test(an_offline_session_is_found_for_its_own_connection_only),
		cmocka_unit_test(a_new_connection_with_its_id_ends_the_offline_session),
		cmocka_unit_test(a_parked_session_forgets_its_cursors_and_cached_reads),
		cmocka_unit_test(offline_sessions_are_bounded_oldest_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
