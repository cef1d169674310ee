/*
 * test_envelope.c: what a submission must look like (core/envelope.c):
 * topic shape, size, strict JSON, every field's type, the topic/event_type
 * agreement, and the ack payloads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "envelope.h"

#define GOOD_ID "0b6f7c1e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"

static const char good_event[] =
	"{\"id\":\"" GOOD_ID "\",\"aggregate_id\":\"order-1842\",\"event_type\":\"order.created\","
	"\"payload\":{\"status\":\"open\",\"total\":1250,\"items\":[]},\"metadata\":{\"device\":\"till-2\"},"
	"\"created_at\":\"2026-11-28T12:00:00.123Z\",\"created_by\":\"mallory\",\"seq\":99}";

static struct fyn_submit_topic topic_of(const char *topic)
{
	struct fyn_submit_topic t;
	char reason[256];
	assert_true(fyn_submit_topic_parse(topic, &t, reason, sizeof(reason)));
	return t;
}

static struct fyn_envelope_check check_text(const char *topic, const char *text, size_t max)
{
	struct fyn_submit_topic t = topic_of(topic);
	struct fyn_envelope_check out;
	fyn_envelope_check(&t, text, strlen(text), max, &out);
	return out;
}

static void topics_split_into_stream_domain_action(void **state)
{
	struct fyn_submit_topic t = topic_of("fynlo/v1/in/r1/order/created");
	(void)state;
	assert_string_equal(t.stream, "r1");
	assert_string_equal(t.domain, "order");
	assert_string_equal(t.action, "created");
}

static void malformed_topics_are_refused(void **state)
{
	static const char *const bad[] = {
		"fynlo/v1/in/r1/order", "fynlo/v1/in/r1/order/created/extra", "fynlo/v1/in//order/created",
		"fynlo/v1/in/r1/order/", "fynlo/v1/in/r 1/order/created", "fynlo/v1/in/r1/ord.er/created",
		"fynlo/v1/in/r1/order/+", "fynlo/v1/ev/r1/order/created", "fynlo/v1/in/r1/order/cr#ated",
		"fynlo/v1/in/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/order/created",
	};
	struct fyn_submit_topic t;
	char reason[256];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reason[0] = '\0';
		assert_false(fyn_submit_topic_parse(bad[i], &t, reason, sizeof(reason)));
		assert_true(strlen(reason) > 0);
	}
}

static void a_good_event_is_normalised(void **state)
{
	struct fyn_envelope_check out = check_text("fynlo/v1/in/r1/order/created", good_event, 65536);
	(void)state;
	assert_int_equal(out.code, FYN_OK);
	assert_string_equal(out.id, GOOD_ID);
	assert_non_null(out.event);
	assert_string_equal(json_string_value(json_object_get(out.event, "aggregate_id")), "order-1842");
	assert_true(json_is_null(json_object_get(out.event, "correlation_id")));
	/* the hub sets these itself */
	assert_null(json_object_get(out.event, "created_by"));
	assert_null(json_object_get(out.event, "seq"));
	json_decref(out.event);
}

static void too_large_is_checked_before_parsing(void **state)
{
	struct fyn_envelope_check out = check_text("fynlo/v1/in/r1/order/created", "{not even json", 5);
	(void)state;
	assert_int_equal(out.code, FYN_REJECT_TOO_LARGE);
	assert_false(out.parsed);
	assert_null(out.event);
}

static void expect_invalid(const char *topic, const char *text, const char *reason_word)
{
	struct fyn_envelope_check out = check_text(topic, text, 65536);
	assert_int_equal(out.code, FYN_REJECT_INVALID);
	assert_null(out.event);
	assert_non_null(strstr(out.reason, reason_word));
}

static void broken_json_is_invalid(void **state)
{
	(void)state;
	expect_invalid("fynlo/v1/in/r1/order/created", "{\"id\": ", "JSON");
	expect_invalid("fynlo/v1/in/r1/order/created", "{\"id\":\"a\",\"id\":\"b\"}", "JSON");
	expect_invalid("fynlo/v1/in/r1/order/created", "\xff\xfe{}", "JSON");
	expect_invalid("fynlo/v1/in/r1/order/created", "{\"s\":\"a\\u0000b\"}", "JSON");
	expect_invalid("fynlo/v1/in/r1/order/created", "[1,2]", "object");
}

