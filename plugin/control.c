/*
 * control.c: dispatching fynlo/v1/ctl/{verb} and the in-band token refresh.
 *
 * ctl/token replaces the connection's token when the new one verifies and
 * names the same sub and role; the connection then lives until the new exp.
 * ctl/resume and ctl/snapshot are parsed by core/control_request.c, checked
 * here (the client's view, its right to read the stream) and answered by a
 * reader thread. Every request gets exactly one answer per stream it names.
 */
#include "control.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "ack.h"
#include "control_request.h"
#include "envelope.h"
#include "presence.h"
#include "session_info.h"

/* Publishes {"verb", "code", "reason"} on fynlo/v1/client/{cid}/error. */
static void control_error(const char *client_id, const char *verb, enum fyn_control_code code,
		const char *reason)
{
	fyn_hub_send(client_id, "error", fyn_control_error_text(verb, code, NULL, reason));
}

/* The same with "stream": the stream the problem concerns, so a client that
 * asked for several can tell which one was refused. */
static void stream_error(const char *client_id, const char *verb, enum fyn_control_code code,
		const char *stream, const char *reason)
{
	fyn_hub_send(client_id, "error", fyn_control_error_text(verb, code, stream, reason));
}

static void answer_token(const char *client_id, const char *problem)
{
	fyn_hub_send(client_id, "ack", problem ? fyn_ack_rejected("token", "invalid", problem)
			: strdup("{\"id\":\"token\",\"status\":\"accepted\"}"));
}

static bool same_restaurants(const struct fyn_claims *a, const struct fyn_claims *b)
{
	if (a->restaurant_count != b->restaurant_count) {
		return false;
	}
	for (size_t i = 0; i < a->restaurant_count; i++) {
		if (!fyn_claims_has_restaurant(b, a->restaurants[i])) {
			return false;
		}
	}
	return true;
}

static void refresh_token(struct fyn_hub *hub, struct fyn_session *session, const char *token)
{
	struct fyn_claims claims;
	char reason[256];
	bool moved;

	if (fyn_token_verify(&hub->tokens, token, session->claims.sub, time(NULL), &claims,
			reason, sizeof(reason)) != 0) {
		answer_token(session->client_id, reason);
		return;
	}
	if (claims.role != session->claims.role) {
		fyn_claims_clear(&claims);
		answer_token(session->client_id, "the new token must have the same role");
		return;
	}
	/* A token for other restaurants moves the client's presence with it;
	 * otherwise the old restaurants would keep it for good (the disconnect
	 * clears the restaurants of the token in force then). */
	moved = !same_restaurants(&session->claims, &claims) && fyn_session_is_current(&hub->sessions, session);
	if (moved) {
		fyn_presence_clear(session);
	}
	fyn_session_replace_claims(session, &claims);
	if (moved) {
		fyn_presence_announce(session);
	}
	answer_token(session->client_id, NULL);
	fyn_session_info_publish(hub, session);
}

/* May this client replay or snapshot stream? Returns its view index, or -1
 * after telling the client why not. *scope says whether the ACL lets it
 * read the whole stream in that view (ev/{stream}/{view}/#) or only some
 * of its topics: a kitchen display reads ev/{rid}/redacted/order/# only. A
 * stream the token names (or the platform stream) is then replayed event by
 * event through the ACL; any other is refused. */
static int readable_view(struct fyn_hub *hub, const struct fyn_session *session, const char *verb,
		const char *stream, enum fyn_read_scope *scope)
{
	int view = fyn_acl_view_for(hub->acl, &session->identity);

	*scope = FYN_SCOPE_NONE;
	if (view < 0 || (size_t)view >= hub->views->count) {
		stream_error(session->client_id, verb, FYN_CONTROL_FORBIDDEN, stream,
				"the ACL file gives this role no view of events");
		return -1;
	}
	*scope = fyn_read_scope(hub, session, stream, hub->views->items[view].name);
	if (*scope == FYN_SCOPE_NONE) {
		stream_error(session->client_id, verb, FYN_CONTROL_FORBIDDEN, stream,
				"forbidden: this token may not read that stream");
		return -1;
	}
	return view;
}

/* Hands request to its reader, or answers why not. Returns whether it went. */
static bool submit_read(struct fyn_hub *hub, const struct fyn_session *session, const char *verb,
		const char *stream, struct fyn_read_request *request)
{
	int rc;

	if (!request) {
		stream_error(session->client_id, verb, FYN_CONTROL_UNAVAILABLE, stream, "hub out of memory; retry later");
		return false;
	}
	rc = fyn_reader_submit(request->kind == FYN_READ_SNAPSHOT ? hub->lookups : hub->replays, request);
	if (rc == FYN_PUSH_OK) {
		return true;
	}
	fyn_read_request_free(request);
	stream_error(session->client_id, verb, FYN_CONTROL_BUSY, stream, rc == FYN_PUSH_BUSY
			? "this client has too many requests unanswered; retry once some are answered"
			: "too many requests in progress; retry with backoff");
	return false;
}

