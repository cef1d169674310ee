/*
 * test_control_request.c: reading fynlo/v1/ctl/{verb} requests
 * (core/control_request.c): the verbs and only those, the size bound, each
 * verb's fields with their types, per-stream problems that leave the other
 * streams of a resume alone, and the error text every refusal is sent as.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ack.h"
#include "control_request.h"

/* Parses text on topic; the request must be cleared by the caller. */
static struct fyn_control_request parse(const char *topic, const char *text)
{
	struct fyn_control_request r;
	assert_int_equal(fyn_control_request_parse(topic, text, strlen(text), &r), 0);
	return r;
}

static void control_topics(void **state)
{
	(void)state;
	assert_true(fyn_topic_is_control("fynlo/v1/ctl/resume"));
	assert_true(fyn_topic_is_control("fynlo/v1/ctl/bogus"));
	assert_true(fyn_topic_is_control("fynlo/v1/ctl/"));
	assert_true(fyn_topic_is_control("fynlo/v1/ctl"));
	assert_false(fyn_topic_is_control("fynlo/v1/ctlx"));
	assert_false(fyn_topic_is_control("fynlo/v1/in/r1/order/created"));
	assert_string_equal(fyn_control_verb_name(FYN_CTL_SNAPSHOT), "snapshot");
	assert_null(fyn_control_verb_name(FYN_CTL_UNKNOWN));
}

static void unknown_verbs_are_invalid_and_named(void **state)
{
	const char *topics[] = { "fynlo/v1/ctl/bogus", "fynlo/v1/ctl/resume/x", "fynlo/v1/ctl/", "fynlo/v1/ctl",
		"fynlo/v1/ctl/Resume" };
	const char *verbs[] = { "bogus", "resume/x", "", "", "Resume" };
	(void)state;
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		struct fyn_control_request r = parse(topics[i], "{\"streams\": {\"r1\": 0}}");
		assert_int_equal(r.verb, FYN_CTL_UNKNOWN);
		assert_string_equal(r.verb_text, verbs[i]);
		assert_non_null(r.problem);
		assert_non_null(strstr(r.problem, "unknown"));
		fyn_control_request_clear(&r);
	}
}

static void hostile_verbs_are_echoed_safely(void **state)
{
	char topic[300];
	struct fyn_control_request r;
	(void)state;
	snprintf(topic, sizeof(topic), "fynlo/v1/ctl/%s", "caf\xc3\xa9\x01");
	r = parse(topic, "{}");
	assert_string_equal(r.verb_text, "caf???");
	fyn_control_request_clear(&r);

	memset(topic, 0, sizeof(topic));
	strcpy(topic, "fynlo/v1/ctl/");
	memset(topic + strlen(topic), 'v', 200);
	r = parse(topic, "{}");
	assert_int_equal(strlen(r.verb_text), FYN_CONTROL_VERB_MAX);
	fyn_control_request_clear(&r);
}

static void payload_must_be_a_small_json_object(void **state)
{
	const char *bad[] = { "", "[]", "\"x\"", "{", "{\"streams\": {\"r1\": 0}, \"streams\": {}}", "null" };
	char *big;
	struct fyn_control_request r;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = parse("fynlo/v1/ctl/resume", bad[i]);
		assert_int_equal(r.verb, FYN_CTL_RESUME);
		assert_non_null(r.problem);
		assert_non_null(strstr(r.problem, "JSON object"));
		fyn_control_request_clear(&r);
	}
	big = malloc(FYN_CONTROL_MAX_BYTES + 100);
	assert_non_null(big);
	memset(big, ' ', FYN_CONTROL_MAX_BYTES + 99);
	big[0] = '{';
	big[FYN_CONTROL_MAX_BYTES + 98] = '}';
	big[FYN_CONTROL_MAX_BYTES + 99] = '\0';
	r = parse("fynlo/v1/ctl/snapshot", big);
	assert_non_null(r.problem);
	fyn_control_request_clear(&r);
	big[FYN_CONTROL_MAX_BYTES - 1] = '}';   /* just at the bound: an empty object */
	assert_int_equal(fyn_control_request_parse("fynlo/v1/ctl/snapshot", big, FYN_CONTROL_MAX_BYTES, &r), 0);
	assert_non_null(r.problem);
	assert_null(strstr(r.problem, "JSON object"));   /* parsed; refused for its missing stream */
	fyn_control_request_clear(&r);
	free(big);
}

static void resume_streams_and_their_problems(void **state)
{
	struct fyn_control_request r = parse("fynlo/v1/ctl/resume",
			"{\"streams\": {\"r1\": 1840, \"platform\": 0, \"r2\": -1, \"r3\": 1.5, \"bad id\": 3, \"r4\": \"7\"}}");
	(void)state;
	assert_int_equal(r.verb, FYN_CTL_RESUME);
	assert_string_equal(r.verb_text, "resume");
	assert_null(r.problem);
	assert_int_equal(r.stream_count, 6);
	assert_string_equal(r.streams[0].id, "r1");
	assert_int_equal(r.streams[0].after_seq, 1840);
	assert_null(r.streams[0].problem);
	assert_string_equal(r.streams[1].id, "platform");
	assert_null(r.streams[1].problem);
	for (size_t i = 2; i < 6; i++) {
		assert_non_null(r.streams[i].problem);
	}
	assert_non_null(strstr(r.streams[2].problem, "integer >= 0"));
	assert_non_null(strstr(r.streams[3].problem, "integer >= 0"));
	assert_non_null(strstr(r.streams[4].problem, "restaurant ids"));
	fyn_control_request_clear(&r);
}

