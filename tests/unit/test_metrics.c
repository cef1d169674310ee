/*
 * test_metrics.c: the metrics texts (core/metrics.c): the Prometheus text
 * parses strictly (HELP and TYPE before each family's samples, valid names,
 * labels and numbers, cumulative histogram buckets ending at +Inf = count),
 * every sample carries the node label, values land where they belong; the
 * retained JSON keeps the contract's keys; timestamps read back
 * (core/timestamp.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "timestamp.h"

/* A strict reader of the text format, enough for what the hub writes:
 * returns the number of samples, or fails the test at the first bad line. */
struct family_seen {
	char name[128];
	char type[16];
};

static const char *sample_pattern =
	"^([a-zA-Z_:][a-zA-Z0-9_:]*)\\{((node=\"[^\"\\\\]*\")(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\")*)\\} "
	"(-?[0-9.]+(e[-+]?[0-9]+)?|\\+Inf|NaN)$";

static bool family_owns(const struct family_seen *f, const char *sample)
{
	size_t n = strlen(f->name);
	if (strncmp(sample, f->name, n) != 0) {
		return false;
	}
	if (sample[n] == '\0') {
		return true;
	}
	return strcmp(f->type, "histogram") == 0 && (strcmp(sample + n, "_bucket") == 0
			|| strcmp(sample + n, "_sum") == 0 || strcmp(sample + n, "_count") == 0);
}

static size_t parse_strictly(const char *text, const char *node_label)
{
	regex_t sample_re;
	regmatch_t m[7];
	struct family_seen family = { "", "" };
	char pending_help[128] = "";
	char *copy = strdup(text), *save = NULL;
	size_t samples = 0;
	double last_bucket = -1;

	assert_non_null(copy);
	assert_int_equal(regcomp(&sample_re, sample_pattern, REG_EXTENDED), 0);
	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], type[16];
		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line, "# HELP %127s", name), 1);
			assert_true(strlen(line) > 8 + strlen(name));   /* some help text */
			snprintf(pending_help, sizeof(pending_help), "%s", name);
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(line, "# TYPE %127s %15s", name, type), 2);
			assert_string_equal(name, pending_help);
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 || strcmp(type, "histogram") == 0);
			if (strcmp(type, "counter") == 0) {
				assert_non_null(strstr(name, "_total"));
			}
			snprintf(family.name, sizeof(family.name), "%s", name);
			snprintf(family.type, sizeof(family.type), "%s", type);
			last_bucket = -1;
		} else {
			char sample_name[128];
			double value;
			if (regexec(&sample_re, line, 7, m, 0) != 0) {
				fail_msg("not a sample line: '%s'", line);
			}
			snprintf(sample_name, sizeof(sample_name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			assert_true(strncmp(sample_name, "fynsync_", 8) == 0);
			if (!family_owns(&family, sample_name)) {
				fail_msg("sample '%s' outside its family '%s'", sample_name, family.name);
			}
			assert_true(strncmp(line + m[3].rm_so, node_label, strlen(node_label)) == 0);
			value = strstr(line, "+Inf") == line + m[5].rm_so ? 1e300 : strtod(line + m[5].rm_so, NULL);
			if (strstr(sample_name, "_bucket")) {
				assert_true(value >= last_bucket);   /* cumulative */
				last_bucket = value;
			} else if (strcmp(family.type, "histogram") == 0 && strstr(sample_name, "_count")) {
				assert_true(value == last_bucket);   /* +Inf bucket == count */
			}
			samples++;
		}
	}
	regfree(&sample_re);
	free(copy);
	return samples;
}

/* The value of the sample line that starts with prefix. */
static double value_of(const char *text, const char *prefix)
{
	const char *line = strstr(text, prefix);
	if (!line) {
		fail_msg("no sample '%s'", prefix);
	}
	return strtod(strchr(line, '}') + 2, NULL);
}

