/*
 * test_acl_filters.c: fyn_acl_read_filters, the subscriptions a client is
 * told it may make (plugin/session_info.c): placeholders bound, one filter
 * per restaurant for %r, write rules and denied filters left out, and every
 * listed filter is one fyn_acl_check_subscription grants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "acl_load_or_fail.h"

#define MAX_FILTERS 16

struct listing {
	char filters[MAX_FILTERS][128];
	size_t count;
	int fail_after;   /* emit fails on this call (1-based), 0 for never */
};

static int collect(const char *filter, void *ctx)
{
	struct listing *l = ctx;
	if (l->fail_after > 0 && (int)l->count + 1 == l->fail_after)
		return -1;
	assert_true(l->count < MAX_FILTERS);
	snprintf(l->filters[l->count++], sizeof(l->filters[0]), "%s", filter);
	return 0;
}

static const char *const two_restaurants[] = { "r1", "r2" };

static void placeholders_are_bound_once_per_restaurant(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role kitchen\n"
			"allow write fynlo/v1/in/%r/order/updated\n"
			"allow read fynlo/v1/client/%c/#\n"
			"allow read fynlo/v1/ev/%r/redacted/order/#\n"
			"allow read fynlo/v1/user/%u\n");
	const struct fyn_acl_identity who = { .sub = "kim", .role = "kitchen", .client_id = "kds-1",
		.restaurants = two_restaurants, .restaurant_count = 2 };
	struct listing l = { .count = 0 };

	assert_int_equal(fyn_acl_read_filters(acl, &who, collect, &l), 0);
	assert_int_equal(l.count, 4);
	assert_string_equal(l.filters[0], "fynlo/v1/client/kds-1/#");
	assert_string_equal(l.filters[1], "fynlo/v1/ev/r1/redacted/order/#");
	assert_string_equal(l.filters[2], "fynlo/v1/ev/r2/redacted/order/#");
	assert_string_equal(l.filters[3], "fynlo/v1/user/kim");
	for (size_t i = 0; i < l.count; i++)
		assert_true(fyn_acl_check_subscription(acl, &who, l.filters[i]).allowed);
	fyn_acl_free(acl);
}

static void an_earlier_deny_leaves_a_filter_out(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\n"
			"deny read fynlo/v1/ev/r2/#\n"
			"allow read fynlo/v1/ev/%r/redacted/#\n"
			"allow read fynlo/v1/presence/+/+\n");
	const struct fyn_acl_identity who = { .sub = "sam", .role = "staff", .client_id = "till-1",
		.restaurants = two_restaurants, .restaurant_count = 2 };
	struct listing l = { .count = 0 };

	assert_int_equal(fyn_acl_read_filters(acl, &who, collect, &l), 0);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.filters[0], "fynlo/v1/ev/r1/redacted/#");
	assert_string_equal(l.filters[1], "fynlo/v1/presence/+/+");
	fyn_acl_free(acl);
}

static void the_user_section_comes_first(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("user auditor\nallow read fynlo/v1/sys/metrics\n"
			"role manager\nallow read fynlo/v1/ev/%r/redacted/#\n");
	const struct fyn_acl_identity who = { .sub = "auditor", .role = "manager", .client_id = "a-1",
		.restaurants = two_restaurants, .restaurant_count = 1 };
	struct listing l = { .count = 0 };

	assert_int_equal(fyn_acl_read_filters(acl, &who, collect, &l), 0);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.filters[0], "fynlo/v1/sys/metrics");
	assert_string_equal(l.filters[1], "fynlo/v1/ev/r1/redacted/#");
	fyn_acl_free(acl);
}

static void unsafe_values_and_unknown_roles_give_nothing(void **state)
{
	(void)state;
	static const char *const hostile[] = { "r1/#", "platform" };
	struct fyn_acl *acl = load("role staff\nallow read fynlo/v1/ev/%r/redacted/#\n");
	const struct fyn_acl_identity who = { .sub = "sam", .role = "staff", .client_id = "till-1",
		.restaurants = hostile, .restaurant_count = 2 };
	const struct fyn_acl_identity stranger = { .sub = "x", .role = "chef", .client_id = "c" };
	struct listing l = { .count = 0 };

	assert_int_equal(fyn_acl_read_filters(acl, &who, collect, &l), 0);
	assert_int_equal(fyn_acl_read_filters(acl, &stranger, collect, &l), 0);
	assert_int_equal(l.count, 0);
	fyn_acl_free(acl);
}

static void a_failing_emit_stops_the_listing(void **state)
{
	(void)state;
	struct fyn_acl *acl = load("role staff\nallow read a/%r\nallow read b\n");
	const struct fyn_acl_identity who = { .sub = "sam", .role = "staff", .client_id = "till-1",
		.restaurants = two_restaurants, .restaurant_count = 2 };
	struct listing l = { .count = 0, .fail_after = 2 };

	assert_int_equal(fyn_acl_read_filters(acl, &who, collect, &l), -1);
	assert_int_equal(l.count, 1);
	assert_int_equal(fyn_acl_read_filters(NULL, &who, collect, &l), -1);
	fyn_acl_free(acl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(placeholders_are_bound_once_per_restaurant),
		cmocka_unit_test(an_earlier_deny_leaves_a_filter_out),
		cmocka_unit_test(the_user_section_comes_first),
		cmocka_unit_test(unsafe_values_and_unknown_roles_give_nothing),
		cmocka_unit_test(a_failing_emit_stops_the_listing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
