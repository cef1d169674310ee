/*
 * durable.c: durable cursors and filters for persistent sessions (see
 * durable.h). Runs on the broker thread; the database work goes to the
 * reader thread as batched operations.
 */
#include "durable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "redact.h"
#include "topics.h"

#define FLUSH_INTERVAL_MS 1000
#define MAX_STREAMS_PER_CLIENT 1024

/* Unsaved cursor moves kept while the database is away; beyond this they
 * are dropped, so devices get more events again, never fewer (a cursor that
 * is not saved stays behind). Filter changes are always kept. */
#define MAX_PENDING_OPS 100000

static void add_op(struct fyn_hub *hub, json_t *op)
{
	bool is_cursor = op && strcmp(json_string_value(json_object_get(op, "op")), "cursor") == 0;

	if (!op) {
		return;
	}
	if (!hub->durable_ops && !(hub->durable_ops = json_array())) {
		json_decref(op);
		return;
	}
	if (is_cursor && json_array_size(hub->durable_ops) >= MAX_PENDING_OPS) {
		json_decref(op);
		return;
	}
	json_array_append_new(hub->durable_ops, op);
}

static void request_auto_resume(struct fyn_hub *hub, struct fyn_session *session)
{
	int view = fyn_acl_view_for(hub->acl, &session->identity);
	struct fyn_read_request *r;

	if (view < 0 || (size_t)view >= hub->views->count) {
		return;
	}
	r = fyn_read_request_new(FYN_READ_AUTO_RESUME, session->client_id, session->claims.sub, "", hub->views, (size_t)view);
	if (r && (r->identity = fyn_session_identity_json(session)) && fyn_reader_submit(hub->replays, r) == 0) {
		hub->metrics.replays++;
		return;
	}
	fyn_read_request_free(r);
	mosquitto_log_printf(MOSQ_LOG_WARNING, "fynsync: could not schedule the automatic resume of '%s' "
			"(reader busy or out of memory); the client can send fynlo/v1/ctl/resume itself.", session->client_id);
}

void fyn_durable_on_connect(struct fyn_hub *hub, struct fyn_session *session, bool clean_session)
{
	session->persistent = !clean_session;
	if (clean_session) {
		add_op(hub, json_pack("{s:s, s:s}", "op", "forget", "client_id", session->client_id));
	} else {
		request_auto_resume(hub, session);
	}
}

void fyn_durable_on_subscribe(struct fyn_hub *hub, struct fyn_session *session, const char *filter)
{
	char stream[FYN_STREAM_MAX + 1];
	if (!session->persistent || !fyn_topic_is_event(filter)) {
		return;
	}
	add_op(hub, json_pack("{s:s, s:s, s:s}", "op", "subscribe", "client_id", session->client_id,
			"filter", filter));
	if (fyn_event_stream_of(filter, stream) && strcmp(stream, "+") != 0 && strcmp(stream, "#") != 0) {
		add_op(hub, json_pack("{s:s, s:s, s:s}", "op", "start", "client_id", session->client_id,
				"stream", stream));
	}
}

void fyn_durable_on_unsubscribe(struct fyn_hub *hub, struct fyn_session *session, const char *filter)
{
	if (session->persistent && fyn_topic_is_event(filter)) {
		add_op(hub, json_pack("{s:s, s:s, s:s}", "op", "unsubscribe", "client_id", session->client_id,
				"filter", filter));
	}
}

static struct fyn_stream_cursor *cursor_for(struct fyn_session *session, const char *stream)
{
	struct fyn_stream_cursor *grown;
	for (size_t i = 0; i < session->cursor_count; i++) {
		if (strcmp(session->cursors[i].stream, stream) == 0) {
			return &session->cursors[i];
		}
	}
	if (session->cursor_count >= MAX_STREAMS_PER_CLIENT) {
		return NULL;
	}
	grown = realloc(session->cursors, (session->cursor_count + 1) * sizeof(*grown));
	if (!grown) {
		return NULL;
	}
	session->cursors = grown;
	grown = &session->cursors[session->cursor_count++];
	memset(grown, 0, sizeof(*grown));
	snprintf(grown->stream, sizeof(grown->stream), "%s", stream);
	return grown;
}

void fyn_durable_on_delivery(struct fyn_session *session, const char *topic,
		const void *payload, size_t payloadlen)
{
	char stream[FYN_STREAM_MAX + 1];
	struct fyn_stream_cursor *cursor;
	long long seq;

	if (!session->persistent || !payload || !fyn_event_stream_of(topic, stream)) {
		return;
	}
	seq = fyn_event_text_seq(payload, payloadlen);
	cursor = seq > 0 ? cursor_for(session, stream) : NULL;
	if (cursor && seq > cursor->routed) {
		cursor->routed = seq;
	}
}

static void save_cursor(struct fyn_hub *hub, const struct fyn_session *session,
		struct fyn_stream_cursor *cursor, long long seq)
{
	if (seq > cursor->saved) {
		cursor->saved = seq;
		add_op(hub, json_pack("{s:s, s:s, s:s, s:I}", "op", "cursor", "client_id", session->client_id,
				"stream", cursor->stream, "seq", (json_int_t)seq));
	}
}

void fyn_durable_on_disconnect(struct fyn_hub *hub, struct fyn_session *session)
{
	for (size_t i = 0; session->persistent && i < session->cursor_count; i++) {
		save_cursor(hub, session, &session->cursors[i], session->cursors[i].previous);
	}
}

/* What was routed before the previous flush is at least one interval old:
 * that much is counted as received. */
static void age_cursors(struct fyn_session *session, void *arg)
{
	struct fyn_hub *hub = arg;
	for (size_t i = 0; session->persistent && i < session->cursor_count; i++) {
		struct fyn_stream_cursor *cursor = &session->cursors[i];
		save_cursor(hub, session, cursor, cursor->previous);
		cursor->previous = cursor->routed;
	}
}

void fyn_durable_flush(struct fyn_hub *hub, long long now_ms)
{
	struct fyn_read_request *r;

	if (now_ms < hub->next_durable_flush_ms) {
		return;
	}
	hub->next_durable_flush_ms = now_ms + FLUSH_INTERVAL_MS;
	fyn_sessions_each(&hub->sessions, age_cursors, hub);
	if (!hub->durable_ops) {
		return;
	}
	r = fyn_read_request_new(FYN_READ_SAVE_STATE, "", "", "", hub->views, 0);
	if (r) {
		r->ops = hub->durable_ops;
		hub->durable_ops = NULL;
		if (fyn_reader_submit(hub->lookups, r) == 0) {
			return;
		}
		hub->durable_ops = r->ops;   /* keep them for the next flush */
		r->ops = NULL;
		fyn_read_request_free(r);
	}
}
