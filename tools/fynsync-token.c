/*
 * fynsync-token: mints an HS256 JWT for development and tests, printed alone
 * on stdout. It applies the verifier's rules (token.h) to its inputs and reads
 * the secret file exactly as the hub does, so a token it prints for the hub's
 * secret file passes fyn_token_verify (until it expires).
 *
 *   fynsync-token --secret-file F [--role R] [--restaurant r1 ...] [--sub S]
 *                 [--ttl SECONDS] [--nbf-offset SECONDS] [--iss X] [--aud Y]
 *
 * Exit status: 0 printed, 1 internal failure, 2 invalid input.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <jwt.h>

#include "token.h"

#define EXIT_INPUT 2
#define MAX_OFFSET_S (10L * 366 * 24 * 3600) /* bound for --ttl and --nbf-offset */

struct mint_args {
	const char *secret_file;
	enum fyn_role role;
	const char *restaurants[FYN_TOKEN_MAX_RESTAURANTS];
	size_t restaurant_count;
	const char *sub;
	long ttl;
	long nbf_offset;
	bool has_nbf;
	const char *iss;
	const char *aud;
};

static void usage(FILE *out)
{
	fputs("usage: fynsync-token --secret-file F [--role R] [--restaurant ID ...]\n"
	      "                     [--sub S] [--ttl SECONDS] [--nbf-offset SECONDS]\n"
	      "                     [--iss X] [--aud Y]\n"
	      "roles: platform_owner restaurant_owner manager staff kitchen (default staff)\n"
	      "defaults: sub dev-<role>, ttl 3600; every role but platform_owner needs\n"
	      "at least one --restaurant\n", out);
}