static void sample_metrics(struct fyn_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->at = 1764331200;
	m->connections_active = 3;
	m->connections_opened = 10;
	m->connections_dropped = 2;
	m->reconnects = 4;
	m->auth_failures = 5;
	m->acl_denials = 6;
	m->accepted = 100;
	m->conflicts = 7;
	m->rejected = 1;
	m->unavailable = 8;
	m->store_up = true;
	m->store_calls = 20;
	m->queue_writer = 9;
	m->queue_replays = 11;
	m->sync_lag_s = 0.25;
	m->fanout_events = 12;
	m->fanout_notifications = 13;
	m->fanout_gap_polls = 14;
	m->fanout_reconnects = 15;
	m->fanout_lag_s = 0.125;
	m->alert_window_s = 60;
	m->alert_raised[FYN_ALERT_SYNC_FAILURES] = true;
	m->window.value[FYN_ALERT_SYNC_FAILURES] = 0.08;
	fyn_histogram_observe(&m->delivery_latency, 0.003);
	fyn_histogram_observe(&m->delivery_latency, 0.2);
	fyn_histogram_observe(&m->delivery_latency, 99);
	fyn_histogram_observe(&m->store_commit, 0.0004);
}

static void prometheus_text_parses_strictly(void **state)
{
	struct fyn_metrics m;
	char *text;
	(void)state;
	sample_metrics(&m);
	text = fyn_metrics_prometheus(&m, "node-a");
	assert_non_null(text);
	assert_true(parse_strictly(text, "node=\"node-a\"") > 60);
	free(text);
}

static void values_land_in_their_samples(void **state)
{
	struct fyn_metrics m;
	char *text;
	(void)state;
	sample_metrics(&m);
	text = fyn_metrics_prometheus(&m, "n1");
	assert_non_null(text);
	assert_true(value_of(text, "fynsync_connections_active{node=\"n1\"}") == 3);
	assert_true(value_of(text, "fynsync_connections_dropped_total{node=\"n1\"}") == 2);
	assert_true(value_of(text, "fynsync_reconnects_total{node=\"n1\"}") == 4);
	assert_true(value_of(text, "fynsync_auth_failures_total{node=\"n1\"}") == 5);
	assert_true(value_of(text, "fynsync_acl_denials_total{node=\"n1\"}") == 6);
	assert_true(value_of(text, "fynsync_submissions_total{node=\"n1\",outcome=\"conflict\"}") == 7);
	assert_true(value_of(text, "fynsync_submissions_total{node=\"n1\",outcome=\"unavailable\"}") == 8);
	assert_true(value_of(text, "fynsync_queue_depth{node=\"n1\",queue=\"writer\"}") == 9);
	assert_true(value_of(text, "fynsync_queue_depth{node=\"n1\",queue=\"replays\"}") == 11);
	assert_true(value_of(text, "fynsync_sync_lag_seconds{node=\"n1\"}") == 0.25);
	assert_true(value_of(text, "fynsync_fanout_events_total{node=\"n1\"}") == 12);
	assert_true(value_of(text, "fynsync_fanout_notifications_total{node=\"n1\"}") == 13);
	assert_true(value_of(text, "fynsync_fanout_gap_polls_total{node=\"n1\"}") == 14);
	assert_true(value_of(text, "fynsync_fanout_reconnects_total{node=\"n1\"}") == 15);
	assert_true(value_of(text, "fynsync_fanout_lag_seconds{node=\"n1\"}") == 0.125);
	assert_true(value_of(text, "fynsync_delivery_latency_seconds_bucket{node=\"n1\",le=\"0.005\"}") == 1);
	assert_true(value_of(text, "fynsync_delivery_latency_seconds_bucket{node=\"n1\",le=\"0.25\"}") == 2);
	assert_true(value_of(text, "fynsync_delivery_latency_seconds_bucket{node=\"n1\",le=\"30\"}") == 2);
	assert_true(value_of(text, "fynsync_delivery_latency_seconds_bucket{node=\"n1\",le=\"+Inf\"}") == 3);
	assert_true(value_of(text, "fynsync_delivery_latency_seconds_count{node=\"n1\"}") == 3);
	assert_true(value_of(text, "fynsync_store_commit_seconds_bucket{node=\"n1\",le=\"0.001\"}") == 1);
	assert_true(value_of(text, "fynsync_alert_active{node=\"n1\",alert=\"sync_failures\"}") == 1);
	assert_true(value_of(text, "fynsync_alert_active{node=\"n1\",alert=\"store_query_time\"}") == 0);
	assert_true(value_of(text, "fynsync_alert_threshold{node=\"n1\",alert=\"store_query_time\"}") == 0.5);
	free(text);
}