static void resume_streams(struct fyn_hub *hub, const struct fyn_session *session,
		const struct fyn_control_request *request)
{
	struct fyn_replay_budget *budget = fyn_replay_budget_new(hub->config.max_replay);
	bool admitted = false;   /* a request is let in past the client's bound whole, or not at all */

	if (!budget) {
		control_error(session->client_id, "resume", FYN_CONTROL_UNAVAILABLE, "hub out of memory; retry later");
		return;
	}
	for (size_t i = 0; i < request->stream_count; i++) {
		const struct fyn_control_stream *s = &request->streams[i];
		enum fyn_read_scope scope;
		int view;
		struct fyn_read_request *r;
		if (s->problem) {
			stream_error(session->client_id, "resume", FYN_CONTROL_INVALID, s->id, s->problem);
			continue;
		}
		if ((view = readable_view(hub, session, "resume", s->id, &scope)) < 0) {
			continue;
		}
		r = fyn_read_request_new(FYN_READ_RESUME, session->client_id, session->claims.sub, s->id, hub->views, (size_t)view);
		if (r) {
			r->after_seq = s->after_seq;
			r->budget = budget;
			r->admitted = admitted;
			atomic_fetch_add(&budget->refs, 1);
		}
		if (r && scope == FYN_SCOPE_SOME && !(r->identity = fyn_session_identity_json(session))) {
			fyn_read_request_free(r);
			r = NULL;
		}
		admitted = submit_read(hub, session, "resume", s->id, r) || admitted;
	}
	fyn_replay_budget_unref(budget);
}

/* The snapshot sections a client that reads only some of a stream may have:
 * each section with the event domain it is built from. Sales and employee
 * activity summarise every order or event, so they need the whole stream. */
static json_t *partial_sections(struct fyn_hub *hub, const struct fyn_session *session, const char *stream,
		const char *view_name, const json_t *requested)
{
	static const char *const sections[][2] = {
		{ "orders", "order/#" }, { "menu", "menu/#" }, { "inventory", "inventory/#" },
	};
	json_t *allowed = json_array();

	for (size_t i = 0; allowed && i < sizeof(sections) / sizeof(sections[0]); i++) {
		bool wanted = !requested;
		size_t index;
		json_t *name;
		json_array_foreach(requested, index, name) {
			wanted = wanted || (json_is_string(name) && strcmp(json_string_value(name), sections[i][0]) == 0);
		}
		if (wanted && fyn_may_subscribe_events(hub, session, stream, view_name, sections[i][1])) {
			json_array_append_new(allowed, json_string(sections[i][0]));
		}
	}
	return allowed;
}

/* The platform snapshot's `restaurants` lists every restaurant (heads and
 * today's sales): only a client that may read every restaurant's events
 * gets it. The sections to send anyone else: those requested (all when
 * none were named), less that one. NULL on OOM. */
static json_t *without_restaurants(const json_t *requested)
{
	static const char *const all[] = { "orders", "menu", "inventory", "sales", "employees" };
	json_t *kept = json_array();
	size_t index;
	json_t *name;
	int rc = 0;

	for (size_t i = 0; kept && !requested && i < sizeof(all) / sizeof(all[0]); i++) {
		rc |= json_array_append_new(kept, json_string(all[i]));
	}
	json_array_foreach(requested, index, name) {
		if (kept && json_is_string(name) && strcmp(json_string_value(name), "restaurants") != 0) {
			rc |= json_array_append(kept, name);
		}
	}
	if (rc != 0) {
		json_decref(kept);
		return NULL;
	}
	return kept;
}

static void snapshot_stream(struct fyn_hub *hub, const struct fyn_session *session,
		const struct fyn_control_request *request)
{
	const char *stream = request->streams[0].id;
	const json_t *sections = request->views;
	struct fyn_read_request *r;
	enum fyn_read_scope scope;
	int view;

	if (request->streams[0].problem) {
		stream_error(session->client_id, "snapshot", FYN_CONTROL_INVALID, stream, request->streams[0].problem);
		return;
	}
	if ((view = readable_view(hub, session, "snapshot", stream, &scope)) < 0) {
		return;
	}
	r = fyn_read_request_new(FYN_READ_SNAPSHOT, session->client_id, session->claims.sub, stream, hub->views, (size_t)view);
	if (r && scope == FYN_SCOPE_SOME) {
		r->sections = partial_sections(hub, session, stream, hub->views->items[view].name, sections);
		if (!r->sections) {
			fyn_read_request_free(r);
			r = NULL;
		} else if (json_array_size(r->sections) == 0 && (!sections || json_array_size(sections) > 0)) {
			fyn_read_request_free(r);
			stream_error(session->client_id, "snapshot", FYN_CONTROL_FORBIDDEN, stream,
					"forbidden: this token may not read that stream's projections");
			return;
		}
	} else if (r && strcmp(stream, FYN_STREAM_PLATFORM) == 0
			&& !fyn_may_subscribe_events(hub, session, "+", hub->views->items[view].name, "#")) {
		if (!(r->sections = without_restaurants(sections))) {
			fyn_read_request_free(r);
			r = NULL;
		}
	} else if (r && sections) {
		r->sections = json_incref((json_t *)sections);
	}
	submit_read(hub, session, "snapshot", stream, r);
}

void fyn_control_handle(struct fyn_hub *hub, struct fyn_session *session, const char *topic,
		const void *payload, size_t payloadlen)
{
	struct fyn_control_request request;

	if (fyn_control_request_parse(topic, payload, payloadlen, &request) != 0) {
		control_error(session->client_id, request.verb_text, FYN_CONTROL_UNAVAILABLE,
				"hub out of memory; retry later");
	} else if (request.verb == FYN_CTL_TOKEN) {
		/* The contract answers ctl/token on the ack topic, also when refused. */
		if (request.problem) {
			answer_token(session->client_id, request.problem);
		} else {
			refresh_token(hub, session, request.token);
		}
	} else if (request.problem) {
		control_error(session->client_id, request.verb_text, FYN_CONTROL_INVALID, request.problem);
	} else if (request.verb == FYN_CTL_RESUME) {
		resume_streams(hub, session, &request);
	} else {
		snapshot_stream(hub, session, &request);
	}
	fyn_control_request_clear(&request);
}
