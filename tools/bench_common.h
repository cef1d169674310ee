/*
 * bench_common.h: helpers shared by the benchmark tools (bench_common.c).
 */
#ifndef FYNSYNC_BENCH_COMMON_H
#define FYNSYNC_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define NS_PER_S 1000000000LL

/* The tool's name, for messages; each main() sets it. */
extern const char *bench_program;

/* Prints "<program>: <message>" and exits 2 (usage or setup error). */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
double parse_double(const char *name, const char *text, double min, double max);
long long parse_int(const char *name, const char *text, long long min, long long max);
/* --mqtt-version: 5 or 311 (libmosquitto's MQTT_PROTOCOL_V5 / V311), else dies. */
int parse_mqtt_version(const char *text);
/* s is 1..max characters of the contract's id alphabet. */
bool id_chars_ok(const char *s, size_t max);
int64_t now_ns(void);   /* CLOCK_MONOTONIC */

/* The whole file (a key file: at most 1 MiB). */
unsigned char *read_file(const char *path, size_t *len);
/* An HS256 token for the restaurants in restaurant (ids separated by commas),
 * keyed with the file's bytes as stored. */
char *mint_token(const unsigned char *key, size_t key_len, const char *sub, const char *role,
		const char *restaurant, long ttl);
/* Prints each string of problems (a JSON array) as "  PROBLEM: ...". */
void print_problems(const json_t *problems);
/* Prints report as one compact JSON line, reals to precision digits (the
 * line the drivers in tests/load read), then releases report. */
void print_report_line(json_t *report, int precision);
/* Copies the token's (unverified) sub claim into out. */
void token_sub(const char *token, char *out, size_t outlen);

#endif
