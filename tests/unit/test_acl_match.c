/*
 * test_acl_match.c: fyn_acl_check_topic, the per-delivery decision on a
 * concrete topic: placeholders, multi-restaurant tokens, hostile values,
 * '$' topics, access words and which rule wins when several match.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "acl.h"
#include "acl_load_or_fail.h"

static struct fyn_acl_identity staff_of(const char *const *restaurants, size_t count)
{
	return (struct fyn_acl_identity){ .sub = "alice", .role = "staff", .client_id = "till-1",
		.restaurants = restaurants, .restaurant_count = count };
}

static bool can_read(const struct fyn_acl *acl, const struct fyn_acl_identity *who, const char *topic)
{
	return fyn_acl_check_topic(acl, who, topic, FYN_ACCESS_READ).allowed;
}

static bool can_write(const struct fyn_acl *acl, const struct fyn_acl_identity *who, const char *topic)
{
	return fyn_acl_check_topic(acl, who, topic, FYN_ACCESS_WRITE).allowed;
}

static void restaurant_placeholder_covers_each_restaurant_of_the_token(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read ev/%r/redacted/#\n");
	const char *const two[] = { "r1", "r2" };
	struct fyn_acl_identity who = staff_of(two, 2);
	assert_true(can_read(acl, &who, "ev/r1/redacted/order/created"));
	assert_true(can_read(acl, &who, "ev/r2/redacted/order/created"));
	assert_true(can_read(acl, &who, "ev/r2/redacted"));
	assert_false(can_read(acl, &who, "ev/r3/redacted/order/created"));
	assert_false(can_read(acl, &who, "ev/r1/full/order/created"));
	assert_false(can_read(acl, &who, "ev/r1r2/redacted/x"));

	struct fyn_acl_identity nobody = staff_of(NULL, 0);
	assert_false(can_read(acl, &nobody, "ev/r1/redacted/order/created"));
	fyn_acl_free(acl);
}

static void a_placeholder_used_twice_takes_one_value(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read x/%r/y/%r\n");
	const char *const two[] = { "r1", "r2" };
	struct fyn_acl_identity who = staff_of(two, 2);
	assert_true(can_read(acl, &who, "x/r1/y/r1"));
	assert_true(can_read(acl, &who, "x/r2/y/r2"));
	assert_false(can_read(acl, &who, "x/r1/y/r2"));
	fyn_acl_free(acl);
}

static void sub_and_client_placeholders_match_only_their_own_values(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read client/%c/#\nallow write home/%u\n");
	struct fyn_acl_identity who = staff_of(NULL, 0);
	assert_true(can_read(acl, &who, "client/till-1/ack"));
	assert_false(can_read(acl, &who, "client/till-2/ack"));
	assert_true(can_write(acl, &who, "home/alice"));
	assert_false(can_write(acl, &who, "home/bob"));
	assert_false(can_read(acl, &who, "home/alice"));
	fyn_acl_free(acl);
}

static void hostile_restaurant_ids_never_match(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow readwrite x/%r/+\nallow read y/%r\n");
	const char *const hostile[] = { "", "+", "#", "r1/order", "$SYS", "platform", NULL };
	struct fyn_acl_identity who = staff_of(hostile, sizeof(hostile) / sizeof(hostile[0]));
	assert_false(can_read(acl, &who, "x//order"));
	assert_false(can_read(acl, &who, "x/r1/order"));
	assert_false(can_write(acl, &who, "x/r1/order"));
	assert_false(can_read(acl, &who, "x/platform/order"));
	assert_false(can_read(acl, &who, "y/"));
	assert_false(can_read(acl, &who, "x/$SYS/order"));
	/* A good restaurant next to hostile ones still works. */
	const char *const mixed[] = { "+", "r1" };
	struct fyn_acl_identity ok = staff_of(mixed, 2);
	assert_true(can_read(acl, &ok, "x/r1/order"));
	fyn_acl_free(acl);
}

static void hostile_sub_and_client_ids_never_match(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read client/%c/#\nallow read home/%u/#\n");
	const char *bad[] = { "", "+", "#", "a/b", "$SYS" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fyn_acl_identity who = { .sub = bad[i], .role = "staff", .client_id = bad[i] };
		assert_false(can_read(acl, &who, "client//ack"));
		assert_false(can_read(acl, &who, "client/a/b/ack"));
		assert_false(can_read(acl, &who, "home//x"));
		assert_false(can_read(acl, &who, "home/a/b"));
	}
	struct fyn_acl_identity missing = { .sub = NULL, .role = "staff", .client_id = NULL };
	assert_false(can_read(acl, &missing, "client//ack"));
	assert_false(can_read(acl, &missing, "home/"));
	fyn_acl_free(acl);
}

