/*
 * test_json_fields.c: the load generators' scan of top-level JSON fields
 * (tools/json_fields.c): a key is found only at the top level, never in a
 * nested value or inside a string, whatever the white space; strings with
 * escapes or too long, non-integers and missing keys are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "json_fields.h"

static long long int_of(const char *text, const char *key)
{
	return json_int_field(text, strlen(text), key);
}

static bool string_of(const char *text, const char *key, char *out, size_t size)
{
	return json_string_field(text, strlen(text), key, out, size);
}

static bool true_of(const char *text, const char *key)
{
	return json_true_field(text, strlen(text), key);
}

static void top_level_fields_are_found(void **state)
{
	const char *ack = "{\"id\":\"7c0e\",\"status\":\"accepted\",\"seq\":42}";
	char out[16];
	(void)state;
	assert_int_equal(int_of(ack, "seq"), 42);
	assert_true(string_of(ack, "status", out, sizeof(out)));
	assert_string_equal(out, "accepted");
	assert_true(string_of(ack, "id", out, sizeof(out)));
	assert_string_equal(out, "7c0e");
	assert_int_equal(int_of(" { \"seq\" :\n 7 , \"x\": 1}", "seq"), 7);
}

static void nested_and_quoted_keys_are_not_top_level(void **state)
{
	/* seq appears in a nested object, in an array and inside strings
	 * (one with an escaped quote) before the real one */
	const char *event = "{\"payload\":{\"seq\":1,\"items\":[{\"seq\":2}]},"
			"\"note\":\"\\\"seq\\\":3\",\"label\":\"seq\",\"seq\":4}";
	(void)state;
	assert_int_equal(int_of(event, "seq"), 4);
	assert_int_equal(int_of("{\"payload\":{\"seq\":1}}", "seq"), -1);
	assert_int_equal(int_of("{\"a\":\"seq\",\"b\":2}", "seq"), -1);
	assert_false(true_of("{\"p\":{\"replay\":true},\"replay\":false}", "replay"));
	assert_true(true_of("{\"p\":{\"replay\":false},\"replay\":true}", "replay"));
}

static void only_plain_integers_count(void **state)
{
	(void)state;
	assert_int_equal(int_of("{\"seq\":-1}", "seq"), -1);
	assert_int_equal(int_of("{\"seq\":1.5}", "seq"), -1);
	assert_int_equal(int_of("{\"seq\":1e3}", "seq"), -1);
	assert_int_equal(int_of("{\"seq\":\"12\"}", "seq"), -1);
	assert_int_equal(int_of("{\"seq\":99999999999999999999}", "seq"), -1);
	assert_int_equal(int_of("{\"seq\":9223372036854775799}", "seq"), 9223372036854775799LL);
	assert_int_equal(int_of("{\"other\":1}", "seq"), -1);
}

static void strings_escaped_or_too_long_are_refused(void **state)
{
	char out[8];
	(void)state;
	assert_false(string_of("{\"id\":\"a\\\"b\"}", "id", out, sizeof(out)));
	assert_false(string_of("{\"id\":\"12345678\"}", "id", out, sizeof(out)));   /* 8 + NUL > 8 */
	assert_true(string_of("{\"id\":\"1234567\"}", "id", out, sizeof(out)));
	assert_string_equal(out, "1234567");
	assert_false(string_of("{\"id\":12}", "id", out, sizeof(out)));
	assert_false(string_of("{\"id\":\"unterminated", "id", out, sizeof(out)));
}

static void truncated_text_is_never_read_past_its_length(void **state)
{
	const char *text = "{\"seq\":12345,\"id\":\"abc\"}";
	char out[8];
	(void)state;
	/* the length stops the scan inside the value: the digits seen so far */
	assert_int_equal(json_int_field(text, 9, "seq"), 12);
	assert_int_equal(json_int_field(text, 6, "seq"), -1);
	assert_false(json_string_field(text, 21, "id", out, sizeof(out)));
	assert_false(json_true_field("{\"replay\":tru", 13, "replay"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(top_level_fields_are_found),
		cmocka_unit_test(nested_and_quoted_keys_are_not_top_level),
		cmocka_unit_test(only_plain_integers_count),
		cmocka_unit_test(strings_escaped_or_too_long_are_refused),
		cmocka_unit_test(truncated_text_is_never_read_past_its_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
