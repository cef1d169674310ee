/*
 * test_batch.c: the batching logic between the writer thread and the store
 * (core/batch.c, core/view_text.c): the batch sent to fynsync_append, and
 * how its answer becomes exactly one ack per job, and a stored event one
 * publish per view.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "batch.h"
#include "view_text.h"

static const char stored_event[] =
	"{\"id\":\"e1\",\"seq\":7,\"restaurant\":\"r1\",\"event_type\":\"order.created\","
	"\"payload\":{\"total\":10,\"cost\":4,\"items\":[{\"cost\":1,\"x\":{\"profit_margin\":2}}]}}";

static struct fyn_views *two_views(void)
{
	char err[256];
	struct fyn_acl *acl = fyn_acl_load_string("view full\nview redacted remove cost profit_margin\n"
			"role staff\nreceive redacted\n", "t.acl", err, sizeof(err));
	struct fyn_views *views;
	assert_non_null(acl);
	views = fyn_views_from_acl(acl);
	assert_non_null(views);
	return views;
}

static struct fyn_job *job(const char *client_id, const char *id)
{
	struct fyn_job *j = fyn_job_new(client_id, "alice", id, json_pack("{s:s}", "id", id), 0);
	assert_non_null(j);
	return j;
}

static void batch_text_indexes_elements_and_flags_retries(void **state)
{
	struct fyn_job *jobs[2] = { job("c1", "a"), job("c2", "b") };
	char *text;
	json_t *batch;
	(void)state;
	jobs[1]->attempts = 1;
	text = fyn_batch_text(jobs, 2);
	batch = json_loads(text, 0, NULL);
	assert_int_equal(json_array_size(batch), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(batch, 0), "idx")), 0);
	assert_true(json_is_false(json_object_get(json_array_get(batch, 0), "retry")));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(batch, 1), "idx")), 1);
	assert_true(json_is_true(json_object_get(json_array_get(batch, 1), "retry")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(batch, 1), "id")), "b");
	json_decref(batch);
	free(text);
	fyn_job_free(jobs[0]);
	fyn_job_free(jobs[1]);
}

static void redaction_removes_keys_at_every_depth_of_the_payload_only(void **state)
{
	struct fyn_event_text event;
	const char *const keys[] = { "cost", "profit_margin" };
	char *text;
	(void)state;
	assert_int_equal(fyn_event_text_scan(&event, stored_event, strlen(stored_event)), 0);
	text = fyn_event_view_text(&event, keys, 2, false);
	assert_string_equal(text, "{\"seq\":7,\"id\":\"e1\",\"restaurant\":\"r1\",\"event_type\":\"order.created\","
		"\"payload\":{\"total\":10,\"items\":[{\"x\":{}}]}}");
	free(text);
	fyn_event_text_release(&event);
}

static struct fyn_append_row row(int idx, const char *status, const char *code, long long seq, const char *event)
{
	struct fyn_append_row r = { .idx = idx, .status = strdup(status), .code = code ? strdup(code) : NULL,
		.reason = code ? strdup("because") : NULL, .seq = seq,
		.event = event ? strdup(event) : NULL };
	return r;
}

static const struct fyn_outgoing *find(const struct fyn_completion *c, const char *topic)
{
	for (size_t i = 0; i < c->message_count; i++) {
		if (strcmp(c->messages[i].topic, topic) == 0) {
			return &c->messages[i];
		}
	}
	return NULL;
}

static void answers_give_one_ack_per_job(void **state)
{
	struct fyn_job *jobs[3] = { job("c1", "a"), job("c2", "b"), job("c3", "c") };
	struct fyn_append_result result = { calloc(3, sizeof(struct fyn_append_row)), 3 };
	struct fyn_completion *c = fyn_completion_new();
	const struct fyn_outgoing *m;
	(void)state;

	result.rows[0] = row(0, "accepted", NULL, 7, stored_event);
	result.rows[1] = row(1, "rejected", "conflict", 0, NULL);
	result.rows[2] = row(-1, "generated", NULL, 8, stored_event);
	assert_int_equal(fyn_batch_answer(jobs, 3, &result, c), 0);
	/* ack a, ack b, ack c (forgotten by the store); the events go through the fan-out gate */
	assert_int_equal(c->message_count, 3);
	assert_string_equal(c->messages[0].topic, "fynlo/v1/client/c1/ack");
	assert_string_equal(c->messages[0].payload, "{\"id\":\"a\",\"status\":\"accepted\",\"seq\":7}");
	assert_string_equal(c->messages[0].owner_sub, "alice");
	m = find(c, "fynlo/v1/client/c2/ack");
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"code\":\"conflict\""));
	m = find(c, "fynlo/v1/client/c3/ack");
	assert_non_null(m);
	assert_non_null(strstr(m->payload, "\"code\":\"unavailable\""));

	fyn_completion_free(c);
	fyn_append_result_clear(&result);
	for (int i = 0; i < 3; i++) {
		fyn_job_free(jobs[i]);
	}
}

static void a_stored_event_is_published_once_per_view(void **state)
{
	struct fyn_views *views = two_views();
	struct fyn_completion *c = fyn_completion_new();
	const struct fyn_outgoing *m;
	(void)state;

	assert_int_equal(fyn_fanout_event(stored_event, views, c), 0);
	assert_int_equal(c->message_count, 2);
	m = find(c, "fynlo/v1/ev/r1/redacted/order/created");
	assert_non_null(m);
	assert_null(m->client_id);
	assert_null(strstr(m->payload, "cost"));
	assert_non_null(strstr(find(c, "fynlo/v1/ev/r1/full/order/created")->payload, "profit_margin"));
	assert_int_equal(fyn_fanout_event("{\"event_type\":\"order.created\"}", views, c), -1);
	assert_int_equal(fyn_fanout_event("not json", views, c), -1);
	fyn_completion_free(c);
	fyn_views_unref(views);
}

static bool only_menu(const char *topic, const void *arg)
{
	(void)arg;
	return strstr(topic, "/menu/") != NULL;
}

static void replayed_events_are_marked_and_can_be_filtered(void **state)
{
	struct fyn_views *views = two_views();
	struct fyn_completion *c = fyn_completion_new();
	(void)state;
	assert_int_equal(fyn_replay_event(stored_event, "r1", &views->items[1], "kds", "bob", NULL, NULL, c), 0);
	assert_int_equal(c->message_count, 1);
	assert_string_equal(c->messages[0].topic, "fynlo/v1/ev/r1/redacted/order/created");
	assert_string_equal(c->messages[0].client_id, "kds");
	assert_non_null(strstr(c->messages[0].payload, "\"replay\":true"));
	assert_null(strstr(c->messages[0].payload, "cost"));
	assert_int_equal(fyn_replay_event(stored_event, "r1", &views->items[1], "kds", "bob", only_menu, NULL, c), 0);
	assert_int_equal(c->message_count, 1);
	assert_int_equal(fyn_replay_event("not json", "r1", &views->items[1], "kds", "bob", NULL, NULL, c), -1);
	fyn_completion_free(c);
	fyn_views_unref(views);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batch_text_indexes_elements_and_flags_retries),
		cmocka_unit_test(redaction_removes_keys_at_every_depth_of_the_payload_only),
		cmocka_unit_test(answers_give_one_ack_per_job),
		cmocka_unit_test(a_stored_event_is_published_once_per_view),
		cmocka_unit_test(replayed_events_are_marked_and_can_be_filtered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
