/*
 * bench_acl.c: micro-benchmark of the ACL matcher (not a unit test).
 *
 * Generates a 1,000-rule file (999 rules that do not match, spread over a
 * user section and the staff role, then the one that does, last), loads it
 * and times fyn_acl_check_topic for a staff member of three restaurants.
 * That is the worst case: every rule is tried before the decision. Prints
 * nanoseconds per check. Usage: bench_acl [iterations]
 */
#include "acl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RULES 1000
#define USER_RULES 100

/* Appends one line to buffer; returns the new length. */
static size_t append(char *buffer, size_t used, size_t size, const char *line)
{
	int written = snprintf(buffer + used, size - used, "%s\n", line);
	return written > 0 ? used + (size_t)written : used;
}

static char *generate_file(void)
{
	size_t size = (size_t)RULES * 80 + 256;
	char *text = malloc(size);
	if (text == NULL)
		return NULL;
	char line[128];
	size_t used = append(text, 0, size, "view redacted remove cost profit_margin\nuser alice");
	for (int i = 0; i < USER_RULES; i++) {
		snprintf(line, sizeof(line), "deny write fynlo/v1/in/%%r/domain%d/+", i);
		used = append(text, used, size, line);
	}
	used = append(text, used, size, "role staff\nreceive redacted");
	for (int i = USER_RULES; i < RULES - 1; i++) {
		snprintf(line, sizeof(line), "allow read fynlo/v1/ev/%%r/redacted/domain%d/+", i);
		used = append(text, used, size, line);
	}
	append(text, used, size, "allow read fynlo/v1/ev/%r/redacted/order/#");
	return text;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
	char *text = generate_file();
	char err[256];
	struct fyn_acl *acl = text != NULL ? fyn_acl_load_string(text, "bench", err, sizeof(err)) : NULL;
	free(text);
	if (acl == NULL || iterations <= 0) {
		fprintf(stderr, "bench_acl: cannot set up: %s\n", acl == NULL ? err : "bad iterations");
		fyn_acl_free(acl);
		return 1;
	}
	const char *restaurants[] = { "r1", "r2", "r3" };
	struct fyn_acl_identity who = { .sub = "alice", .role = "staff", .client_id = "till-1",
		.restaurants = restaurants, .restaurant_count = 3 };
	const char *topic = "fynlo/v1/ev/r3/redacted/order/created";
	long allowed = 0;
	double start = now_ns();
	for (long i = 0; i < iterations; i++)
		allowed += fyn_acl_check_topic(acl, &who, topic, FYN_ACCESS_READ).allowed;
	double elapsed = now_ns() - start;
	printf("bench_acl: %zu rules, worst case (last rule decides, 3 restaurants): %.0f ns/check (%ld checks, %ld allowed)\n",
		fyn_acl_rule_count(acl), elapsed / (double)iterations, iterations, allowed);
	fyn_acl_free(acl);
	return allowed == iterations ? 0 : 1;
}