static void node_label_is_escaped(void **state)
{
	struct fyn_metrics m;
	char *text;
	(void)state;
	sample_metrics(&m);
	text = fyn_metrics_prometheus(&m, "a\"b\\c");
	assert_non_null(text);
	assert_non_null(strstr(text, "fynsync_store_up{node=\"a\\\"b\\\\c\"} 1\n"));
	free(text);
}

static void histogram_buckets_by_upper_bound(void **state)
{
	struct fyn_histogram h;
	(void)state;
	memset(&h, 0, sizeof(h));
	fyn_histogram_observe(&h, 0.001);    /* on the bound: le 0.001 */
	fyn_histogram_observe(&h, 0.0011);
	fyn_histogram_observe(&h, -5);       /* a clock step back counts as 0 */
	fyn_histogram_observe(&h, 1000);
	assert_int_equal(h.buckets[0], 2);
	assert_int_equal(h.buckets[1], 1);
	assert_int_equal(h.buckets[FYN_HISTOGRAM_BOUNDS], 1);
	assert_int_equal(h.count, 4);
	assert_true(h.sum > 1000 && h.sum < 1000.01);
}

static void json_keeps_the_contract_keys(void **state)
{
	struct fyn_metrics m;
	char *text;
	json_t *doc;
	(void)state;
	sample_metrics(&m);
	text = fyn_metrics_json(&m, "n1");
	assert_non_null(text);
	doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	assert_int_equal(json_integer_value(json_object_get(doc, "at")), 1764331200);
	assert_int_equal(json_integer_value(json_object_get(doc, "clients")), 3);
	assert_true(json_is_true(json_object_get(doc, "store_up")));
	assert_int_equal(json_integer_value(json_object_get(doc, "queued")), 9);
	assert_int_equal(json_integer_value(json_object_get(doc, "answered")), 108);
	assert_int_equal(json_integer_value(json_object_get(doc, "unavailable")), 8);
	assert_int_equal(json_integer_value(json_object_get(doc, "batches")), 20);
	assert_string_equal(json_string_value(json_object_get(doc, "node")), "n1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "connections"), "dropped")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(doc, "latency"),
			"delivery"), "count")), 3);
	assert_true(json_is_true(json_object_get(json_object_get(json_object_get(doc, "alerts"), "sync_failures"),
			"raised")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "fanout"), "notifications")), 13);
	assert_true(json_real_value(json_object_get(json_object_get(doc, "fanout"), "lag_s")) == 0.125);
	json_decref(doc);
	free(text);
}

static void timestamps_read_back(void **state)
{
	long long ms;
	char now[FYN_TIMESTAMP_MAX];
	(void)state;
	assert_int_equal(fyn_timestamp_parse_ms("2026-11-28T12:00:00.123Z", &ms), 0);
	assert_true(ms == 1795867200123LL);
	assert_int_equal(fyn_timestamp_parse_ms("2026-11-28T13:00:00.1+01:00", &ms), 0);
	assert_true(ms == 1795867200100LL);
	assert_int_equal(fyn_timestamp_parse_ms("2026-11-28T12:00:00Z", &ms), 0);
	assert_true(ms == 1795867200000LL);
	assert_int_equal(fyn_timestamp_parse_ms("2026-11-28 12:00:00", &ms), -1);
	assert_int_equal(fyn_timestamp_parse_ms("2026-13-28T12:00:00Z", &ms), -1);
	assert_int_equal(fyn_timestamp_parse_ms("2026-11-28T12:00:00.Z", &ms), -1);
	assert_int_equal(fyn_timestamp_parse_ms("yesterday", &ms), -1);
	fyn_timestamp_now(now);
	assert_int_equal(fyn_timestamp_parse_ms(now, &ms), 0);
	assert_true(ms > 1764331200000LL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prometheus_text_parses_strictly),
		cmocka_unit_test(values_land_in_their_samples),
		cmocka_unit_test(node_label_is_escaped),
		cmocka_unit_test(histogram_buckets_by_upper_bound),
		cmocka_unit_test(json_keeps_the_contract_keys),
		cmocka_unit_test(timestamps_read_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
