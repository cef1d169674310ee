/*
 * test_acl_subscribe.c: fyn_acl_check_subscription. A filter is granted only
 * when one allow rule contains every topic it could match and no deny rule
 * before that allow overlaps it; '$' topics, shared subscriptions and
 * malformed filters included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "acl.h"
#include "acl_load_or_fail.h"

static const char *const owner_restaurants[] = { "r1" };
static const struct fyn_acl_identity owner_of_r1 = {
	.sub = "olivia", .role = "restaurant_owner", .client_id = "office-1",
	.restaurants = owner_restaurants, .restaurant_count = 1,
};

static bool may_subscribe(const struct fyn_acl *acl, const struct fyn_acl_identity *who, const char *filter)
{
	return fyn_acl_check_subscription(acl, who, filter).allowed;
}

static void an_allow_grants_only_filters_it_contains(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role restaurant_owner\nallow read fynlo/v1/ev/%r/full/#\n");
	const struct fyn_acl_identity *who = &owner_of_r1;
	assert_true(may_subscribe(acl, who, "fynlo/v1/ev/r1/full/#"));
	assert_true(may_subscribe(acl, who, "fynlo/v1/ev/r1/full/order/created"));
	assert_true(may_subscribe(acl, who, "fynlo/v1/ev/r1/full/+/created"));
	assert_true(may_subscribe(acl, who, "fynlo/v1/ev/r1/full/order/#"));
	assert_true(may_subscribe(acl, who, "fynlo/v1/ev/r1/full"));
	assert_false(may_subscribe(acl, who, "fynlo/v1/ev/r1/+/order/created"));
	assert_false(may_subscribe(acl, who, "fynlo/v1/ev/+/full/#"));
	assert_false(may_subscribe(acl, who, "fynlo/v1/ev/r2/full/#"));
	assert_false(may_subscribe(acl, who, "fynlo/v1/ev/r1/#"));
	assert_false(may_subscribe(acl, who, "fynlo/v1/#"));
	assert_false(may_subscribe(acl, who, "#"));
	assert_false(may_subscribe(acl, who, "+/v1/ev/r1/full/#"));
	assert_false(may_subscribe(acl, who, "fynlo/v1/ev/r1"));
	fyn_acl_free(acl);
}

static void a_wildcard_level_needs_a_wildcard_rule(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role restaurant_owner\nallow read fynlo/v1/ev/%r/+/#\n"
		"allow read exact/one\n");
	const struct fyn_acl_identity *who = &owner_of_r1;
	assert_true(may_subscribe(acl, who, "fynlo/v1/ev/r1/+/order/created"));
	assert_true(may_subscribe(acl, who, "fynlo/v1/ev/r1/redacted/#"));
	assert_false(may_subscribe(acl, who, "fynlo/v1/ev/r1/#"));    /* includes fynlo/v1/ev/r1 itself */
	assert_true(may_subscribe(acl, who, "exact/one"));
	assert_false(may_subscribe(acl, who, "exact/+"));
	assert_false(may_subscribe(acl, who, "exact/one/#"));
	assert_false(may_subscribe(acl, who, "exact/#"));
	fyn_acl_free(acl);
}

static void every_restaurant_of_the_token_is_tried(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read ev/%r/redacted/#\n");
	const char *const two[] = { "r1", "r2" };
	struct fyn_acl_identity who = { .sub = "s", .role = "staff", .client_id = "c",
		.restaurants = two, .restaurant_count = 2 };
	assert_true(may_subscribe(acl, &who, "ev/r1/redacted/#"));
	assert_true(may_subscribe(acl, &who, "ev/r2/redacted/#"));
	assert_false(may_subscribe(acl, &who, "ev/+/redacted/#"));
	assert_false(may_subscribe(acl, &who, "ev/r3/redacted/#"));
	fyn_acl_free(acl);
}

static void a_deny_before_the_allow_that_overlaps_refuses(void **state)
{
	(void)state;
	struct fyn_acl *acl = load(
		"role restaurant_owner\n"                         /* 1 */
		"deny read fynlo/v1/ev/%r/full/order/secret\n"    /* 2 */
		"allow read fynlo/v1/ev/%r/full/#\n"              /* 3 */
		"deny read fynlo/v1/ev/%r/full/menu/#\n");        /* 4: after the allow */
	const struct fyn_acl_identity *who = &owner_of_r1;
	struct fyn_acl_decision d = fyn_acl_check_subscription(acl, who, "fynlo/v1/ev/r1/full/#");
	assert_false(d.allowed);
	assert_int_equal(d.line, 2);
	d = fyn_acl_check_subscription(acl, who, "fynlo/v1/ev/r1/full/order/+");
	assert_false(d.allowed);
	assert_int_equal(d.line, 2);
	d = fyn_acl_check_subscription(acl, who, "fynlo/v1/ev/r1/full/menu/#");
	assert_true(d.allowed);
	assert_int_equal(d.line, 3);
	d = fyn_acl_check_subscription(acl, who, "fynlo/v1/ev/r1/full/order/created");
	assert_true(d.allowed);
	d = fyn_acl_check_subscription(acl, who, "fynlo/v1/ev/r2/full/order/secret");
	assert_false(d.allowed);
	assert_int_equal(d.line, 0);
	fyn_acl_free(acl);
}

static void a_deny_of_the_parent_topic_refuses_the_hash_filter(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role restaurant_owner\ndeny read fynlo/v1/ev/%r/full\n"
		"allow read fynlo/v1/ev/%r/full/#\n");
	const struct fyn_acl_identity *who = &owner_of_r1;
	assert_false(may_subscribe(acl, who, "fynlo/v1/ev/r1/full/#"));   /* '#' matches the parent */
	assert_true(may_subscribe(acl, who, "fynlo/v1/ev/r1/full/+"));
	assert_true(may_subscribe(acl, who, "fynlo/v1/ev/r1/full/order/#"));
	fyn_acl_free(acl);
}

