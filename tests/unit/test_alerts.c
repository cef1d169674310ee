/*
 * test_alerts.c: alert evaluation over the window (core/alerts.c): each of
 * the brief's thresholds raises exactly when crossed and clears when the
 * condition has left the window; a running store call raises at once; the
 * minimum count keeps a few events from deciding a ratio.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "alerts.h"

struct run {
	struct fyn_alerts alerts;
	struct fyn_alert_sample s;        /* the cumulative counters so far */
	struct fyn_alert_change changes[FYN_ALERT_COUNT];
	size_t changed;
};

/* One second passes; then the sample is added. */
static void tick(struct run *r)
{
	r->s.at_ms += 1000;
	r->changed = fyn_alerts_update(&r->alerts, &r->s, r->changes);
}

static void start(struct run *r, int window_s, unsigned long long min_count)
{
	memset(r, 0, sizeof(*r));
	assert_int_equal(fyn_alerts_init(&r->alerts, window_s, min_count), 0);
	r->s.at_ms = 1000000;
	tick(r);
	assert_int_equal(r->changed, 0);
}

static void expect_change(const struct run *r, enum fyn_alert_kind kind, bool raised)
{
	assert_int_equal(r->changed, 1);
	assert_int_equal(r->changes[0].kind, kind);
	assert_int_equal(r->changes[0].raised, raised);
	assert_true(r->changes[0].threshold == fyn_alert_threshold(kind));
}

static void names_and_thresholds(void **state)
{
	(void)state;
	assert_string_equal(fyn_alert_name(FYN_ALERT_CONNECTION_DROPS), "connection_drops");
	assert_string_equal(fyn_alert_name(FYN_ALERT_DELIVERY_LATENCY), "delivery_latency");
	assert_string_equal(fyn_alert_name(FYN_ALERT_SYNC_FAILURES), "sync_failures");
	assert_string_equal(fyn_alert_name(FYN_ALERT_STORE_QUERY_TIME), "store_query_time");
	assert_true(fyn_alert_threshold(FYN_ALERT_CONNECTION_DROPS) == 0.05);
	assert_true(fyn_alert_threshold(FYN_ALERT_DELIVERY_LATENCY) == 1.0);
	assert_true(fyn_alert_threshold(FYN_ALERT_SYNC_FAILURES) == 0.01);
	assert_true(fyn_alert_threshold(FYN_ALERT_STORE_QUERY_TIME) == 0.5);
}

static void sync_failures_raise_above_one_percent_and_clear_after_the_window(void **state)
{
	struct run r;
	(void)state;
	start(&r, 10, 1);
	r.s.answered += 100;      /* exactly 1%: not above */
	r.s.unavailable += 1;
	tick(&r);
	assert_int_equal(r.changed, 0);
	assert_true(r.alerts.values.value[FYN_ALERT_SYNC_FAILURES] == 0.01);
	r.s.answered += 100;
	r.s.unavailable += 2;     /* 3 of 200 */
	tick(&r);
	expect_change(&r, FYN_ALERT_SYNC_FAILURES, true);
	assert_true(r.changes[0].value == 0.015);
	assert_true(r.alerts.raised[FYN_ALERT_SYNC_FAILURES]);
	for (int i = 0; i < 8; i++) {   /* still inside the 10 s window */
		r.s.answered += 10;
		tick(&r);
		assert_int_equal(r.changed, 0);
	}
	r.s.answered += 10;
	tick(&r);                       /* the first failure left the window: 2 of 270 */
	assert_int_equal(r.changed, 0);
	r.s.answered += 10;
	tick(&r);                       /* the other two left as well */
	expect_change(&r, FYN_ALERT_SYNC_FAILURES, false);
	assert_true(r.changes[0].value == 0);
	fyn_alerts_clear(&r.alerts);
}

static void connection_drops_count_connections_of_the_window(void **state)
{
	struct run r;
	(void)state;
	start(&r, 60, 1);
	r.s.connections_active = 100;
	r.s.connections_opened = 100;
	tick(&r);
	assert_int_equal(r.changed, 0);
	/* 100 active at the window's start (the first sample had none open) plus
	 * none opened since: 6 drops are 6% once the first sample has left. */
	for (int i = 0; i < 61; i++) {
		tick(&r);
	}
	r.s.connections_dropped += 5;
	r.s.connections_active -= 5;
	tick(&r);
	assert_int_equal(r.changed, 0);    /* 5% */
	r.s.connections_dropped += 1;
	r.s.connections_active -= 1;
	tick(&r);
	expect_change(&r, FYN_ALERT_CONNECTION_DROPS, true);
	assert_true(r.changes[0].value == 0.06);
	fyn_alerts_clear(&r.alerts);
}