/* Reports invalid input on stderr and returns the exit status for it. */
__attribute__((format(printf, 1, 2)))
static int input_error(const char *fmt, ...)
{
	va_list ap;

	fputs("fynsync-token: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_INPUT;
}

/* Whole-string decimal in [min, max]. */
static int parse_seconds(const char *text, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int add_restaurant(struct mint_args *a, const char *rid)
{
	if (!fyn_restaurant_id_is_valid(rid))
		return input_error("invalid restaurant id '%s'", rid);
	if (a->restaurant_count == FYN_TOKEN_MAX_RESTAURANTS)
		return input_error("at most %d restaurants", FYN_TOKEN_MAX_RESTAURANTS);
	a->restaurants[a->restaurant_count++] = rid;
	return 0;
}

/* Applies one parsed option; 0 or an exit status. */
static int apply_option(struct mint_args *a, int opt, const char *val)
{
	switch (opt) {
	case 'f': a->secret_file = val; return 0;
	case 'r':
		return fyn_role_parse(val, &a->role) == 0 ? 0 : input_error("unknown role '%s'", val);
	case 'R': return add_restaurant(a, val);
	case 's': a->sub = val; return 0;
	case 't':
		return parse_seconds(val, 1, MAX_OFFSET_S, &a->ttl) == 0 ? 0
			: input_error("invalid --ttl '%s' (positive seconds)", val);
	case 'n':
		a->has_nbf = true;
		return parse_seconds(val, -MAX_OFFSET_S, MAX_OFFSET_S, &a->nbf_offset) == 0 ? 0
			: input_error("invalid --nbf-offset '%s' (seconds)", val);
	case 'i': a->iss = val; return 0;
	case 'a': a->aud = val; return 0;
	default: usage(stderr); return EXIT_INPUT;
	}
}

static int parse_args(int argc, char **argv, struct mint_args *a)
{
	static const struct option options[] = {
		{"secret-file", required_argument, NULL, 'f'},
		{"role", required_argument, NULL, 'r'},
		{"restaurant", required_argument, NULL, 'R'},
		{"sub", required_argument, NULL, 's'},
		{"ttl", required_argument, NULL, 't'},
		{"nbf-offset", required_argument, NULL, 'n'},
		{"iss", required_argument, NULL, 'i'},
		{"aud", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		int rc;

		if (opt == 'h') {
			usage(stdout);
			return -1;
		}
		rc = apply_option(a, opt, optarg);
		if (rc != 0)
			return rc;
	}
	if (optind < argc)
		return input_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

static int check_args(const struct mint_args *a)
{
	if (a->secret_file == NULL) {
		usage(stderr);
		return input_error("--secret-file is required");
	}
	if (a->restaurant_count == 0 && a->role != FYN_ROLE_PLATFORM_OWNER)
		return input_error("role %s needs at least one --restaurant", fyn_role_name(a->role));
	if (!fyn_sub_is_valid(a->sub))
		return input_error("invalid --sub (1-%d bytes, no control characters)",
				FYN_SUB_MAX_BYTES);
	if (a->iss != NULL && a->iss[0] == '\0')
		return input_error("--iss must not be empty");
	if (a->aud != NULL && a->aud[0] == '\0')
		return input_error("--aud must not be empty");
	return 0;
}

/* {"restaurants": [...]} as text, for jwt_add_grants_json; NULL on failure. */
static char *restaurants_json(const struct mint_args *a)
{
	json_t *list = json_array();
	json_t *wrap = json_object();
	char *text = NULL;
	size_t i;
	int bad = list == NULL || wrap == NULL;

	for (i = 0; !bad && i < a->restaurant_count; i++)
		bad = json_array_append_new(list, json_string(a->restaurants[i])) != 0;
	if (!bad && json_object_set(wrap, "restaurants", list) == 0)
		text = json_dumps(wrap, JSON_COMPACT);
	json_decref(list);
	json_decref(wrap);
	return text;
}

static int add_claims(jwt_t *jwt, const struct mint_args *a, time_t now)
{
	char *list = NULL;
	int rc = jwt_add_grant(jwt, "sub", a->sub) ||
		jwt_add_grant(jwt, "role", fyn_role_name(a->role)) ||
		jwt_add_grant_int(jwt, "iat", (long)now) ||
		jwt_add_grant_int(jwt, "exp", (long)now + a->ttl) ||
		(a->has_nbf && jwt_add_grant_int(jwt, "nbf", (long)now + a->nbf_offset)) ||
		(a->iss && jwt_add_grant(jwt, "iss", a->iss)) ||
		(a->aud && jwt_add_grant(jwt, "aud", a->aud));

	if (rc == 0 && a->restaurant_count > 0) {
		list = restaurants_json(a);
		rc = list == NULL || jwt_add_grants_json(jwt, list) != 0;
		free(list);
	}
	return rc;
}

/* Signs with the secret as the hub reads it; prints the token. */
static int mint(const struct mint_args *a)
{
	struct fyn_token_config cfg = {0};
	char err[512];
	jwt_t *jwt = NULL;
	char *token = NULL;
	int status = EXIT_FAILURE;

	if (fyn_token_config_load(&cfg, "HS256", a->secret_file, NULL, NULL, 0, err, sizeof(err)) != 0)
		return input_error("%s", err);
	if (jwt_new(&jwt) == 0 && add_claims(jwt, a, time(NULL)) == 0 &&
	    jwt_set_alg(jwt, JWT_ALG_HS256, cfg.key, (int)cfg.key_len) == 0)
		token = jwt_encode_str(jwt);
	if (token != NULL && printf("%s\n", token) > 0 && fflush(stdout) == 0)
		status = EXIT_SUCCESS;
	else
		fputs("fynsync-token: cannot build the token\n", stderr);
	free(token);
	jwt_free(jwt);
	fyn_token_config_clear(&cfg);
	return status;
}

int main(int argc, char **argv)
{
	struct mint_args a = {.role = FYN_ROLE_STAFF, .ttl = 3600};
	char default_sub[32];
	int rc = parse_args(argc, argv, &a);

	if (rc != 0)
		return rc < 0 ? EXIT_SUCCESS : rc;
	if (a.sub == NULL) {
		snprintf(default_sub, sizeof(default_sub), "dev-%s", fyn_role_name(a.role));
		a.sub = default_sub;
	}
	rc = check_args(&a);
	return rc != 0 ? rc : mint(&a);
}