static void topics_with_wildcards_or_empty_are_denied(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow readwrite #\n");
	struct fyn_acl_identity who = staff_of(NULL, 0);
	assert_true(can_read(acl, &who, "a/b"));
	assert_false(can_read(acl, &who, "a/+"));
	assert_false(can_write(acl, &who, "a/#"));
	assert_false(can_read(acl, &who, "a/b+"));
	assert_false(can_read(acl, &who, ""));
	assert_false(can_read(acl, &who, NULL));
	assert_false(can_read(NULL, &who, "a/b"));
	assert_false(can_read(acl, NULL, "a/b"));
	fyn_acl_free(acl);
}

static void wildcards_never_reach_dollar_topics(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read #\nallow read +/broker/uptime\n"
		"role kitchen\nallow read $SYS/#\n");
	struct fyn_acl_identity staff = staff_of(NULL, 0);
	assert_false(can_read(acl, &staff, "$SYS/broker/uptime"));
	assert_false(can_read(acl, &staff, "$share/g/x"));
	assert_true(can_read(acl, &staff, "a/$SYS"));
	struct fyn_acl_identity kitchen = { .sub = "k", .role = "kitchen", .client_id = "kds" };
	assert_true(can_read(acl, &kitchen, "$SYS/broker/uptime"));
	assert_false(can_read(acl, &kitchen, "fynlo/v1/sys/metrics"));
	fyn_acl_free(acl);
}

static void mqtt_level_semantics_hold(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read a/#\nallow read b/+/c\nallow read d/+\n"
		"allow read e/f\n");
	struct fyn_acl_identity who = staff_of(NULL, 0);
	assert_true(can_read(acl, &who, "a"));          /* '#' also matches the parent */
	assert_true(can_read(acl, &who, "a/x/y/z"));
	assert_false(can_read(acl, &who, "ab"));
	assert_true(can_read(acl, &who, "b//c"));       /* empty levels are levels */
	assert_false(can_read(acl, &who, "b/c"));
	assert_false(can_read(acl, &who, "b/x/c/d"));
	assert_true(can_read(acl, &who, "d/"));
	assert_false(can_read(acl, &who, "d"));
	assert_false(can_read(acl, &who, "e/f/"));
	assert_false(can_read(acl, &who, "/e/f"));
	assert_true(can_read(acl, &who, "e/f"));
	fyn_acl_free(acl);
}

static void deep_topics_are_matched_past_the_outline(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\n"
		"allow read 1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/%c\n"
		"allow read deep/#\n");
	struct fyn_acl_identity who = staff_of(NULL, 0);
	assert_true(can_read(acl, &who, "1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/till-1"));
	assert_false(can_read(acl, &who, "1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/19/till-1"));
	assert_false(can_read(acl, &who, "1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/18/till-2"));
	assert_true(can_read(acl, &who, "deep/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t"));
	fyn_acl_free(acl);
}

static void access_words_grant_only_what_they_say(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read r\nallow write w\nallow readwrite rw\n"
		"deny write x\nallow readwrite x\n");
	struct fyn_acl_identity who = staff_of(NULL, 0);
	assert_true(can_read(acl, &who, "r"));
	assert_false(can_write(acl, &who, "r"));
	assert_true(can_write(acl, &who, "w"));
	assert_false(can_read(acl, &who, "w"));
	assert_true(can_read(acl, &who, "rw"));
	assert_true(can_write(acl, &who, "rw"));
	assert_true(can_read(acl, &who, "x"));     /* deny write does not block read */
	assert_false(can_write(acl, &who, "x"));
	fyn_acl_free(acl);
}

