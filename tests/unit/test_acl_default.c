/*
 * test_acl_default.c: the shipped acl/fynsync.acl implements the product's
 * rules (protocol.md): own restaurants only, owners alone see the `full`
 * view, kitchens only move orders along, only the platform owner writes the
 * platform stream, reads every restaurant and the metrics, and nothing
 * outside fynlo/v1/ (nor $SYS) is granted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

static const char *const roles[] = { "platform_owner", "restaurant_owner", "manager", "staff", "kitchen" };
static const char *const non_owners[] = { "manager", "staff", "kitchen" };
static const char *const r1_only[] = { "r1" };
static const char *const r1_and_r2[] = { "r1", "r2" };

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static int load_default(void **state)
{
	const char *root = getenv("FYNSYNC_SOURCE_DIR");
	assert_non_null(root);
	char path[4096];
	snprintf(path, sizeof(path), "%s/acl/fynsync.acl", root);
	char err[512] = "";
	struct fyn_acl *acl = fyn_acl_load_file(path, err, sizeof(err));
	if (acl == NULL)
		print_error("%s\n", err);
	*state = acl;
	return acl == NULL ? -1 : 0;
}

static int free_default(void **state)
{
	fyn_acl_free(*state);
	return 0;
}

static struct fyn_acl_identity member(const char *role)
{
	bool platform = strcmp(role, "platform_owner") == 0;
	return (struct fyn_acl_identity){ .sub = "u1", .role = role, .client_id = "dev-1",
		.restaurants = platform ? NULL : r1_and_r2, .restaurant_count = platform ? 0 : 2 };
}

static bool reads(void **state, const char *role, const char *topic)
{
	struct fyn_acl_identity who = member(role);
	return fyn_acl_check_topic(*state, &who, topic, FYN_ACCESS_READ).allowed;
}

static bool writes(void **state, const char *role, const char *topic)
{
	struct fyn_acl_identity who = member(role);
	return fyn_acl_check_topic(*state, &who, topic, FYN_ACCESS_WRITE).allowed;
}

static bool subscribes(void **state, const char *role, const char *filter)
{
	struct fyn_acl_identity who = member(role);
	return fyn_acl_check_subscription(*state, &who, filter).allowed;
}

static const char *view_name_of(void **state, const char *role)
{
	struct fyn_acl_identity who = member(role);
	int view = fyn_acl_view_for(*state, &who);
	return view < 0 ? "(none)" : fyn_acl_view_name(*state, (size_t)view);
}

static void the_file_defines_full_and_redacted_views(void **state)
{
	size_t count = 0;
	assert_int_equal(fyn_acl_view_count(*state), 2);
	assert_string_equal(fyn_acl_view_name(*state, 0), "full");
	fyn_acl_view_removed_keys(*state, 0, &count);
	assert_int_equal(count, 0);
	assert_string_equal(fyn_acl_view_name(*state, 1), "redacted");
	const char *const *keys = fyn_acl_view_removed_keys(*state, 1, &count);
	assert_int_equal(count, 2);
	assert_string_equal(keys[0], "cost");
	assert_string_equal(keys[1], "profit_margin");
}

static void owners_receive_full_and_everyone_else_redacted(void **state)
{
	assert_string_equal(view_name_of(state, "platform_owner"), "full");
	assert_string_equal(view_name_of(state, "restaurant_owner"), "full");
	for (size_t i = 0; i < COUNT(non_owners); i++)
		assert_string_equal(view_name_of(state, non_owners[i]), "redacted");
}

static void non_owners_never_read_the_full_view(void **state)
{
	for (size_t i = 0; i < COUNT(non_owners); i++) {
		const char *role = non_owners[i];
		assert_false(reads(state, role, "fynlo/v1/ev/r1/full/order/created"));
		assert_false(reads(state, role, "fynlo/v1/ev/platform/full/platform/announced"));
		assert_false(subscribes(state, role, "fynlo/v1/ev/r1/full/#"));
		assert_false(subscribes(state, role, "fynlo/v1/ev/r1/+/order/created"));
		assert_false(subscribes(state, role, "fynlo/v1/ev/r1/#"));
		assert_true(reads(state, role, "fynlo/v1/ev/r1/redacted/order/created"));
		assert_true(reads(state, role, "fynlo/v1/ev/r2/redacted/order/created"));
	}
}

static void owners_read_the_full_view_of_their_restaurants(void **state)
{
	assert_true(reads(state, "restaurant_owner", "fynlo/v1/ev/r1/full/order/created"));
	assert_true(subscribes(state, "restaurant_owner", "fynlo/v1/ev/r2/full/#"));
	assert_true(writes(state, "restaurant_owner", "fynlo/v1/in/r1/menu/updated"));
	assert_true(writes(state, "restaurant_owner", "fynlo/v1/in/r2/employee/clocked_in"));
	assert_false(writes(state, "restaurant_owner", "fynlo/v1/in/platform/platform/announced"));
}

static void other_restaurants_are_out_of_reach(void **state)
{
	for (size_t i = 1; i < COUNT(roles); i++) {
		const char *role = roles[i];
		assert_false(reads(state, role, "fynlo/v1/ev/r3/redacted/order/created"));
		assert_false(reads(state, role, "fynlo/v1/ev/r3/full/order/created"));
		assert_false(writes(state, role, "fynlo/v1/in/r3/order/created"));
		assert_false(writes(state, role, "fynlo/v1/in/r3/order/updated"));
		assert_false(reads(state, role, "fynlo/v1/presence/r3/dev-9"));
		assert_false(subscribes(state, role, "fynlo/v1/ev/+/redacted/#"));
		assert_false(subscribes(state, role, "fynlo/v1/presence/#"));
	}
	struct fyn_acl_identity staff_of_r1 = member("staff");
	staff_of_r1.restaurants = r1_only;
	staff_of_r1.restaurant_count = 1;
	assert_false(fyn_acl_check_topic(*state, &staff_of_r1, "fynlo/v1/ev/r2/redacted/order/created",
		FYN_ACCESS_READ).allowed);
	assert_true(fyn_acl_check_topic(*state, &staff_of_r1, "fynlo/v1/ev/r1/redacted/order/created",
		FYN_ACCESS_READ).allowed);
}

static void kitchens_only_read_and_update_orders(void **state)
{
	assert_true(reads(state, "kitchen", "fynlo/v1/ev/r1/redacted/order/created"));
	assert_true(subscribes(state, "kitchen", "fynlo/v1/ev/r1/redacted/order/#"));
	assert_false(reads(state, "kitchen", "fynlo/v1/ev/r1/redacted/menu/updated"));
	assert_false(subscribes(state, "kitchen", "fynlo/v1/ev/r1/redacted/#"));
	assert_true(writes(state, "kitchen", "fynlo/v1/in/r1/order/updated"));
	assert_false(writes(state, "kitchen", "fynlo/v1/in/r1/order/created"));
	assert_false(writes(state, "kitchen", "fynlo/v1/in/r1/menu/updated"));
	assert_false(writes(state, "kitchen", "fynlo/v1/in/r1/inventory/adjusted"));
}

static void staff_write_orders_and_inventory_only(void **state)
{
	assert_true(writes(state, "staff", "fynlo/v1/in/r1/order/created"));
	assert_true(writes(state, "staff", "fynlo/v1/in/r2/order/updated"));
	assert_true(writes(state, "staff", "fynlo/v1/in/r1/inventory/adjusted"));
	assert_false(writes(state, "staff", "fynlo/v1/in/r1/menu/updated"));
	assert_false(writes(state, "staff", "fynlo/v1/in/r1/employee/hired"));
	assert_true(writes(state, "manager", "fynlo/v1/in/r1/menu/updated"));
	assert_true(writes(state, "manager", "fynlo/v1/in/r1/employee/hired"));
	assert_false(writes(state, "manager", "fynlo/v1/in/r1/sales/closed"));
}

static void only_the_platform_owner_writes_the_platform_stream(void **state)
{
	for (size_t i = 1; i < COUNT(roles); i++)
		assert_false(writes(state, roles[i], "fynlo/v1/in/platform/platform/announced"));
	assert_true(writes(state, "platform_owner", "fynlo/v1/in/platform/platform/announced"));

	/* A token that (wrongly) lists "platform" as a restaurant gains nothing. */
	const char *const sneaky[] = { "platform" };
	struct fyn_acl_identity who = member("staff");
	who.restaurants = sneaky;
	who.restaurant_count = 1;
	assert_false(fyn_acl_check_topic(*state, &who, "fynlo/v1/in/platform/order/created",
		FYN_ACCESS_WRITE).allowed);
}

