/*
 * alerts.c: the window and the thresholds (see alerts.h).
 */
#include "alerts.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[FYN_ALERT_COUNT] = {
	"connection_drops", "delivery_latency", "sync_failures", "store_query_time",
};

/* The brief's thresholds: ratios 0..1 and seconds. */
static const double thresholds[FYN_ALERT_COUNT] = { 0.05, 1.0, 0.01, 0.5 };

const char *fyn_alert_name(enum fyn_alert_kind kind)
{
	return kind < FYN_ALERT_COUNT ? names[kind] : "unknown";
}

double fyn_alert_threshold(enum fyn_alert_kind kind)
{
	return kind < FYN_ALERT_COUNT ? thresholds[kind] : 0;
}

int fyn_alerts_init(struct fyn_alerts *a, int window_s, unsigned long long min_count)
{
	memset(a, 0, sizeof(*a));
	/* One sample a second, plus the one the window's differences start from;
	 * samples taken faster than that shorten the window rather than grow it. */
	a->capacity = (size_t)(window_s > 0 ? window_s : 1) + 2;
	a->ring = calloc(a->capacity, sizeof(*a->ring));
	a->window_ms = (long long)(window_s > 0 ? window_s : 1) * 1000;
	a->min_count = min_count;
	return a->ring ? 0 : -1;
}

void fyn_alerts_clear(struct fyn_alerts *a)
{
	free(a->ring);
	memset(a, 0, sizeof(*a));
}

static const struct fyn_alert_sample *nth(const struct fyn_alerts *a, size_t i)
{
	return &a->ring[(a->first + i) % a->capacity];
}

static void push(struct fyn_alerts *a, const struct fyn_alert_sample *s)
{
	if (a->count == a->capacity) {
		a->first = (a->first + 1) % a->capacity;
		a->count--;
	}
	a->ring[(a->first + a->count) % a->capacity] = *s;
	a->count++;
	/* Keep one sample at or before the window's start: the differences
	 * start there. */
	while (a->count > 2 && nth(a, 1)->at_ms <= s->at_ms - a->window_ms) {
		a->first = (a->first + 1) % a->capacity;
		a->count--;
	}
}

static double ratio(unsigned long long part, unsigned long long whole, unsigned long long min_count)
{
	return whole > 0 && whole >= min_count ? (double)part / (double)whole : 0;
}

static void evaluate(const struct fyn_alerts *a, struct fyn_alert_values *v)
{
	const struct fyn_alert_sample *old = nth(a, 0), *now = nth(a, a->count - 1);
	unsigned long long answered = now->answered - old->answered;
	unsigned long long delivered = now->delivered - old->delivered;
	unsigned long long calls = now->store_calls - old->store_calls;
	double store_mean = calls > 0 ? (now->store_s - old->store_s) / (double)calls : 0;

	v->value[FYN_ALERT_CONNECTION_DROPS] = ratio(now->connections_dropped - old->connections_dropped,
			old->connections_active + (now->connections_opened - old->connections_opened), a->min_count);
	v->value[FYN_ALERT_DELIVERY_LATENCY] = delivered > 0 ? (now->delivery_s - old->delivery_s) / (double)delivered : 0;
	v->value[FYN_ALERT_SYNC_FAILURES] = ratio(now->unavailable - old->unavailable, answered, a->min_count);
	v->value[FYN_ALERT_STORE_QUERY_TIME] = now->store_call_running_s > store_mean ? now->store_call_running_s : store_mean;
	v->conflict_rate = ratio(now->conflicts - old->conflicts, answered, 1);
}

size_t fyn_alerts_update(struct fyn_alerts *a, const struct fyn_alert_sample *sample,
		struct fyn_alert_change changes[FYN_ALERT_COUNT])
{
	size_t n = 0;

	push(a, sample);
	evaluate(a, &a->values);
	for (int k = 0; k < FYN_ALERT_COUNT; k++) {
		bool above = a->values.value[k] > thresholds[k];
		if (above != a->raised[k]) {
			a->raised[k] = above;
			changes[n++] = (struct fyn_alert_change){ .kind = (enum fyn_alert_kind)k, .raised = above,
				.value = a->values.value[k], .threshold = thresholds[k] };
		}
	}
	return n;
}
