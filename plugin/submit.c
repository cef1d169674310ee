/*
 * submit.c: MOSQ_EVT_MESSAGE: submissions on fynlo/v1/in/ and requests on
 * fynlo/v1/ctl/ (and their bare roots, each answered as malformed).
 *
 * A submission is checked here on the broker thread (size, JSON, ACL, field
 * types), answered at once when it is refused, and otherwise queued for the
 * writer thread, which answers after the commit. Nothing under in/ or ctl/
 * is retained; nobody may read it, so mosquitto's routing finds no one.
 */
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "control.h"
#include "control_request.h"
#include "envelope.h"
#include "hub.h"
#include "job.h"
#include "topics.h"

static bool may_write_stream(const struct fyn_session *session, const char *stream)
{
	if (session->claims.role == FYN_ROLE_PLATFORM_OWNER) {
		return true;
	}
	return strcmp(stream, FYN_STREAM_PLATFORM) != 0 && fyn_claims_has_restaurant(&session->claims, stream);
}

/* The batch element: the envelope plus what the hub decides itself. */
static json_t *element_for(json_t *event, const struct fyn_session *session, const char *stream)
{
	if (json_object_set_new(event, "restaurant", json_string(stream)) != 0
			|| json_object_set_new(event, "created_by", json_string(session->claims.sub)) != 0
			|| json_object_set_new(event, "client_id", json_string(session->client_id)) != 0) {
		json_decref(event);
		return NULL;
	}
	return event;
}

static void enqueue(struct fyn_hub *hub, const struct fyn_session *session, const char *stream,
		struct fyn_envelope_check *check)
{
	long long deadline = fyn_now_ms() + hub->config.commit_timeout_ms;
	json_t *element = element_for(check->event, session, stream);
	struct fyn_job *job;

	check->event = NULL;
	job = element ? fyn_job_new(session->client_id, session->claims.sub, check->id, element, deadline) : NULL;
	if (job) {
		job->received_ms = fyn_wall_ms();
	}
	if (!job) {
		fyn_hub_reject(session->client_id, check->id, "unavailable", "hub out of memory; retry later");
	} else if (fyn_pipeline_submit(hub->pipeline, job) != 0) {
		hub->metrics.unavailable++;
		fyn_job_free(job);
		fyn_hub_reject(session->client_id, check->id, "unavailable",
				"the hub's write queue is full; retry with backoff");
	}
}

static void handle_submission(struct fyn_hub *hub, const struct fyn_session *session,
		struct mosquitto_evt_message *ed)
{
	struct fyn_submit_topic topic;
	struct fyn_envelope_check check;
	char reason[256];
	bool topic_ok = fyn_submit_topic_parse(ed->topic, &topic, reason, sizeof(reason));

	fyn_envelope_check(topic_ok ? &topic : NULL, ed->payload, ed->payloadlen,
			hub->config.max_event_bytes, &check);
	if (check.parsed && topic_ok && (!may_write_stream(session, topic.stream)
			|| !fyn_acl_check_topic(hub->acl, &session->identity, ed->topic, FYN_ACCESS_WRITE).allowed)) {
		hub->metrics.acl_denials++;
		fyn_hub_reject(session->client_id, check.id, "forbidden",
				"this token may not submit to this topic (see the ACL file)");
	} else if (check.code != FYN_OK) {
		fyn_hub_reject(session->client_id, check.id, fyn_reject_code_name(check.code),
				topic_ok ? check.reason : reason);
	} else {
		enqueue(hub, session, topic.stream, &check);
	}
	json_decref(check.event);
}

int fyn_on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	struct fyn_hub *hub = userdata;
	struct fyn_session *session;
	/* The bare fynlo/v1/in is answered as a submission on a malformed topic. */
	bool submission = fyn_topic_is_submission(ed->topic) || strcmp(ed->topic, FYN_IN_TOPIC) == 0;

	(void)event;
	if (!submission && !fyn_topic_is_control(ed->topic)) {
		return MOSQ_ERR_SUCCESS;
	}
	ed->retain = false;
	session = fyn_sessions_find(&hub->sessions, ed->client);
	if (!session) {
		return MOSQ_ERR_ACL_DENIED;
	}
	if (submission) {
		handle_submission(hub, session, ed);
	} else {
		fyn_control_handle(hub, session, ed->topic, ed->payload, ed->payloadlen);
	}
	return MOSQ_ERR_SUCCESS;
}