static void everyone_reads_platform_announcements_in_their_view(void **state)
{
	assert_true(reads(state, "platform_owner", "fynlo/v1/ev/platform/full/platform/announced"));
	assert_true(reads(state, "restaurant_owner", "fynlo/v1/ev/platform/full/platform/announced"));
	for (size_t i = 0; i < COUNT(non_owners); i++)
		assert_true(subscribes(state, non_owners[i], "fynlo/v1/ev/platform/redacted/#"));
}

static void the_platform_owner_reads_and_writes_every_restaurant(void **state)
{
	assert_true(subscribes(state, "platform_owner", "fynlo/v1/ev/+/full/#"));
	assert_true(reads(state, "platform_owner", "fynlo/v1/ev/r77/full/order/created"));
	assert_true(writes(state, "platform_owner", "fynlo/v1/in/r77/menu/updated"));
	assert_true(subscribes(state, "platform_owner", "fynlo/v1/presence/#"));
	assert_true(reads(state, "platform_owner", "fynlo/v1/sys/metrics"));
	assert_false(writes(state, "platform_owner", "fynlo/v1/sys/metrics"));
	assert_false(writes(state, "platform_owner", "fynlo/v1/ev/r77/full/order/created"));
	for (size_t i = 1; i < COUNT(roles); i++)
		assert_false(reads(state, roles[i], "fynlo/v1/sys/metrics"));
}

