/*
 * test_acl_views.c: views (named lists of payload keys to remove) and which
 * view an identity receives: its user section's, else its role section's,
 * else none (-1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "acl.h"

static const char *const views_file =
	"view full\n"
	"view redacted remove cost profit_margin\n"
	"view minimal remove cost profit_margin total items\n"
	"role restaurant_owner\nreceive full\n"
	"role staff\nreceive redacted\n"
	"role kitchen\nallow read x\n"
	"user alice\nreceive minimal\n"
	"user bob\nallow read y\n";

static struct fyn_acl *load_views(void)
{
	char err[512] = "";
	struct fyn_acl *acl = fyn_acl_load_string(views_file, "t.acl", err, sizeof(err));
	assert_non_null(acl);
	return acl;
}

static void views_keep_their_names_and_keys_in_file_order(void **state)
{
	(void)state;
	struct fyn_acl *acl = load_views();
	assert_int_equal(fyn_acl_view_count(acl), 3);
	assert_string_equal(fyn_acl_view_name(acl, 0), "full");
	assert_string_equal(fyn_acl_view_name(acl, 1), "redacted");
	assert_string_equal(fyn_acl_view_name(acl, 2), "minimal");

	size_t count = 99;
	fyn_acl_view_removed_keys(acl, 0, &count);
	assert_int_equal(count, 0);
	const char *const *keys = fyn_acl_view_removed_keys(acl, 1, &count);
	assert_int_equal(count, 2);
	assert_string_equal(keys[0], "cost");
	assert_string_equal(keys[1], "profit_margin");
	keys = fyn_acl_view_removed_keys(acl, 2, &count);
	assert_int_equal(count, 4);
	assert_string_equal(keys[3], "items");
	fyn_acl_free(acl);
}

static void out_of_range_view_indexes_are_harmless(void **state)
{
	(void)state;
	struct fyn_acl *acl = load_views();
	size_t count = 99;
	assert_null(fyn_acl_view_name(acl, 3));
	assert_null(fyn_acl_view_removed_keys(acl, 3, &count));
	assert_int_equal(count, 0);
	assert_null(fyn_acl_view_name(NULL, 0));
	assert_int_equal(fyn_acl_view_count(NULL), 0);
	fyn_acl_free(acl);
}

static int view_of(const struct fyn_acl *acl, const char *sub, const char *role)
{
	struct fyn_acl_identity who = { .sub = sub, .role = role, .client_id = "c" };
	return fyn_acl_view_for(acl, &who);
}

static void the_user_view_overrides_the_role_view(void **state)
{
	(void)state;
	struct fyn_acl *acl = load_views();
	assert_int_equal(view_of(acl, "owen", "restaurant_owner"), 0);
	assert_int_equal(view_of(acl, "sam", "staff"), 1);
	assert_int_equal(view_of(acl, "alice", "staff"), 2);
	assert_int_equal(view_of(acl, "alice", "kitchen"), 2);
	assert_int_equal(view_of(acl, "bob", "staff"), 1);     /* user section without a view */
	assert_int_equal(view_of(acl, "kim", "kitchen"), -1);  /* role section without a view */
	assert_int_equal(view_of(acl, "pat", "manager"), -1);  /* no section at all */
	assert_int_equal(view_of(acl, "x", "chef"), -1);
	assert_int_equal(view_of(acl, NULL, NULL), -1);
	assert_int_equal(fyn_acl_view_for(acl, NULL), -1);
	assert_int_equal(fyn_acl_view_for(NULL, NULL), -1);
	fyn_acl_free(acl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(views_keep_their_names_and_keys_in_file_order),
		cmocka_unit_test(out_of_range_view_indexes_are_harmless),
		cmocka_unit_test(the_user_view_overrides_the_role_view),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
