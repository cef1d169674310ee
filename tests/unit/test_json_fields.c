/*
 * test_json_fields.c: the load generators' reader of top-level JSON fields
 * (tools/json_fields.c, on jsmn): a key is found only among the object's
 * own members, never in a nested value or inside a string, whatever the
 * white space; strings with escapes or too long, non-integers, missing keys
 * and texts that are not exactly one JSON object are refused; a reader is
 * reused across texts and grows for large ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_fields.h"

static struct json_fields *f;

static int make_reader(void **state)
{
	(void)state;
	f = json_fields_new();
	return f ? 0 : -1;
}

static int free_reader(void **state)
{
	(void)state;
	json_fields_free(f);
	return 0;
}

static bool read_text(const char *text)
{
	return json_fields_read(f, text, strlen(text));
}

/* key's integer in text, or -999 when refused. */
static long long int_in(const char *text, const char *key)
{
	long long v;
	return read_text(text) && json_fields_int(f, key, &v) ? v : -999;
}

static void top_level_fields_are_found(void **state)
{
	char out[16];
	long long seq;
	(void)state;
	assert_true(read_text("{\"id\":\"7c0e\",\"status\":\"accepted\",\"seq\":42}"));
	assert_true(json_fields_int(f, "seq", &seq));
	assert_int_equal(seq, 42);
	assert_true(json_fields_string(f, "status", out, sizeof(out)));
	assert_string_equal(out, "accepted");
	assert_true(json_fields_string(f, "id", out, sizeof(out)));
	assert_string_equal(out, "7c0e");
	assert_false(json_fields_string(f, "code", out, sizeof(out)));
	assert_int_equal(int_in(" { \"seq\" :\n 7 , \"x\": 1}\n", "seq"), 7);
}

static void nested_and_quoted_keys_are_not_top_level(void **state)
{
	(void)state;
	/* seq appears in a nested object, in an array and inside strings
	 * (one with an escaped quote) before the real one */
	assert_int_equal(int_in("{\"payload\":{\"seq\":1,\"items\":[{\"seq\":2}]},"
			"\"note\":\"\\\"seq\\\":3\",\"label\":\"seq\",\"seq\":4}", "seq"), 4);
	assert_int_equal(int_in("{\"payload\":{\"seq\":1}}", "seq"), -999);
	assert_int_equal(int_in("{\"a\":\"seq\",\"b\":2}", "seq"), -999);
	assert_true(read_text("{\"p\":{\"replay\":true},\"replay\":false}"));
	assert_false(json_fields_true(f, "replay"));
	assert_true(read_text("{\"p\":{\"replay\":false},\"replay\":true}"));
	assert_true(json_fields_true(f, "replay"));
	assert_true(read_text("{\"replay\":\"true\"}"));
	assert_false(json_fields_true(f, "replay"));
}

static void only_json_integers_count(void **state)
{
	(void)state;
	assert_int_equal(int_in("{\"seq\":-1}", "seq"), -1);
	assert_int_equal(int_in("{\"seq\":0}", "seq"), 0);
	assert_int_equal(int_in("{\"seq\":1.5}", "seq"), -999);
	assert_int_equal(int_in("{\"seq\":1e3}", "seq"), -999);
	assert_int_equal(int_in("{\"seq\":012}", "seq"), -999);
	assert_int_equal(int_in("{\"seq\":\"12\"}", "seq"), -999);
	assert_int_equal(int_in("{\"seq\":true}", "seq"), -999);
	assert_int_equal(int_in("{\"seq\":99999999999999999999}", "seq"), -999);
	assert_int_equal(int_in("{\"seq\":9223372036854775807}", "seq"), 9223372036854775807LL);
}

static void strings_escaped_or_too_long_are_refused(void **state)
{
	char out[8];
	(void)state;
	assert_true(read_text("{\"a\":\"x\\\"y\",\"b\":\"12345678\",\"c\":\"1234567\",\"d\":12}"));
	assert_false(json_fields_string(f, "a", out, sizeof(out)));
	assert_false(json_fields_string(f, "b", out, sizeof(out)));   /* 8 + NUL > 8 */
	assert_true(json_fields_string(f, "c", out, sizeof(out)));
	assert_string_equal(out, "1234567");
	assert_false(json_fields_string(f, "d", out, sizeof(out)));
}

static void only_one_whole_object_is_read(void **state)
{
	const char *text = "{\"seq\":12345,\"id\":\"abc\"}";
	(void)state;
	assert_false(json_fields_read(f, text, 9));               /* cut inside */
	assert_int_equal(int_in("{\"seq\":1} {\"seq\":2}", "seq"), -999);   /* two */
	assert_int_equal(int_in("[{\"seq\":1}]", "seq"), -999);   /* not an object */
	assert_int_equal(int_in("{seq:1}", "seq"), -999);
	assert_int_equal(int_in("", "seq"), -999);
	/* a refused text leaves nothing behind for the next lookups */
	assert_true(read_text("{\"seq\":5}"));
	assert_false(read_text("{\"seq\":6"));
	assert_false(json_fields_true(f, "seq"));
	assert_int_equal(int_in(text, "seq"), 12345);
}

static void large_objects_grow_the_reader(void **state)
{
	enum { MEMBERS = 3000 };
	size_t size = MEMBERS * 24 + 32, at = 0;
	char *text = malloc(size);
	(void)state;
	assert_non_null(text);
	text[at++] = '{';
	for (int i = 0; i < MEMBERS; i++) {
		at += (size_t)snprintf(text + at, size - at, "\"k%d\":[%d],", i, i);
	}
	at += (size_t)snprintf(text + at, size - at, "\"seq\":%d}", MEMBERS);
	assert_int_equal(int_in(text, "seq"), MEMBERS);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(top_level_fields_are_found),
		cmocka_unit_test(nested_and_quoted_keys_are_not_top_level),
		cmocka_unit_test(only_json_integers_count),
		cmocka_unit_test(strings_escaped_or_too_long_are_refused),
		cmocka_unit_test(only_one_whole_object_is_read),
		cmocka_unit_test(large_objects_grow_the_reader),
	};
	return cmocka_run_group_tests(tests, make_reader, free_reader);
}