static void control_topics_are_written_by_all_and_read_by_none(void **state)
{
	const char *const verbs[] = { "fynlo/v1/ctl/resume", "fynlo/v1/ctl/snapshot", "fynlo/v1/ctl/token" };
	for (size_t i = 0; i < COUNT(roles); i++) {
		for (size_t v = 0; v < COUNT(verbs); v++) {
			assert_true(writes(state, roles[i], verbs[v]));
			assert_false(reads(state, roles[i], verbs[v]));
		}
		assert_false(writes(state, roles[i], "fynlo/v1/ctl/purge"));
		assert_false(subscribes(state, roles[i], "fynlo/v1/ctl/#"));
		assert_false(subscribes(state, roles[i], "fynlo/v1/in/#"));
		assert_false(reads(state, roles[i], "fynlo/v1/in/r1/order/created"));
	}
}

static void replies_and_presence_stay_with_their_owners(void **state)
{
	for (size_t i = 0; i < COUNT(roles); i++) {
		assert_true(subscribes(state, roles[i], "fynlo/v1/client/dev-1/#"));
		assert_false(subscribes(state, roles[i], "fynlo/v1/client/dev-2/#"));
		assert_false(subscribes(state, roles[i], "fynlo/v1/client/+/ack"));
		assert_false(writes(state, roles[i], "fynlo/v1/client/dev-1/ack"));
		assert_true(reads(state, roles[i], "fynlo/v1/presence/r1/dev-7"));
		assert_false(writes(state, roles[i], "fynlo/v1/presence/r1/dev-1"));
	}
	assert_true(subscribes(state, "staff", "fynlo/v1/presence/r2/+"));
}

static void nothing_outside_fynlo_v1_is_granted(void **state)
{
	for (size_t i = 0; i < COUNT(roles); i++) {
		const char *role = roles[i];
		assert_false(subscribes(state, role, "#"));
		assert_false(subscribes(state, role, "$SYS/#"));
		assert_false(subscribes(state, role, "fynlo/v1/#"));
		assert_false(subscribes(state, role, "$share/g/#"));
		assert_false(reads(state, role, "$SYS/broker/uptime"));
		assert_false(reads(state, role, "fynlo/v2/ev/r1/full/order/created"));
		assert_false(writes(state, role, "other/topic"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_file_defines_full_and_redacted_views),
		cmocka_unit_test(owners_receive_full_and_everyone_else_redacted),
		cmocka_unit_test(non_owners_never_read_the_full_view),
		cmocka_unit_test(owners_read_the_full_view_of_their_restaurants),
		cmocka_unit_test(other_restaurants_are_out_of_reach),
		cmocka_unit_test(kitchens_only_read_and_update_orders),
		cmocka_unit_test(staff_write_orders_and_inventory_only),
		cmocka_unit_test(only_the_platform_owner_writes_the_platform_stream),
		cmocka_unit_test(everyone_reads_platform_announcements_in_their_view),
		cmocka_unit_test(the_platform_owner_reads_and_writes_every_restaurant),
		cmocka_unit_test(control_topics_are_written_by_all_and_read_by_none),
		cmocka_unit_test(replies_and_presence_stay_with_their_owners),
		cmocka_unit_test(nothing_outside_fynlo_v1_is_granted),
	};
	return cmocka_run_group_tests(tests, load_default, free_default);
}
