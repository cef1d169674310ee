/*
 * test_acl_docs_example.c: the full example in docs/acl.md is a valid file
 * and does what the text under it says, so the documentation cannot rot.
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

static char *read_docs(void)
{
	const char *root = getenv("FYNSYNC_SOURCE_DIR");
	assert_non_null(root);
	char path[4096];
	snprintf(path, sizeof(path), "%s/docs/acl.md", root);
	FILE *file = fopen(path, "r");
	assert_non_null(file);
	static char text[65536];
	size_t size = fread(text, 1, sizeof(text) - 1, file);
	fclose(file);
	assert_true(size < sizeof(text) - 1);
	text[size] = '\0';
	return text;
}

/* The first ``` block after the "## A full example" heading, in place. */
static char *full_example(char *docs)
{
	char *section = strstr(docs, "## A full example");
	assert_non_null(section);
	char *open = strstr(section, "```\n");
	assert_non_null(open);
	char *body = open + 4;
	char *close = strstr(body, "```");
	assert_non_null(close);
	*close = '\0';
	return body;
}

static int load_example(void **state)
{
	char err[512] = "";
	struct fyn_acl *acl = fyn_acl_load_string(full_example(read_docs()), "docs/acl.md example",
		err, sizeof(err));
	if (acl == NULL)
		print_error("%s\n", err);
	*state = acl;
	return acl == NULL ? -1 : 0;
}

static int free_example(void **state)
{
	fyn_acl_free(*state);
	return 0;
}

static const char *const r1_and_r7[] = { "r1", "r7" };

static struct fyn_acl_identity person(const char *sub, const char *role)
{
	return (struct fyn_acl_identity){ .sub = sub, .role = role, .client_id = "dev-1",
		.restaurants = r1_and_r7, .restaurant_count = 2 };
}

static bool allowed(void **state, const char *sub, const char *role, const char *topic,
		enum fyn_access access)
{
	struct fyn_acl_identity who = person(sub, role);
	return fyn_acl_check_topic(*state, &who, topic, access).allowed;
}

static void the_auditor_reads_full_events_and_writes_only_control(void **state)
{
	struct fyn_acl_identity auditor = person("auditor-42", "staff");
	int view = fyn_acl_view_for(*state, &auditor);
	assert_string_equal(fyn_acl_view_name(*state, (size_t)view), "full");
	assert_true(allowed(state, "auditor-42", "staff", "fynlo/v1/ctl/resume", FYN_ACCESS_WRITE));
	assert_true(allowed(state, "auditor-42", "staff", "fynlo/v1/ctl/token", FYN_ACCESS_WRITE));
	assert_false(allowed(state, "auditor-42", "staff", "fynlo/v1/in/r1/order/created", FYN_ACCESS_WRITE));
	assert_true(allowed(state, "auditor-42", "staff", "fynlo/v1/ev/r1/full/order/created", FYN_ACCESS_READ));
	assert_true(allowed(state, "auditor-42", "staff", "fynlo/v1/client/dev-1/ack", FYN_ACCESS_READ));
}

static void staff_cannot_adjust_inventory_at_r7_only(void **state)
{
	assert_false(allowed(state, "sam", "staff", "fynlo/v1/in/r7/inventory/adjusted", FYN_ACCESS_WRITE));
	assert_true(allowed(state, "sam", "staff", "fynlo/v1/in/r1/inventory/adjusted", FYN_ACCESS_WRITE));
	assert_true(allowed(state, "sam", "staff", "fynlo/v1/in/r7/order/created", FYN_ACCESS_WRITE));
}

static void managers_receive_the_view_without_wages(void **state)
{
	struct fyn_acl_identity manager = person("mia", "manager");
	int view = fyn_acl_view_for(*state, &manager);
	assert_string_equal(fyn_acl_view_name(*state, (size_t)view), "no_wages");
	size_t count = 0;
	const char *const *keys = fyn_acl_view_removed_keys(*state, (size_t)view, &count);
	assert_int_equal(count, 3);
	assert_string_equal(keys[2], "hourly_rate");
	assert_false(allowed(state, "mia", "manager", "fynlo/v1/ev/r1/redacted/order/created", FYN_ACCESS_READ));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_auditor_reads_full_events_and_writes_only_control),
		cmocka_unit_test(staff_cannot_adjust_inventory_at_r7_only),
		cmocka_unit_test(managers_receive_the_view_without_wages),
	};
	return cmocka_run_group_tests(tests, load_example, free_example);
}
