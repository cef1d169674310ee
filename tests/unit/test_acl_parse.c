/*
 * test_acl_parse.c: the ACL file format as admins write it, and every way the
 * parser refuses a file: each error names "file:line: problem".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"

struct error_case {
	const char *text;
	const char *expected;
};

/* Each file must be refused with exactly this message. */
static const struct error_case error_cases[] = {
	{ "role staff\ntopic read a/b",
	  "t.acl:2: unknown keyword 'topic' (expected view, role, user, receive, allow or deny)" },
	{ "\n# comment\nallow read a/b",
	  "t.acl:3: rule outside a section: start a section with 'role NAME' or 'user SUB' first" },
	{ "view full\nreceive full",
	  "t.acl:2: 'receive' outside a section: start a section with 'role NAME' or 'user SUB' first" },
	{ "role staff\nallow subscribe a/b",
	  "t.acl:2: bad access 'subscribe' (expected read, write or readwrite)" },
	{ "role staff\ndeny Read a/b",
	  "t.acl:2: bad access 'Read' (expected read, write or readwrite)" },
	{ "role staff\n\nallow read a/#/b",
	  "t.acl:3: invalid pattern 'a/#/b': '#' must be the last level of a pattern" },
	{ "role staff\nallow read fo+o",
	  "t.acl:2: invalid pattern 'fo+o': wildcards '+' and '#' must fill a whole topic level" },
	{ "role staff\nallow read a/b#",
	  "t.acl:2: invalid pattern 'a/b#': wildcards '+' and '#' must fill a whole topic level" },
	{ "role staff\nallow read a/%x/b",
	  "t.acl:2: invalid pattern 'a/%x/b': unknown placeholder '%x' (use %r, %u or %c)" },
	{ "role staff\nallow read a/%",
	  "t.acl:2: invalid pattern 'a/%': unknown placeholder '%' (use %r, %u or %c)" },
	{ "role staff\nallow read a/r-%r",
	  "t.acl:2: invalid pattern 'a/r-%r': placeholder '%r' must fill a whole topic level" },
	{ "role staff\nallow read a/%uu",
	  "t.acl:2: invalid pattern 'a/%uu': placeholder '%u' must fill a whole topic level" },
	{ "role staff\nallow read",
	  "t.acl:2: expected 'allow read|write|readwrite PATTERN'" },
	{ "role staff\ndeny write a/b c",
	  "t.acl:2: unexpected 'c' after the pattern (a pattern has no spaces)" },
	{ "role staff\nreceive gold",
	  "t.acl:2: unknown view 'gold' (define it with 'view gold' before the first section)" },
	{ "view full\nrole staff\nreceive full\nreceive full",
	  "t.acl:4: this section already receives view 'full'" },
	{ "role staff\nreceive",
	  "t.acl:2: expected 'receive VIEW'" },
	{ "view full\nview full",
	  "t.acl:2: duplicate view 'full' (first defined at line 1)" },
	{ "view full\nrole staff\nview late",
	  "t.acl:3: view 'late' defined inside a section: define views before the first role or user section" },
	{ "view a/b",
	  "t.acl:1: bad view name 'a/b' (at most 64 letters, digits, '.', '_' or '-')" },
	{ "view +",
	  "t.acl:1: bad view name '+' (at most 64 letters, digits, '.', '_' or '-')" },
	{ "view redacted drop cost",
	  "t.acl:1: expected 'remove' after the view name, got 'drop'" },
	{ "view redacted remove",
	  "t.acl:1: 'remove' needs at least one key" },
	{ "view redacted remove cost cost",
	  "t.acl:1: key 'cost' listed twice" },
	{ "view",
	  "t.acl:1: expected 'view NAME [remove KEY...]'" },
	{ "role staff\nrole manager\nrole staff",
	  "t.acl:3: duplicate section 'role staff' (first at line 1)" },
	{ "user alice\nrole staff\nuser bob\nuser alice",
	  "t.acl:4: duplicate section 'user alice' (first at line 1)" },
	{ "role chef",
	  "t.acl:1: unknown role 'chef' (roles: platform_owner, restaurant_owner, manager, staff, kitchen)" },
	{ "role",
	  "t.acl:1: expected 'role NAME'" },
	{ "role staff manager",
	  "t.acl:1: expected 'role NAME'" },
	{ "user",
	  "t.acl:1: expected 'user SUB'" },
	{ "user alice bob",
	  "t.acl:1: expected 'user SUB'" },
	/* issue 11: bytes no editor meant to write are refused with their line */
	{ "role staff\nallow read caf\xc3/x",
	  "t.acl:2: invalid UTF-8 (byte 0xc3 at byte 15 of the line); save the file as UTF-8" },
	{ "role staff\n\nallow read \xc0\xaf",
	  "t.acl:3: invalid UTF-8 (byte 0xc0 at byte 12 of the line); save the file as UTF-8" },
	{ "role staff\nallow read \xed\xa0\x80",
	  "t.acl:2: invalid UTF-8 (byte 0xed at byte 12 of the line); save the file as UTF-8" },
	{ "role staff\nallow read \xf4\x90\x80\x80",
	  "t.acl:2: invalid UTF-8 (byte 0xf4 at byte 12 of the line); save the file as UTF-8" },
	{ "role staff\nallow read a/\xe2\x82",
	  "t.acl:2: invalid UTF-8 (byte 0xe2 at byte 14 of the line); save the file as UTF-8" },
	{ "# \xff comment\nrole staff",
	  "t.acl:1: invalid UTF-8 (byte 0xff at byte 3 of the line); save the file as UTF-8" },
	{ "role staff\rallow read a/b\r\n",
	  "t.acl:1: carriage return inside the line (at byte 11); lines end with LF or CRLF" },
	{ "role staff\r# a comment long enough to make the one line too long ......................."
	  "......................................................................................................"
	  "......................................................................................................"
	  "......................................................................................................"
	  "......................................................................................................"
	  "......................................................................................................"
	  "......................................................................................................"
	  "......................................................................................................"
	  "......................................................................................................"
	  "......................................................................................................"
	  "......................................................................................................\r",
	  "t.acl:1: carriage return inside the line (at byte 11); lines end with LF or CRLF" },
	{ "role staff\nallow read a/\x1b[0m",
	  "t.acl:2: control character 0x1b at byte 14 of the line" },
	{ "role staff\nallow read a/b\x7f",
	  "t.acl:2: control character 0x7f at byte 15 of the line" },
	{ "view full\r\nrole staff\r\nreceive\vfull\r\n",
	  "t.acl:3: control character 0x0b at byte 8 of the line" },
};