static char *with_field(const char *key, const char *json_value)
{
	json_t *doc = json_loads(good_event, 0, NULL);
	char *text;
	if (json_value) {
		json_object_set_new(doc, key, json_loads(json_value, JSON_DECODE_ANY, NULL));
	} else {
		json_object_del(doc, key);
	}
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

static void each_ill_typed_field_is_named(void **state)
{
	static const struct { const char *key, *value, *word; } cases[] = {
		{ "id", NULL, "id" }, { "id", "\"not-a-uuid\"", "id" }, { "id", "42", "id" },
		{ "id", "\"0b6f7c1e-1c2d-4e5f-8a9b-0c1d2e3f4a5bX\"", "id" },
		{ "aggregate_id", "\"\"", "aggregate_id" }, { "aggregate_id", "7", "aggregate_id" },
		{ "event_type", NULL, "event_type" }, { "event_type", "\"order.updated\"", "event_type" },
		{ "event_type", "\"order\"", "event_type" }, { "payload", "[]", "payload" },
		{ "payload", NULL, "payload" }, { "metadata", "\"x\"", "metadata" },
		{ "correlation_id", "\"nope\"", "correlation_id" },
		{ "created_at", "\"2026-13-01T00:00:00Z\"", "created_at" },
		{ "created_at", "\"2026-11-28 12:00\"", "created_at" }, { "created_at", "17", "created_at" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = with_field(cases[i].key, cases[i].value);
		expect_invalid("fynlo/v1/in/r1/order/created", text, cases[i].word);
		free(text);
	}
}

static void optional_fields_may_be_null(void **state)
{
	static const char *const keys[] = { "metadata", "correlation_id", "created_at" };
	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *text = with_field(keys[i], "null");
		struct fyn_envelope_check out = check_text("fynlo/v1/in/r1/order/created", text, 65536);
		assert_int_equal(out.code, FYN_OK);
		json_decref(out.event);
		free(text);
	}
}

static void platform_events_belong_to_the_platform_stream(void **state)
{
	char *announcement = with_field("event_type", "\"platform.announcement\"");
	struct fyn_envelope_check out = check_text("fynlo/v1/in/platform/platform/announcement", announcement, 65536);
	(void)state;
	assert_int_equal(out.code, FYN_OK);
	json_decref(out.event);
	expect_invalid("fynlo/v1/in/r1/platform/announcement", announcement, "platform");
	expect_invalid("fynlo/v1/in/platform/order/created", good_event, "platform");
	free(announcement);
}

static void rfc3339_forms(void **state)
{
	(void)state;
	assert_true(fyn_is_rfc3339("2026-11-28T12:00:00Z"));
	assert_true(fyn_is_rfc3339("2026-11-28T12:00:00.123456789+01:00"));
	assert_true(fyn_is_rfc3339("2026-11-28t12:00:00-05:30"));
	assert_false(fyn_is_rfc3339("2026-11-28T12:00:00"));
	assert_false(fyn_is_rfc3339("2026-11-28T24:00:00Z"));
	assert_false(fyn_is_rfc3339("2026-11-28T12:00:00.Z"));
	assert_false(fyn_is_rfc3339("2026-11-28T12:00:00.1234567890Z"));
	assert_false(fyn_is_rfc3339("2026-11-28T12:00:00Z trailing"));
}

static void acks_follow_the_contract(void **state)
{
	char *accepted = fyn_ack_accepted(GOOD_ID, 1843);
	char *rejected = fyn_ack_rejected("", "conflict", "order order-1842 is completed");
	(void)state;
	assert_string_equal(accepted, "{\"id\":\"" GOOD_ID "\",\"status\":\"accepted\",\"seq\":1843}");
	assert_string_equal(rejected, "{\"id\":null,\"status\":\"rejected\",\"code\":\"conflict\","
			"\"reason\":\"order order-1842 is completed\"}");
	free(accepted);
	free(rejected);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(topics_split_into_stream_domain_action),
		cmocka_unit_test(malformed_topics_are_refused),
		cmocka_unit_test(a_good_event_is_normalised),
		cmocka_unit_test(too_large_is_checked_before_parsing),
		cmocka_unit_test(broken_json_is_invalid),
		cmocka_unit_test(each_ill_typed_field_is_named),
		cmocka_unit_test(optional_fields_may_be_null),
		cmocka_unit_test(platform_events_belong_to_the_platform_stream),
		cmocka_unit_test(rfc3339_forms),
		cmocka_unit_test(acks_follow_the_contract),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
