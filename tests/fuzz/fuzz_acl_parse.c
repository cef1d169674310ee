/*
 * fuzz_acl_parse.c: libFuzzer target for the ACL file parser (acl/).
 *
 * The input is an ACL file's text. A file that parses is then asked a fixed
 * set of questions (topics, filters, views, rule texts) so that whatever
 * the parser built is also walked by the matcher. A refused file must name
 * "name:line: problem". Seeded from tests/corpus/acl.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

static const char *const questions[] = {
	"fynlo/v1/ev/r1/redacted/order/created", "fynlo/v1/in/r1/order/created", "fynlo/v1/client/c1/ack",
	"a/b", "", "/", "#", "+/+", "fynlo/v1/ev/+/full/#", "fynlo/v1/ev/r1/#", "t/1/x/r1/y",
};

static void ask(const struct fyn_acl *acl)
{
	static const char *const restaurants[] = { "r1", "r2" };
	static const char *const roles[] = { "staff", "platform_owner", "kitchen", "nobody" };
	for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
		struct fyn_acl_identity who = { .sub = "alice", .role = roles[r], .client_id = "c1",
			.restaurants = restaurants, .restaurant_count = 2 };
		for (size_t q = 0; q < sizeof(questions) / sizeof(questions[0]); q++) {
			fyn_acl_check_topic(acl, &who, questions[q], FYN_ACCESS_READ);
			fyn_acl_check_topic(acl, &who, questions[q], FYN_ACCESS_WRITE);
			fyn_acl_check_subscription(acl, &who, questions[q]);
		}
		fyn_acl_view_for(acl, &who);
	}
	for (size_t v = 0; v < fyn_acl_view_count(acl); v++) {
		size_t count;
		if (!fyn_acl_view_name(acl, v) || (!fyn_acl_view_removed_keys(acl, v, &count) && count > 0)) {
			abort();
		}
	}
	for (int line = 0; line < 64; line++) {
		fyn_acl_rule_text(acl, line);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	char *text = malloc(size + 1);
	struct fyn_acl *acl;

	if (!text) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	acl = fyn_acl_load_string(text, "f.acl", err, sizeof(err));
	if (acl) {
		ask(acl);
		fyn_acl_free(acl);
	} else if (strncmp(err, "f.acl:", 6) != 0) {
		abort();
	}
	free(text);
	return 0;
}