static void every_error_names_file_line_and_problem(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		char err[512] = "";
		struct fyn_acl *acl = fyn_acl_load_string(error_cases[i].text, "t.acl", err, sizeof(err));
		if (acl != NULL)
			print_error("case %zu was accepted: %s\n", i, error_cases[i].text);
		assert_null(acl);
		assert_string_equal(err, error_cases[i].expected);
	}
}

/* "role staff" then, on line 2, a comment line_len characters long. */
static char *file_with_long_line(size_t line_len)
{
	static const char head[] = "role staff\n";
	size_t head_len = sizeof(head) - 1;
	char *text = malloc(head_len + line_len + 1);
	assert_non_null(text);
	memcpy(text, head, head_len);
	memset(text + head_len, 'x', line_len);
	text[head_len] = '#';
	text[head_len + line_len] = '\0';
	return text;
}

static void lines_longer_than_1024_characters_are_refused(void **state)
{
	(void)state;
	char err[256] = "";
	char *ok = file_with_long_line(1024);
	struct fyn_acl *acl = fyn_acl_load_string(ok, "t.acl", err, sizeof(err));
	assert_non_null(acl);
	fyn_acl_free(acl);
	free(ok);

	char *too_long = file_with_long_line(1025);
	assert_null(fyn_acl_load_string(too_long, "t.acl", err, sizeof(err)));
	assert_string_equal(err, "t.acl:2: line too long (more than 1024 characters)");
	free(too_long);
}

static void comments_blank_lines_tabs_and_crlf_are_accepted(void **state)
{
	(void)state;
	const char *text =
		"# a comment\r\n"
		"\r\n"
		"   # an indented comment\n"
		"\t\n"
		"view full\r\n"
		"view redacted   remove\tcost  profit_margin\n"
		"role staff\n"
		"  receive redacted\n"
		"\tallow \t read   a/b\r\n"
		"deny readwrite a/#\n"
		"user alice\n"
		"allow write x/%u";   /* no newline at the end */
	char err[256] = "";
	struct fyn_acl *acl = fyn_acl_load_string(text, "t.acl", err, sizeof(err));
	assert_non_null(acl);
	assert_int_equal(fyn_acl_rule_count(acl), 3);
	assert_int_equal(fyn_acl_view_count(acl), 2);
	assert_string_equal(fyn_acl_rule_text(acl, 9), "allow read a/b");
	assert_string_equal(fyn_acl_rule_text(acl, 10), "deny readwrite a/#");
	assert_string_equal(fyn_acl_rule_text(acl, 12), "allow write x/%u");
	assert_null(fyn_acl_rule_text(acl, 8));
	assert_null(fyn_acl_rule_text(acl, 0));
	assert_null(fyn_acl_rule_text(acl, 99));
	fyn_acl_free(acl);
}

static void utf8_patterns_and_a_leading_bom_are_accepted(void **state)
{
	(void)state;
	char err[256] = "";
	struct fyn_acl *acl = fyn_acl_load_string("\xef\xbb\xbfrole staff\r\n"
		"# caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\x94\r\n"
		"allow read caf\xc3\xa9/%r/\xf0\x9f\x8d\x94\r", "t.acl", err, sizeof(err));
	assert_non_null(acl);
	assert_string_equal(fyn_acl_rule_text(acl, 3), "allow read caf\xc3\xa9/%r/\xf0\x9f\x8d\x94");
	fyn_acl_free(acl);
}