static void within_a_section_the_first_matching_rule_decides(void **state)
{
	(void)state;
	struct fyn_acl *acl = load(
		"role staff\n"                              /* 1 */
		"deny read ev/r1/redacted/order/secret\n"   /* 2 */
		"allow read ev/%r/redacted/#\n"             /* 3 */
		"deny read ev/%r/redacted/menu/#\n");       /* 4: never reached */
	const char *const one[] = { "r1" };
	struct fyn_acl_identity who = staff_of(one, 1);
	struct fyn_acl_decision carved = fyn_acl_check_topic(acl, &who,
		"ev/r1/redacted/order/secret", FYN_ACCESS_READ);
	assert_false(carved.allowed);
	assert_int_equal(carved.line, 2);
	struct fyn_acl_decision broad = fyn_acl_check_topic(acl, &who,
		"ev/r1/redacted/menu/updated", FYN_ACCESS_READ);
	assert_true(broad.allowed);
	assert_int_equal(broad.line, 3);
	struct fyn_acl_decision none = fyn_acl_check_topic(acl, &who, "ev/r2/redacted/x", FYN_ACCESS_READ);
	assert_false(none.allowed);
	assert_int_equal(none.line, 0);
	fyn_acl_free(acl);
}

static void the_user_section_is_consulted_before_the_role_section(void **state)
{
	(void)state;
	struct fyn_acl *acl = load(
		"role staff\n"                        /* 1 */
		"allow read ev/%r/redacted/#\n"       /* 2 */
		"deny read ev/%r/full/#\n"            /* 3 */
		"user alice\n"                        /* 4 */
		"deny read ev/%r/redacted/menu/#\n"   /* 5 */
		"allow read ev/%r/full/order/#\n");   /* 6 */
	const char *const one[] = { "r1" };
	struct fyn_acl_identity alice = staff_of(one, 1);
	struct fyn_acl_identity bob = alice;
	bob.sub = "bob";

	struct fyn_acl_decision d = fyn_acl_check_topic(acl, &alice, "ev/r1/redacted/menu/x", FYN_ACCESS_READ);
	assert_false(d.allowed);
	assert_int_equal(d.line, 5);
	d = fyn_acl_check_topic(acl, &alice, "ev/r1/full/order/created", FYN_ACCESS_READ);
	assert_true(d.allowed);
	assert_int_equal(d.line, 6);
	d = fyn_acl_check_topic(acl, &alice, "ev/r1/redacted/order/created", FYN_ACCESS_READ);
	assert_true(d.allowed);
	assert_int_equal(d.line, 2);   /* nothing in the user section: the role decides */
	d = fyn_acl_check_topic(acl, &alice, "ev/r1/full/menu/x", FYN_ACCESS_READ);
	assert_false(d.allowed);
	assert_int_equal(d.line, 3);

	assert_true(can_read(acl, &bob, "ev/r1/redacted/menu/x"));
	assert_false(can_read(acl, &bob, "ev/r1/full/order/created"));
	fyn_acl_free(acl);
}

static void user_sections_apply_whatever_the_role(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read s\nuser carol\nallow read u\n"
		"user alice\nallow read a\nuser bob\nallow read b\n");
	struct fyn_acl_identity carol = { .sub = "carol", .role = "kitchen", .client_id = "kds" };
	assert_true(can_read(acl, &carol, "u"));
	assert_false(can_read(acl, &carol, "s"));
	assert_false(can_read(acl, &carol, "a"));
	carol.role = "chef";   /* unknown role: only the user section counts */
	assert_true(can_read(acl, &carol, "u"));
	carol.role = NULL;
	assert_true(can_read(acl, &carol, "u"));
	struct fyn_acl_identity bob = { .sub = "bob", .role = "staff", .client_id = "c" };
	assert_true(can_read(acl, &bob, "b"));
	assert_true(can_read(acl, &bob, "s"));
	assert_false(can_read(acl, &bob, "u"));
	fyn_acl_free(acl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(restaurant_placeholder_covers_each_restaurant_of_the_token),
		cmocka_unit_test(a_placeholder_used_twice_takes_one_value),
		cmocka_unit_test(sub_and_client_placeholders_match_only_their_own_values),
		cmocka_unit_test(hostile_restaurant_ids_never_match),
		cmocka_unit_test(hostile_sub_and_client_ids_never_match),
		cmocka_unit_test(topics_with_wildcards_or_empty_are_denied),
		cmocka_unit_test(wildcards_never_reach_dollar_topics),
		cmocka_unit_test(mqtt_level_semantics_hold),
		cmocka_unit_test(deep_topics_are_matched_past_the_outline),
		cmocka_unit_test(access_words_grant_only_what_they_say),
		cmocka_unit_test(within_a_section_the_first_matching_rule_decides),
		cmocka_unit_test(the_user_section_is_consulted_before_the_role_section),
		cmocka_unit_test(user_sections_apply_whatever_the_role),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
