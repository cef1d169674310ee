/*
 * test_topics.c: the hub's topic names (core/topics.c) and the seq a
 * persistent client's cursor moves by (core/redact.c): every event text the
 * hub publishes starts with its seq, and a text that does not is still
 * read correctly, so durable cursors never silently stop moving.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "redact.h"
#include "view_text.h"
#include "topics.h"

static void filters_match_as_mqtt_does(void **state)
{
	(void)state;
	assert_true(fyn_topic_matches_filter("fynlo/v1/ev/r1/full/#", "fynlo/v1/ev/r1/full/order/created"));
	assert_true(fyn_topic_matches_filter("fynlo/v1/ev/r1/full/#", "fynlo/v1/ev/r1/full"));
	assert_true(fyn_topic_matches_filter("fynlo/v1/ev/+/redacted/order/+", "fynlo/v1/ev/r2/redacted/order/updated"));
	assert_true(fyn_topic_matches_filter("#", "a/b/c"));
	assert_true(fyn_topic_matches_filter("a/+", "a/"));
	assert_true(fyn_topic_matches_filter("a/b", "a/b"));
	assert_false(fyn_topic_matches_filter("a/b", "a/bc"));
	assert_false(fyn_topic_matches_filter("a/+", "a/b/c"));
	assert_false(fyn_topic_matches_filter("fynlo/v1/ev/r1/full/#", "fynlo/v1/ev/r10/full/order/created"));
	assert_false(fyn_topic_matches_filter("a/b/c", "a/b"));
	assert_false(fyn_topic_matches_filter("a/#/c", "a/b/c"));
}

static void event_topics_and_streams(void **state)
{
	char stream[FYN_STREAM_MAX + 1];
	char *topic = fyn_event_topic("r1", "redacted", "order.created");
	char *client = fyn_client_topic("till-1", "ack");
	(void)state;
	assert_string_equal(topic, "fynlo/v1/ev/r1/redacted/order/created");
	assert_string_equal(client, "fynlo/v1/client/till-1/ack");
	assert_null(fyn_event_topic("r1", "full", "nodot"));
	assert_true(fyn_event_stream_of(topic, stream));
	assert_string_equal(stream, "r1");
	assert_false(fyn_event_stream_of("fynlo/v1/in/r1/order/created", stream));
	assert_false(fyn_event_stream_of("fynlo/v1/ev/", stream));
	assert_true(fyn_topic_is_hub_inbox("fynlo/v1/ctl/resume"));
	assert_true(fyn_topic_is_hub_inbox("fynlo/v1/in/r1/order/created"));
	assert_false(fyn_topic_is_hub_inbox("fynlo/v1/ev/r1/full/order/created"));
	assert_true(fyn_topic_is_hub_inbox("fynlo/v1/in"));
	assert_true(fyn_topic_is_hub_inbox("fynlo/v1/ctl"));
	assert_false(fyn_topic_is_hub_inbox("fynlo/v1/inx"));
	assert_false(fyn_topic_is_hub_inbox("fynlo/v1"));
	free(topic);
	free(client);
}

/* A stored event as PostgreSQL's jsonb prints it: shorter keys first, so
 * "seq" is not where a naive search of the first bytes would look once the
 * envelope has long short-named fields before it. */
static json_t *stored_event(long long seq)
{
	char big_id[300];
	memset(big_id, 'x', sizeof(big_id) - 1);
	big_id[sizeof(big_id) - 1] = '\0';
	return json_pack("{s:s, s:s, s:I, s:s, s:{s:i, s:i}}", "id", big_id, "aggregate_id", big_id,
			"seq", (json_int_t)seq, "event_type", "order.created", "payload", "total", 1250, "cost", 410);
}

static void published_text_starts_with_seq(void **state)
{
	static const char *const removed[] = { "cost" };
	json_t *event = stored_event(1843);
	char *stored = json_dumps(event, JSON_INDENT(1));
	struct fyn_event_text scanned;
	char *full, *redacted;
	(void)state;
	assert_int_equal(fyn_event_text_scan(&scanned, stored, strlen(stored)), 0);
	full = fyn_event_view_text(&scanned, NULL, 0, false);
	redacted = fyn_event_view_text(&scanned, removed, 1, false);
	assert_non_null(full);
	assert_non_null(redacted);
	assert_memory_equal(full, "{\"seq\":1843,", 12);
	assert_memory_equal(redacted, "{\"seq\":1843,", 12);
	assert_null(strstr(redacted, "cost"));
	assert_non_null(strstr(full, "\"cost\":410"));
	assert_int_equal(fyn_event_text_seq(full, strlen(full)), 1843);
	assert_int_equal(fyn_event_text_seq(redacted, strlen(redacted)), 1843);
	free(full);
	free(redacted);
	fyn_event_text_release(&scanned);
	free(stored);
	json_decref(event);
}

static void seq_is_found_in_any_layout(void **state)
{
	json_t *event = stored_event(77);
	char *late = json_dumps(event, JSON_COMPACT);   /* seq after 600 bytes of ids */
	static const char no_seq[] = "{\"id\":\"a\"}";
	static const char not_json[] = "{\"seq\":12";
	static const char negative[] = "{\"seq\":-5}";
	(void)state;
	assert_true(strstr(late, "\"seq\"") - late > 256);
	assert_int_equal(fyn_event_text_seq(late, strlen(late)), 77);
	assert_int_equal(fyn_event_text_seq(no_seq, strlen(no_seq)), 0);
	assert_int_equal(fyn_event_text_seq(not_json, strlen(not_json)), 0);
	assert_int_equal(fyn_event_text_seq(negative, strlen(negative)), 0);
	assert_int_equal(fyn_event_text_seq("{\"seq\":5}", 9), 5);
	free(late);
	json_decref(event);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(filters_match_as_mqtt_does),
		cmocka_unit_test(event_topics_and_streams),
		cmocka_unit_test(published_text_starts_with_seq),
		cmocka_unit_test(seq_is_found_in_any_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