static void an_empty_file_is_valid_and_grants_nothing(void **state)
{
	(void)state;
	char err[64] = "";
	struct fyn_acl *acl = fyn_acl_load_string("", "t.acl", err, sizeof(err));
	assert_non_null(acl);
	assert_int_equal(fyn_acl_rule_count(acl), 0);
	assert_int_equal(fyn_acl_view_count(acl), 0);
	struct fyn_acl_identity who = { .sub = "a", .role = "staff", .client_id = "c" };
	assert_false(fyn_acl_check_topic(acl, &who, "fynlo/v1/ctl/resume", FYN_ACCESS_WRITE).allowed);
	fyn_acl_free(acl);
}

static void a_missing_text_or_tiny_error_buffer_is_handled(void **state)
{
	(void)state;
	char err[8] = "";
	assert_null(fyn_acl_load_string(NULL, "t.acl", err, sizeof(err)));
	assert_string_equal(err, "t.acl:0");   /* truncated, still terminated */
	assert_null(fyn_acl_load_string("role chef", "t.acl", NULL, 0));
}

/* Writes content (size bytes, may hold NUL) to a fresh temporary file. */
static void write_temp_file(char *path, const char *content, size_t size)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, size), (ssize_t)size);
	assert_int_equal(close(fd), 0);
}

static void files_are_loaded_and_their_errors_name_the_path(void **state)
{
	(void)state;
	char path[] = "/tmp/test_acl_parse_XXXXXX";
	const char text[] = "view full\nrole staff\nreceive full\nallow read a/b\nallow read a/#/b\n";
	write_temp_file(path, text, sizeof(text) - 1);
	char err[512] = "";
	char expected[512];
	assert_null(fyn_acl_load_file(path, err, sizeof(err)));
	snprintf(expected, sizeof(expected),
		"%s:5: invalid pattern 'a/#/b': '#' must be the last level of a pattern", path);
	assert_string_equal(err, expected);
	unlink(path);

	char good[] = "/tmp/test_acl_parse_XXXXXX";
	write_temp_file(good, text, sizeof(text) - 1 - strlen("allow read a/#/b\n"));
	struct fyn_acl *acl = fyn_acl_load_file(good, err, sizeof(err));
	assert_non_null(acl);
	assert_int_equal(fyn_acl_rule_count(acl), 1);
	fyn_acl_free(acl);
	unlink(good);
}

static void a_nul_byte_in_a_file_is_refused_with_its_line(void **state)
{
	(void)state;
	char path[] = "/tmp/test_acl_parse_XXXXXX";
	const char text[] = "role staff\nallow read a/b\0/c\n";
	write_temp_file(path, text, sizeof(text) - 1);
	char err[512] = "";
	char expected[512];
	assert_null(fyn_acl_load_file(path, err, sizeof(err)));
	snprintf(expected, sizeof(expected), "%s:2: NUL byte in the file", path);
	assert_string_equal(err, expected);
	unlink(path);
}

static void a_missing_file_is_refused_with_the_reason(void **state)
{
	(void)state;
	char err[512] = "";
	assert_null(fyn_acl_load_file("/nonexistent/fynsync.acl", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/fynsync.acl: cannot open: No such file or directory");
}

static void a_large_file_is_read_completely(void **state)
{
	(void)state;
	char path[] = "/tmp/test_acl_parse_XXXXXX";
	size_t size = 200000;
	char *text = malloc(size);
	assert_non_null(text);
	memset(text, '\n', size);
	const char head[] = "role staff\n";
	const char tail[] = "allow read last/rule\n";
	memcpy(text, head, sizeof(head) - 1);
	memcpy(text + size - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	write_temp_file(path, text, size);
	free(text);
	char err[512] = "";
	struct fyn_acl *acl = fyn_acl_load_file(path, err, sizeof(err));
	assert_non_null(acl);
	assert_int_equal(fyn_acl_rule_count(acl), 1);
	struct fyn_acl_identity who = { .sub = "a", .role = "staff", .client_id = "c" };
	assert_true(fyn_acl_check_topic(acl, &who, "last/rule", FYN_ACCESS_READ).allowed);
	fyn_acl_free(acl);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_error_names_file_line_and_problem),
		cmocka_unit_test(lines_longer_than_1024_characters_are_refused),
		cmocka_unit_test(comments_blank_lines_tabs_and_crlf_are_accepted),
		cmocka_unit_test(utf8_patterns_and_a_leading_bom_are_accepted),
		cmocka_unit_test(an_empty_file_is_valid_and_grants_nothing),
		cmocka_unit_test(a_missing_text_or_tiny_error_buffer_is_handled),
		cmocka_unit_test(files_are_loaded_and_their_errors_name_the_path),
		cmocka_unit_test(a_nul_byte_in_a_file_is_refused_with_its_line),
		cmocka_unit_test(a_missing_file_is_refused_with_the_reason),
		cmocka_unit_test(a_large_file_is_read_completely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