static void resume_needs_1_to_256_streams(void **state)
{
	const char *bad[] = { "{}", "{\"streams\": {}}", "{\"streams\": []}", "{\"streams\": {\"r1\": 0}}" };
	json_t *many = json_object(), *request = json_pack("{s:o}", "streams", many);
	char *text;
	struct fyn_control_request r;
	(void)state;
	for (size_t i = 0; i < 3; i++) {
		r = parse("fynlo/v1/ctl/resume", bad[i]);
		assert_non_null(r.problem);
		assert_int_equal(r.stream_count, 0);
		fyn_control_request_clear(&r);
	}
	for (int i = 0; i <= FYN_RESUME_MAX_STREAMS; i++) {
		char id[16];
		snprintf(id, sizeof(id), "r%d", i);
		json_object_set_new(many, id, json_integer(0));
	}
	text = json_dumps(request, JSON_COMPACT);
	r = parse("fynlo/v1/ctl/resume", text);   /* 257 */
	assert_non_null(r.problem);
	fyn_control_request_clear(&r);
	free(text);
	json_object_del(many, "r0");
	text = json_dumps(request, JSON_COMPACT);
	r = parse("fynlo/v1/ctl/resume", text);   /* 256 */
	assert_null(r.problem);
	assert_int_equal(r.stream_count, FYN_RESUME_MAX_STREAMS);
	fyn_control_request_clear(&r);
	free(text);
	json_decref(request);
}

static void snapshot_fields(void **state)
{
	const char *bad[] = { "{}", "{\"stream\": 5}", "{\"stream\": \"r1\", \"views\": \"orders\"}" };
	struct fyn_control_request r = parse("fynlo/v1/ctl/snapshot", "{\"stream\": \"r1\", \"views\": [\"orders\"]}");
	(void)state;
	assert_int_equal(r.verb, FYN_CTL_SNAPSHOT);
	assert_null(r.problem);
	assert_int_equal(r.stream_count, 1);
	assert_string_equal(r.streams[0].id, "r1");
	assert_null(r.streams[0].problem);
	assert_true(json_is_array(r.views));
	fyn_control_request_clear(&r);

	r = parse("fynlo/v1/ctl/snapshot", "{\"stream\": \"r1\"}");
	assert_null(r.problem);
	assert_null(r.views);
	fyn_control_request_clear(&r);

	r = parse("fynlo/v1/ctl/snapshot", "{\"stream\": \"../r1\"}");
	assert_null(r.problem);
	assert_non_null(r.streams[0].problem);
	fyn_control_request_clear(&r);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = parse("fynlo/v1/ctl/snapshot", bad[i]);
		assert_non_null(r.problem);
		fyn_control_request_clear(&r);
	}
}

static void token_field(void **state)
{
	struct fyn_control_request r = parse("fynlo/v1/ctl/token", "{\"token\": \"a.b.c\"}");
	(void)state;
	assert_int_equal(r.verb, FYN_CTL_TOKEN);
	assert_null(r.problem);
	assert_string_equal(r.token, "a.b.c");
	fyn_control_request_clear(&r);
	r = parse("fynlo/v1/ctl/token", "{\"token\": 7}");
	assert_non_null(r.problem);
	assert_null(r.token);
	fyn_control_request_clear(&r);
}

static void error_text_carries_verb_code_and_stream(void **state)
{
	const char *names[] = { "invalid", "forbidden", "unavailable", "busy" };
	char *text = fyn_control_error_text("snapshot", FYN_CONTROL_BUSY, "r1", "retry");
	json_t *doc = json_loads(text, 0, NULL);
	(void)state;
	assert_non_null(doc);
	assert_int_equal(json_object_size(doc), 4);
	assert_string_equal(json_string_value(json_object_get(doc, "verb")), "snapshot");
	assert_string_equal(json_string_value(json_object_get(doc, "code")), "busy");
	assert_string_equal(json_string_value(json_object_get(doc, "stream")), "r1");
	assert_string_equal(json_string_value(json_object_get(doc, "reason")), "retry");
	json_decref(doc);
	free(text);
	text = fyn_control_error_text("bogus", FYN_CONTROL_INVALID, NULL, "unknown");
	assert_string_equal(text, "{\"verb\":\"bogus\",\"code\":\"invalid\",\"reason\":\"unknown\"}");
	free(text);
	for (int c = FYN_CONTROL_INVALID; c <= FYN_CONTROL_BUSY; c++) {
		assert_string_equal(fyn_control_code_name((enum fyn_control_code)c), names[c]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(control_topics),
		cmocka_unit_test(unknown_verbs_are_invalid_and_named),
		cmocka_unit_test(hostile_verbs_are_echoed_safely),
		cmocka_unit_test(payload_must_be_a_small_json_object),
		cmocka_unit_test(resume_streams_and_their_problems),
		cmocka_unit_test(resume_needs_1_to_256_streams),
		cmocka_unit_test(snapshot_fields),
		cmocka_unit_test(token_field),
		cmocka_unit_test(error_text_carries_verb_code_and_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