static void min_count_keeps_a_few_from_deciding(void **state)
{
	struct run r;
	(void)state;
	start(&r, 60, 20);
	r.s.connections_opened += 3;
	r.s.connections_dropped += 1;     /* one of three: not enough to say */
	r.s.answered += 5;
	r.s.unavailable += 5;
	tick(&r);
	assert_int_equal(r.changed, 0);
	r.s.answered += 15;               /* 5 of 20 */
	tick(&r);
	expect_change(&r, FYN_ALERT_SYNC_FAILURES, true);
	fyn_alerts_clear(&r.alerts);
}

static void delivery_latency_is_the_windows_mean(void **state)
{
	struct run r;
	(void)state;
	start(&r, 5, 20);
	r.s.delivered += 2;
	r.s.delivery_s += 1.9;            /* mean 0.95 s */
	tick(&r);
	assert_int_equal(r.changed, 0);
	r.s.delivered += 1;
	r.s.delivery_s += 1.5;            /* 3.4 s over 3 */
	tick(&r);
	expect_change(&r, FYN_ALERT_DELIVERY_LATENCY, true);
	assert_true(r.changes[0].value > 1.13 && r.changes[0].value < 1.14);
	r.s.delivered += 10;
	r.s.delivery_s += 0.1;            /* a mean: 3.5 s over 13 */
	tick(&r);
	expect_change(&r, FYN_ALERT_DELIVERY_LATENCY, false);
	assert_true(r.changes[0].value > 0.26 && r.changes[0].value < 0.27);
	fyn_alerts_clear(&r.alerts);
}

static void store_query_time_raises_while_a_call_runs(void **state)
{
	struct run r;
	(void)state;
	start(&r, 3, 20);
	r.s.store_call_running_s = 0.4;
	tick(&r);
	assert_int_equal(r.changed, 0);
	r.s.store_call_running_s = 1.4;   /* frozen database: no call completes */
	tick(&r);
	expect_change(&r, FYN_ALERT_STORE_QUERY_TIME, true);
	assert_true(r.changes[0].value == 1.4);
	r.s.store_call_running_s = 0;     /* it finished, after 2.4 s */
	r.s.store_calls += 1;
	r.s.store_s += 2.4;
	tick(&r);
	assert_int_equal(r.changed, 0);   /* the window's mean still says so */
	for (int i = 0; i < 2; i++) {     /* 2.401 s over 2 calls, then 2.402 s over 3 */
		r.s.store_calls += 1;
		r.s.store_s += 0.001;
		tick(&r);
		assert_int_equal(r.changed, 0);
	}
	r.s.store_calls += 1;
	r.s.store_s += 0.001;
	tick(&r);                         /* the slow call left the window */
	expect_change(&r, FYN_ALERT_STORE_QUERY_TIME, false);
	fyn_alerts_clear(&r.alerts);
}

static void conflict_rate_over_the_window(void **state)
{
	struct run r;
	(void)state;
	start(&r, 60, 20);
	r.s.answered += 40;
	r.s.conflicts += 10;
	tick(&r);
	assert_int_equal(r.changed, 0);   /* no threshold: a value for the dashboard */
	assert_true(r.alerts.values.conflict_rate == 0.25);
	fyn_alerts_clear(&r.alerts);
}

static void faster_samples_shorten_the_window_but_stay_bounded(void **state)
{
	struct run r;
	(void)state;
	start(&r, 2, 1);
	for (int i = 0; i < 100; i++) {
		r.s.at_ms += 10;
		r.s.answered += 1;
		r.changed = fyn_alerts_update(&r.alerts, &r.s, r.changes);
		assert_true(r.alerts.count <= r.alerts.capacity);
	}
	assert_int_equal(r.alerts.capacity, 4);
	fyn_alerts_clear(&r.alerts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_and_thresholds),
		cmocka_unit_test(sync_failures_raise_above_one_percent_and_clear_after_the_window),
		cmocka_unit_test(connection_drops_count_connections_of_the_window),
		cmocka_unit_test(min_count_keeps_a_few_from_deciding),
		cmocka_unit_test(delivery_latency_is_the_windows_mean),
		cmocka_unit_test(store_query_time_raises_while_a_call_runs),
		cmocka_unit_test(conflict_rate_over_the_window),
		cmocka_unit_test(faster_samples_shorten_the_window_but_stay_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
