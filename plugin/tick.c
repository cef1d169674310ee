/*
 * tick.c: MOSQ_EVT_TICK: the broker thread's regular work.
 *
 * Publishes what the writer and readers finished (publish.c; their wake
 * signal makes the tick come at once), answers `unavailable` for queued jobs past their
 * deadline, disconnects clients whose token has expired, saves durable
 * cursors, forgets offline sessions mosquitto is done with (sessions.h) and
 * refreshes the retained fynlo/v1/sys/metrics.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth.h"
#include "durable.h"
#include "hub.h"
#include "ack.h"
#include "job.h"

#define EXPIRY_CHECK_INTERVAL_MS 250
#define METRICS_INTERVAL_MS 5000

static void answer_expired_jobs(struct fyn_hub *hub, long long now_ms)
{
	struct fyn_job *job = fyn_pipeline_take_expired(hub->pipeline, now_ms);
	while (job) {
		struct fyn_job *next = (struct fyn_job *)job->work.next;
		fyn_hub_reject(job->client_id, job->id, "unavailable",
				"the event store did not take the event in time; retry with backoff");
		fyn_job_free(job);
		job = next;
	}
}

static void disconnect_if_expired(struct fyn_session *session, void *arg)
{
	struct fyn_hub *hub = arg;
	if (time(NULL) >= session->claims.exp + hub->tokens.leeway_s && fyn_session_is_current(&hub->sessions, session)) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "fynsync: disconnecting client '%s' (sub %s): its token "
				"expired and was not refreshed on fynlo/v1/ctl/token.", session->client_id, session->claims.sub);
		mosquitto_kick_client_by_clientid(session->client_id, false);
	}
}

static void publish_metrics(struct fyn_hub *hub)
{
	struct fyn_pipeline_stats stats;
	char *text;

	fyn_pipeline_stats(hub->pipeline, &stats);
	text = fyn_json_text(json_pack("{s:I, s:I, s:b, s:I, s:I, s:I, s:I}",
			"at", (json_int_t)time(NULL),
			"clients", (json_int_t)fyn_sessions_count(&hub->sessions),
			"store_up", stats.store_up,
			"queued", (json_int_t)stats.queued,
			"answered", (json_int_t)stats.appended_jobs,
			"unavailable", (json_int_t)stats.unavailable_jobs,
			"batches", (json_int_t)stats.accepted_batches));
	if (text) {
		mosquitto_broker_publish_copy(NULL, "fynlo/v1/sys/metrics", (int)strlen(text), text, 0, true, NULL);
		free(text);
	}
}

int fyn_on_tick(int event, void *event_data, void *userdata)
{
	struct fyn_hub *hub = userdata;
	long long now_ms = fyn_now_ms();

	(void)event;
	(void)event_data;
	fyn_auth_reload_finished();
	fyn_sessions_end_closing(&hub->sessions);
	fyn_hub_drain_completions(hub);
	answer_expired_jobs(hub, now_ms);
	fyn_durable_flush(hub, now_ms);
	if (now_ms >= hub->next_expiry_check_ms) {
		hub->next_expiry_check_ms = now_ms + EXPIRY_CHECK_INTERVAL_MS;
		fyn_sessions_each(&hub->sessions, disconnect_if_expired, hub);
	}
	if (now_ms >= hub->next_metrics_ms) {
		hub->next_metrics_ms = now_ms + METRICS_INTERVAL_MS;
		publish_metrics(hub);
	}
	return MOSQ_ERR_SUCCESS;
}
