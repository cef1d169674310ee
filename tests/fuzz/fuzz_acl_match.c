/*
 * fuzz_acl_match.c: libFuzzer target for the ACL matcher (acl/acl_match.c,
 * acl_contain.c) on the default ACL file.
 *
 * The input's lines are: the identity (sub, role, client id, restaurants
 * separated by ',') and then topics and filters, each checked for read,
 * write and subscribe. Seeded from tests/corpus/fuzz/acl_match.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

#define MAX_RESTAURANTS 8

static struct fyn_acl *acl;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];
	(void)argc;
	(void)argv;
	acl = fyn_acl_load_file(FYNSYNC_DEFAULT_ACL, err, sizeof(err));
	if (!acl) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return 0;
}

/* The next line of *cursor (NUL-terminated in place), or "" at the end. */
static char *next_line(char **cursor)
{
	char *line = *cursor, *end = strchr(line, '\n');
	if (end) {
		*end = '\0';
		*cursor = end + 1;
	} else {
		*cursor = line + strlen(line);
	}
	return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *restaurants[MAX_RESTAURANTS];
	struct fyn_acl_identity who = { .restaurants = restaurants };
	char *text = malloc(size + 1), *cursor, *list, *saved = NULL;

	if (!text) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	cursor = text;
	who.sub = next_line(&cursor);
	who.role = next_line(&cursor);
	who.client_id = next_line(&cursor);
	list = next_line(&cursor);
	for (char *rid = strtok_r(list, ",", &saved); rid && who.restaurant_count < MAX_RESTAURANTS;
			rid = strtok_r(NULL, ",", &saved)) {
		restaurants[who.restaurant_count++] = rid;
	}
	while (*cursor) {
		const char *topic = next_line(&cursor);
		struct fyn_acl_decision read = fyn_acl_check_topic(acl, &who, topic, FYN_ACCESS_READ);
		struct fyn_acl_decision sub = fyn_acl_check_subscription(acl, &who, topic);
		fyn_acl_check_topic(acl, &who, topic, FYN_ACCESS_WRITE);
		/* a filter granted for subscription is a topic that may be read */
		if (sub.allowed && !strpbrk(topic, "+#") && topic[0] != '$' && !read.allowed) {
			abort();
		}
	}
	fyn_acl_view_for(acl, &who);
	free(text);
	return 0;
}
