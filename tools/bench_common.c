/*
 * bench_common.c: what the two benchmark tools (fynsync-bench and
 * fynsync-replay-bench) share: fatal errors, option parsing, the clock,
 * and HS256 tokens minted from the hub's key file like the hub reads it.
 */
#include "bench_common.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *bench_program = "fynsync-bench";

void die(const char *fmt, ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	/* clang-tidy 14 reports this va_list as uninitialised after va_start
	 * (a known analyzer false positive with glibc's va_list). */
	vsnprintf(message, sizeof(message), fmt, ap);   // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	fprintf(stderr, "%s: %s\n", bench_program, message);
	exit(2);
}

double parse_double(const char *name, const char *text, double min, double max)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !(v >= min && v <= max))
		die("invalid %s '%s' (expected %g..%g)", name, text, min, max);
	return v;
}

long long parse_int(const char *name, const char *text, long long min, long long max)
{
	char *end;
	long long v;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
		die("invalid %s '%s' (expected %lld..%lld)", name, text, min, max);
	return v;
}

int parse_mqtt_version(const char *text)
{
	long long v = parse_int("--mqtt-version", text, 3, 311);
	if (v != 5 && v != 311)
		die("--mqtt-version must be 5 or 311");
	return (int)v;
}

bool id_chars_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
				|| c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;
	if (!f)
		die("cannot open %s: %s", path, strerror(errno));
	for (;;) {
		size_t got;
		if (n == cap) {
			unsigned char *grown;
			cap = cap ? cap * 2 : 4096;
			if (cap > 1 << 20)
				die("%s is too large for a key file", path);
			grown = realloc(buf, cap);
			if (!grown)
				die("out of memory");
			buf = grown;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				die("cannot read %s", path);
			break;
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

/* HS256 token with the hub's claims; the secret is the file's bytes as stored
 * (the hub reads its key file the same way). */
char *mint_token(const unsigned char *key, size_t key_len, const char *sub, const char *role,
		const char *restaurant, long ttl)
{
	jwt_t *jwt = NULL;
	json_t *list = json_array(), *grants = NULL;
	char *grants_text = NULL;
	for (const char *r = restaurant; list && *r;) {
		size_t n = strcspn(r, ",");
		if (n > 0 && json_array_append_new(list, json_stringn(r, n)) != 0)
			die("out of memory");
		r += n + (r[n] == ',');
	}
	grants = list ? json_pack("{s:o}", "restaurants", list) : NULL;
	grants_text = grants ? json_dumps(grants, JSON_COMPACT) : NULL;
	char *encoded, *token;
	time_t now = time(NULL);

	json_decref(grants);
	if (!grants_text || jwt_new(&jwt) != 0
			|| jwt_add_grant(jwt, "sub", sub) != 0
			|| jwt_add_grant(jwt, "role", role) != 0
			|| jwt_add_grant_int(jwt, "iat", (long)now) != 0
			|| jwt_add_grant_int(jwt, "exp", (long)now + ttl) != 0
			|| jwt_add_grants_json(jwt, grants_text) != 0
			|| jwt_set_alg(jwt, JWT_ALG_HS256, key, (int)key_len) != 0
			|| !(encoded = jwt_encode_str(jwt)))
		die("cannot mint a token (libjwt)");
	token = strdup(encoded);
	free(encoded);   /* libjwt 1.x: jwt_encode_str's result is plain malloc */
	jwt_free(jwt);
	free(grants_text);
	if (!token)
		die("out of memory");
	return token;
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '-') return 62;
	if (c == '_') return 63;
	return -1;
}

/* The token's sub claim (unverified: the hub verifies), used as the MQTT
 * username, which the contract requires to equal sub when present. */
void token_sub(const char *token, char *out, size_t outlen)
{
	const char *start = strchr(token, '.'), *end;
	unsigned char *decoded;
	size_t n = 0;
	unsigned bits = 0;
	int nbits = 0;
	json_t *claims;
	const char *sub;

	if (!start || !(end = strchr(start + 1, '.')))
		die("the token is not a JWT (header.payload.signature)");
	start++;
	decoded = malloc((size_t)(end - start) + 1);
	if (!decoded)
		die("out of memory");
	for (const char *p = start; p < end; p++) {
		int v = b64url_value(*p);
		if (v < 0)
			die("the token's payload is not base64url");
		bits = (bits << 6) | (unsigned)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			decoded[n++] = (unsigned char)(bits >> nbits);
			bits &= (1u << nbits) - 1;
		}
	}
	claims = json_loadb((const char *)decoded, n, 0, NULL);
	free(decoded);
	sub = json_string_value(json_object_get(claims, "sub"));
	if (!sub || strlen(sub) >= outlen)
		die("the token has no usable 'sub' claim");
	snprintf(out, outlen, "%s", sub);
	json_decref(claims);
}

void print_problems(const json_t *problems)
{
	for (size_t i = 0; i < json_array_size(problems); i++)
		printf("  PROBLEM: %s\n", json_string_value(json_array_get(problems, i)));
}

void print_report_line(json_t *report, int precision)
{
	char *line = json_dumps(report, JSON_COMPACT | JSON_REAL_PRECISION(precision));
	if (!line)
		die("cannot encode the JSON report");
	printf("%s\n", line);
	fflush(stdout);
	free(line);
	json_decref(report);
}