static void a_write_rule_grants_no_subscription(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\ndeny write a/b\nallow write a/#\nallow readwrite c/#\n");
	struct fyn_acl_identity who = { .sub = "s", .role = "staff", .client_id = "c" };
	assert_false(may_subscribe(acl, &who, "a/#"));
	assert_true(may_subscribe(acl, &who, "c/#"));
	fyn_acl_free(acl);
}

static void a_union_of_rules_is_not_enough(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read a/x\nallow read a/+/#\n");
	struct fyn_acl_identity who = { .sub = "s", .role = "staff", .client_id = "c" };
	assert_true(may_subscribe(acl, &who, "a/x"));
	assert_false(may_subscribe(acl, &who, "a/#"));   /* "a" itself is covered by neither */
	fyn_acl_free(acl);
}

static void dollar_topics_are_kept_out_of_wildcards(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read #\n"
		"role kitchen\ndeny read #\nallow read $SYS/#\n");
	struct fyn_acl_identity staff = { .sub = "s", .role = "staff", .client_id = "c" };
	assert_true(may_subscribe(acl, &staff, "#"));
	assert_true(may_subscribe(acl, &staff, "+/x"));
	assert_false(may_subscribe(acl, &staff, "$SYS/#"));
	assert_false(may_subscribe(acl, &staff, "$SYS/broker/uptime"));
	struct fyn_acl_identity kitchen = { .sub = "k", .role = "kitchen", .client_id = "k" };
	assert_true(may_subscribe(acl, &kitchen, "$SYS/#"));     /* 'deny #' does not reach '$SYS' */
	assert_false(may_subscribe(acl, &kitchen, "#"));
	assert_false(may_subscribe(acl, &kitchen, "+/broker"));
	fyn_acl_free(acl);
}

static void shared_subscriptions_are_checked_on_their_filter(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role restaurant_owner\nallow read fynlo/v1/ev/%r/full/#\n"
		"allow read $share/#\n");
	const struct fyn_acl_identity *who = &owner_of_r1;
	assert_true(may_subscribe(acl, who, "$share/g/fynlo/v1/ev/r1/full/#"));
	assert_false(may_subscribe(acl, who, "$share/g/fynlo/v1/ev/r2/full/#"));
	assert_false(may_subscribe(acl, who, "$share/g/#"));
	assert_false(may_subscribe(acl, who, "$share/g"));
	assert_false(may_subscribe(acl, who, "$share/g/"));
	assert_false(may_subscribe(acl, who, "$share//fynlo/v1/ev/r1/full/#"));
	assert_false(may_subscribe(acl, who, "$share/g+/fynlo/v1/ev/r1/full/#"));
	assert_false(may_subscribe(acl, who, "$share/#/fynlo/v1/ev/r1/full/#"));
	fyn_acl_free(acl);
}

static void malformed_filters_are_denied(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read #\nallow read $SYS/#\n");
	struct fyn_acl_identity who = { .sub = "s", .role = "staff", .client_id = "c" };
	const char *bad[] = { "", "a/#/b", "#/a", "a+", "a/b+/c", "a/#b", "+a", "##" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (may_subscribe(acl, &who, bad[i]))
			print_error("filter '%s' was granted\n", bad[i]);
		assert_false(may_subscribe(acl, &who, bad[i]));
	}
	assert_false(may_subscribe(acl, &who, NULL));
	assert_false(may_subscribe(NULL, &who, "a"));
	assert_false(may_subscribe(acl, NULL, "a"));
	assert_true(may_subscribe(acl, &who, "a//b"));   /* empty levels are valid */
	assert_true(may_subscribe(acl, &who, "/"));
	fyn_acl_free(acl);
}

static void hostile_values_cannot_widen_a_subscription(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read client/%c/#\nallow read ev/%r/redacted/#\n"
		"allow read home/%u\n");
	const char *const hostile[] = { "+", "#", "" };
	struct fyn_acl_identity who = { .sub = "+", .role = "staff", .client_id = "+",
		.restaurants = hostile, .restaurant_count = 3 };
	assert_false(may_subscribe(acl, &who, "client/+/#"));
	assert_false(may_subscribe(acl, &who, "ev/+/redacted/#"));
	assert_false(may_subscribe(acl, &who, "ev/#"));
	assert_false(may_subscribe(acl, &who, "ev//redacted/#"));
	assert_false(may_subscribe(acl, &who, "home/+"));
	who.client_id = "#";
	who.sub = "#";
	assert_false(may_subscribe(acl, &who, "client/#"));
	assert_false(may_subscribe(acl, &who, "home/#"));
	fyn_acl_free(acl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_allow_grants_only_filters_it_contains),
		cmocka_unit_test(a_wildcard_level_needs_a_wildcard_rule),
		cmocka_unit_test(every_restaurant_of_the_token_is_tried),
		cmocka_unit_test(a_deny_before_the_allow_that_overlaps_refuses),
		cmocka_unit_test(a_deny_of_the_parent_topic_refuses_the_hash_filter),
		cmocka_unit_test(a_write_rule_grants_no_subscription),
		cmocka_unit_test(a_union_of_rules_is_not_enough),
		cmocka_unit_test(dollar_topics_are_kept_out_of_wildcards),
		cmocka_unit_test(shared_subscriptions_are_checked_on_their_filter),
		cmocka_unit_test(malformed_filters_are_denied),
		cmocka_unit_test(hostile_values_cannot_widen_a_subscription),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
