/*
 * fynsync-acl.c: the admin's tool for the ACL file.
 *
 *   fynsync-acl check FILE
 *       "FILE: ok (N rules, M views)", exit 0; or "FILE:LINE: problem" on
 *       stderr, exit 1.
 *   fynsync-acl explain FILE --role ROLE [--restaurant RID]... [--sub SUB]
 *                      [--client CID] --topic TOPIC --access read|write|subscribe
 *       "allow" or "deny", then the deciding line; exit 0 allow, 1 deny,
 *       2 usage error or unreadable file.
 */
#include "acl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_ALLOW = 0, EXIT_DENY = 1, EXIT_USAGE = 2 };

enum explain_access { ACCESS_READ, ACCESS_WRITE, ACCESS_SUBSCRIBE };

struct explain_request {
	const char *file;
	const char *topic;
	const char *access_word;
	struct fyn_acl_identity who;
	const char **restaurants;   /* owned: allocated by parse_explain_args */
};

static int usage(const char *problem)
{
	if (problem != NULL)
		fprintf(stderr, "fynsync-acl: %s\n", problem);
	fprintf(stderr,
		"usage: fynsync-acl check FILE\n"
		"       fynsync-acl explain FILE --role ROLE [--restaurant RID]... [--sub SUB]\n"
		"                   [--client CID] --topic TOPIC --access read|write|subscribe\n");
	return EXIT_USAGE;
}

static int run_check(const char *file)
{
	char err[512];
	struct fyn_acl *acl = fyn_acl_load_file(file, err, sizeof(err));
	if (acl == NULL) {
		fprintf(stderr, "%s\n", err);
		return EXIT_DENY;
	}
	printf("%s: ok (%zu rules, %zu views)\n", file, fyn_acl_rule_count(acl), fyn_acl_view_count(acl));
	fyn_acl_free(acl);
	return EXIT_ALLOW;
}

/* Stores the value of option name into the request; returns 0 or -1. */
static int take_option(struct explain_request *req, const char *name, const char *value)
{
	if (strcmp(name, "--role") == 0)
		req->who.role = value;
	else if (strcmp(name, "--sub") == 0)
		req->who.sub = value;
	else if (strcmp(name, "--client") == 0)
		req->who.client_id = value;
	else if (strcmp(name, "--topic") == 0)
		req->topic = value;
	else if (strcmp(name, "--access") == 0)
		req->access_word = value;
	else if (strcmp(name, "--restaurant") == 0)
		req->restaurants[req->who.restaurant_count++] = value;
	else
		return -1;
	return 0;
}

static int parse_explain_args(struct explain_request *req, int argc, char **argv)
{
	req->file = argv[2];
	req->restaurants = calloc((size_t)argc, sizeof(*req->restaurants));
	if (req->restaurants == NULL)
		return usage("out of memory");
	req->who.restaurants = req->restaurants;
	for (int i = 3; i < argc; i += 2) {
		if (i + 1 >= argc)
			return usage("option without a value");
		if (take_option(req, argv[i], argv[i + 1]) != 0)
			return usage("unknown option");
	}
	if (req->who.role == NULL || req->topic == NULL || req->access_word == NULL)
		return usage("--role, --topic and --access are required");
	if (fyn_role_parse(req->who.role, NULL) != 0) {
		char roles[128], message[160];
		fyn_role_list(roles, sizeof(roles));
		snprintf(message, sizeof(message), "unknown role (roles: %s)", roles);
		return usage(message);
	}
	return 0;
}

static int parse_access(const char *word, enum explain_access *access)
{
	if (strcmp(word, "read") == 0)
		*access = ACCESS_READ;
	else if (strcmp(word, "write") == 0)
		*access = ACCESS_WRITE;
	else if (strcmp(word, "subscribe") == 0)
		*access = ACCESS_SUBSCRIBE;
	else
		return -1;
	return 0;
}

static struct fyn_acl_decision decide(const struct fyn_acl *acl,
		const struct explain_request *req, enum explain_access access)
{
	if (access == ACCESS_SUBSCRIBE)
		return fyn_acl_check_subscription(acl, &req->who, req->topic);
	return fyn_acl_check_topic(acl, &req->who, req->topic,
		access == ACCESS_READ ? FYN_ACCESS_READ : FYN_ACCESS_WRITE);
}

static int print_decision(const struct fyn_acl *acl, struct fyn_acl_decision decision)
{
	printf("%s\n", decision.allowed ? "allow" : "deny");
	if (decision.line == 0)
		printf("no rule matched: default deny\n");
	else
		printf("line %d: %s\n", decision.line, fyn_acl_rule_text(acl, decision.line));
	return decision.allowed ? EXIT_ALLOW : EXIT_DENY;
}

static int explain(const struct explain_request *req)
{
	enum explain_access access;
	if (parse_access(req->access_word, &access) != 0)
		return usage("--access must be read, write or subscribe");
	char err[512];
	struct fyn_acl *acl = fyn_acl_load_file(req->file, err, sizeof(err));
	if (acl == NULL) {
		fprintf(stderr, "%s\n", err);
		return EXIT_USAGE;
	}
	int status = print_decision(acl, decide(acl, req, access));
	fyn_acl_free(acl);
	return status;
}

static int run_explain(int argc, char **argv)
{
	struct explain_request req = { 0 };
	int status = parse_explain_args(&req, argc, argv);
	if (status == 0)
		status = explain(&req);
	free(req.restaurants);
	return status;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return run_check(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "explain") == 0)
		return run_explain(argc, argv);
	return usage(NULL);
}
