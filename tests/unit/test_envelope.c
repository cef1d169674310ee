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

#include <stdio.h>
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

/* Issue 11, defect 2: a sender must be able to match a too_large answer to
 * its outbox entry, so the top-level id is read from submissions up to
 * FYN_ID_SCAN_MAX bytes; nested ids never count. */
static char *padded_event(const char *before_id, const char *id_json, size_t total)
{
	char *text = malloc(total + 1);
	int head;
	assert_non_null(text);
	head = snprintf(text, total + 1, "{%s\"id\":%s,\"pad\":\"", before_id, id_json);
	assert_true(head > 0 && (size_t)head + 2 <= total);
	memset(text + head, 'x', total - (size_t)head - 2);
	memcpy(text + total - 2, "\"}", 3);
	return text;
}

static struct fyn_envelope_check check_big(const char *text, size_t max)
{
	struct fyn_submit_topic t = topic_of("fynlo/v1/in/r1/order/created");
	struct fyn_envelope_check out;
	fyn_envelope_check(&t, text, strlen(text), max, &out);
	assert_int_equal(out.code, FYN_REJECT_TOO_LARGE);
	assert_null(out.event);
	return out;
}

static void too_large_answers_with_the_top_level_id(void **state)
{
	static const struct { const char *before, *id, *expected; } cases[] = {
		{ "", "\"" GOOD_ID "\"", GOOD_ID },
		{ "\"payload\":{\"id\":\"nested\",\"a\":[{\"id\":1},\"]}\"]},", "\"" GOOD_ID "\"", GOOD_ID },
		{ "\"x\\\"id\\\"\":\"id\",", "\"" GOOD_ID "\"", GOOD_ID },
		{ "\"n\":-1.5e3,\"t\":true,\"f\":null,", "\"" GOOD_ID "\"", GOOD_ID },
		{ "", "\"not-a-uuid\"", "not-a-uuid" },
		{ "", "42", "" },
		{ "", "{\"id\":\"" GOOD_ID "\"}", "" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = padded_event(cases[i].before, cases[i].id, 70000);
		struct fyn_envelope_check out = check_big(text, 65536);
		assert_string_equal(out.id, cases[i].expected);
		assert_non_null(strstr(out.reason, "65536"));
		free(text);
	}
}

static void an_escaped_id_key_counts_and_a_nested_one_does_not(void **state)
{
	struct fyn_envelope_check out;
	(void)state;
	out = check_big("{\"\\u0069d\":\"" GOOD_ID "\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", 16);
	assert_string_equal(out.id, GOOD_ID);
	out = check_big("{\"a\":{\"id\":\"" GOOD_ID "\"},\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", 16);
	assert_string_equal(out.id, "");
	out = check_big("[{\"id\":\"" GOOD_ID "\"},\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"]", 16);
	assert_string_equal(out.id, "");
	/* broken after the id: the id is still what the sender sent */
	out = check_big("{\"id\":\"" GOOD_ID "\",\"pad\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 16);
	assert_string_equal(out.id, GOOD_ID);
	out = check_big("{\"id\":\"" GOOD_ID "\\ud800\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", 16);
	assert_string_equal(out.id, "");
}

static void beyond_the_scan_cap_the_id_stays_unknown(void **state)
{
	char *text = padded_event("", "\"" GOOD_ID "\"", FYN_ID_SCAN_MAX + 1);
	struct fyn_envelope_check out = check_big(text, 65536);
	(void)state;
	assert_string_equal(out.id, "");
	free(text);
	text = padded_event("", "\"" GOOD_ID "\"", FYN_ID_SCAN_MAX);
	out = check_big(text, 65536);
	assert_string_equal(out.id, GOOD_ID);
	free(text);
}

/* Issue 11, defect 5: money is integer minor units; 12.0, 1e2 and 1.5 are
 * JSON reals and refused in every money field. */
static void expect_money(const char *topic, const char *type, const char *payload, bool ok,
		const char *word)
{
	char text[1024];
	struct fyn_envelope_check out;
	snprintf(text, sizeof(text), "{\"id\":\"" GOOD_ID "\",\"aggregate_id\":\"a-1\",\"event_type\":\"%s\","
			"\"payload\":%s}", type, payload);
	out = check_text(topic, text, 65536);
	if (ok) {
		assert_int_equal(out.code, FYN_OK);
	} else {
		assert_int_equal(out.code, FYN_REJECT_INVALID);
		assert_non_null(strstr(out.reason, word));
		assert_non_null(strstr(out.reason, "whole number"));
	}
	json_decref(out.event);
}

static void money_must_be_whole_minor_units(void **state)
{
	static const char order[] = "fynlo/v1/in/r1/order/created";
	static const char update[] = "fynlo/v1/in/r1/order/updated";
	static const char menu[] = "fynlo/v1/in/r1/menu/updated";
	static const struct { const char *topic, *type, *payload, *word; bool ok; } cases[] = {
		{ order, "order.created", "{\"status\":\"open\",\"total\":1250,\"items\":[{\"price\":1250,\"cost\":410}]}", NULL, true },
		{ order, "order.created", "{\"total\":-300,\"items\":[{\"price\":null,\"cost\":null},\"note\"]}", NULL, true },
		{ order, "order.created", "{\"total\":12.0}", "total", false },
		{ order, "order.created", "{\"total\":1e2}", "total", false },
		{ order, "order.created", "{\"total\":1E2}", "total", false },
		{ order, "order.created", "{\"total\":12.5}", "total", false },
		{ order, "order.created", "{\"total\":\"1250\"}", "total", false },
		{ order, "order.created", "{\"total\":null}", "total", false },
		{ order, "order.created", "{\"total\":1000000000000000}", "total", false },
		{ order, "order.created", "{\"total\":999999999999999}", NULL, true },
		{ order, "order.created", "{\"total\":1,\"items\":[{\"price\":1.5}]}", "items[0].price", false },
		{ order, "order.created", "{\"total\":1,\"items\":[{\"price\":1},{\"cost\":4.0}]}", "items[1].cost", false },
		{ update, "order.updated", "{\"total\":-0.0}", "total", false },
		{ update, "order.updated", "{\"items\":[{\"price\":true}]}", "items[0].price", false },
		{ update, "order.updated", "{\"status\":\"ready\"}", NULL, true },
		{ menu, "menu.updated", "{\"item_id\":\"b\",\"price\":1250,\"cost\":null}", NULL, true },
		{ menu, "menu.updated", "{\"item_id\":\"b\",\"price\":1e2}", "price", false },
		{ menu, "menu.updated", "{\"item_id\":\"b\",\"cost\":410.0}", "cost", false },
		{ "fynlo/v1/in/r1/inventory/adjusted", "inventory.adjusted", "{\"item_id\":\"b\",\"level\":1.5}", NULL, true },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu: %s\n", i, cases[i].payload);
		expect_money(cases[i].topic, cases[i].type, cases[i].payload, cases[i].ok, cases[i].word);
	}
}

/* Found by the corpus: the store renders 1e19 as 10000000000000000000,
 * which the hub cannot read back, so the event was stored but never
 * answered nor fanned out. Every number must fit a 64-bit integer's range;
 * inventory amounts, which the store adds up, stay below 10^15. */
static void numbers_beyond_the_int64_range_are_refused(void **state)
{
	static const char order[] = "fynlo/v1/in/r1/order/created";
	static const char stock[] = "fynlo/v1/in/r1/inventory/adjusted";
	static const struct { const char *topic, *type, *payload, *word; bool ok; } cases[] = {
		{ order, "order.created", "{\"total\":1,\"note\":1e19}", "payload.note", false },
		{ order, "order.created", "{\"total\":1,\"a\":[{\"b\":[-9.3e18]}]}", "payload.a[0].b[0]", false },
		{ order, "order.created", "{\"total\":1,\"note\":9.2e18,\"small\":1e-300}", NULL, true },
		{ stock, "inventory.adjusted", "{\"item_id\":\"b\",\"delta\":1e15}", "payload.delta", false },
		{ stock, "inventory.adjusted", "{\"item_id\":\"b\",\"level\":-1000000000000000}", "payload.level", false },
		{ stock, "inventory.adjusted", "{\"item_id\":\"b\",\"level\":1,\"low_threshold\":2e15}", "payload.low_threshold", false },
		{ stock, "inventory.adjusted", "{\"item_id\":\"b\",\"level\":999999999999999.5,\"low_threshold\":null}", NULL, true },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024];
		struct fyn_envelope_check out;
		snprintf(text, sizeof(text), "{\"id\":\"" GOOD_ID "\",\"aggregate_id\":\"a-1\",\"event_type\":\"%s\","
				"\"payload\":%s}", cases[i].type, cases[i].payload);
		out = check_text(cases[i].topic, text, 65536);
		print_message("case %zu: %s -> %s\n", i, cases[i].payload, out.reason);
		assert_int_equal(out.code, cases[i].ok ? FYN_OK : FYN_REJECT_INVALID);
		if (!cases[i].ok) {
			assert_non_null(strstr(out.reason, cases[i].word));
		}
		json_decref(out.event);
	}
	expect_invalid(order, "{\"id\":\"" GOOD_ID "\",\"aggregate_id\":\"a\",\"event_type\":\"order.created\","
			"\"payload\":{\"total\":1},\"metadata\":{\"x\":1e300}}", "metadata.x");
}

/* Found by the corpus: a 1000-deep payload was stored and then choked
 * clients' JSON decoders on every snapshot (Python's stops at 1000). */
/* An event whose metadata holds depth nested arrays under "x". */
static char *nested_metadata_event(int depth)
{
	size_t cap = 256 + (size_t)depth * 8;
	char *text = malloc(cap);
	size_t used;
	assert_non_null(text);
	used = (size_t)snprintf(text, cap, "{\"id\":\"" GOOD_ID "\",\"aggregate_id\":\"a\",\"event_type\":"
			"\"order.created\",\"payload\":{\"total\":1},\"metadata\":{\"x\":");
	for (int i = 0; i < depth; i++) {
		used += (size_t)snprintf(text + used, cap - used, "[");
	}
	for (int i = 0; i < depth; i++) {
		used += (size_t)snprintf(text + used, cap - used, "]");
	}
	snprintf(text + used, cap - used, "}}");
	return text;
}

static void payloads_nest_at_most_32_levels(void **state)
{
	char *text;
	struct fyn_envelope_check out;
	(void)state;
	text = nested_metadata_event(31);   /* the metadata object, then 31 arrays */
	out = check_text("fynlo/v1/in/r1/order/created", text, 65536);
	assert_int_equal(out.code, FYN_OK);
	json_decref(out.event);
	free(text);
	text = nested_metadata_event(32);
	expect_invalid("fynlo/v1/in/r1/order/created", text, "deeper than 32");
	free(text);
	{
		char deep[256] = "{\"id\":\"" GOOD_ID "\",\"aggregate_id\":\"a\",\"event_type\":\"order.created\","
			"\"payload\":{\"total\":1,\"a\":";
		size_t used = strlen(deep);
		memset(deep + used, '[', 32);
		memset(deep + used + 32, ']', 32);
		memcpy(deep + used + 64, "}}", 3);
		expect_invalid("fynlo/v1/in/r1/order/created", deep, "payload.a[0]");
	}
}

/* Issue 11, defect 7: a date PostgreSQL would refuse is refused by the hub,
 * so the store never sees it (and its error text never reaches a client). */
static void timestamps_are_calendar_dates(void **state)
{
	(void)state;
	assert_false(fyn_is_rfc3339("2026-02-30T00:00:00Z"));
	assert_false(fyn_is_rfc3339("2026-04-31T00:00:00Z"));
	assert_false(fyn_is_rfc3339("2025-02-29T00:00:00Z"));
	assert_false(fyn_is_rfc3339("1900-02-29T00:00:00Z"));
	assert_false(fyn_is_rfc3339("0000-01-01T00:00:00Z"));
	assert_true(fyn_is_rfc3339("2024-02-29T00:00:00Z"));
	assert_true(fyn_is_rfc3339("2000-02-29T00:00:00Z"));
	assert_true(fyn_is_rfc3339("2026-12-31T23:59:60Z"));
	assert_true(fyn_is_rfc3339("2026-06-01T12:00:00+15:59"));
	assert_true(fyn_is_rfc3339("2026-06-01T12:00:00-15:59"));
	assert_false(fyn_is_rfc3339("2026-06-01T12:00:00+16:00"));
	assert_false(fyn_is_rfc3339("2026-06-01T12:00:00-23:59"));
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

/* A non-UUID id is refused, but echoed, so the sender can drop it from its
 * outbox (docs/protocol.md). */
static void a_bad_id_is_echoed_in_the_answer(void **state)
{
	char *text = with_field("id", "\"till-2:17\"");
	struct fyn_envelope_check out = check_text("fynlo/v1/in/r1/order/created", text, 65536);
	(void)state;
	assert_int_equal(out.code, FYN_REJECT_INVALID);
	assert_string_equal(out.id, "till-2:17");
	free(text);
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
		cmocka_unit_test(too_large_answers_with_the_top_level_id),
		cmocka_unit_test(an_escaped_id_key_counts_and_a_nested_one_does_not),
		cmocka_unit_test(beyond_the_scan_cap_the_id_stays_unknown),
		cmocka_unit_test(money_must_be_whole_minor_units),
		cmocka_unit_test(numbers_beyond_the_int64_range_are_refused),
		cmocka_unit_test(payloads_nest_at_most_32_levels),
		cmocka_unit_test(timestamps_are_calendar_dates),
		cmocka_unit_test(a_bad_id_is_echoed_in_the_answer),
		cmocka_unit_test(broken_json_is_invalid),
		cmocka_unit_test(each_ill_typed_field_is_named),
		cmocka_unit_test(optional_fields_may_be_null),
		cmocka_unit_test(platform_events_belong_to_the_platform_stream),
		cmocka_unit_test(rfc3339_forms),
		cmocka_unit_test(acks_follow_the_contract),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
