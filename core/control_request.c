/*
 * control_request.c: parsing fynlo/v1/ctl/{verb} requests (see
 * control_request.h).
 */
#include "control_request.h"

#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "token.h"
#include "topics.h"

static const char *const verb_names[] = {
	[FYN_CTL_RESUME] = "resume",
	[FYN_CTL_SNAPSHOT] = "snapshot",
	[FYN_CTL_TOKEN] = "token",
};

bool fyn_topic_is_control(const char *topic)
{
	return strncmp(topic, FYN_CONTROL_PREFIX, strlen(FYN_CONTROL_PREFIX)) == 0
		|| strcmp(topic, FYN_CTL_TOPIC) == 0;
}

const char *fyn_control_verb_name(enum fyn_control_verb verb)
{
	return verb > FYN_CTL_UNKNOWN && verb <= FYN_CTL_TOKEN ? verb_names[verb] : NULL;
}

/* The verb level as sent ("" for the bare fynlo/v1/ctl), made safe to
 * echo: printable ASCII, bounded. */
static void copy_verb(const char *topic, char out[FYN_CONTROL_VERB_MAX + 1])
{
	size_t prefix = strlen(FYN_CONTROL_PREFIX);
	const char *verb = strncmp(topic, FYN_CONTROL_PREFIX, prefix) == 0 ? topic + prefix : "";
	size_t len = 0;

	for (; len < FYN_CONTROL_VERB_MAX && verb[len]; len++) {
		out[len] = verb[len];
		if (verb[len] < 0x20 || verb[len] >= 0x7f) {
			out[len] = '?';
		}
	}
	out[len] = '\0';
}

/* Exactly fynlo/v1/ctl/{verb}: ctl/resume/x is no verb. */
static enum fyn_control_verb verb_of(const char *topic)
{
	size_t prefix = strlen(FYN_CONTROL_PREFIX);
	for (int v = FYN_CTL_RESUME; v <= FYN_CTL_TOKEN && strncmp(topic, FYN_CONTROL_PREFIX, prefix) == 0; v++) {
		if (strcmp(topic + prefix, verb_names[v]) == 0) {
			return (enum fyn_control_verb)v;
		}
	}
	return FYN_CTL_UNKNOWN;
}

/* Why stream cannot be named at all, or NULL. */
static const char *stream_problem(const char *stream)
{
	if (strcmp(stream, FYN_STREAM_PLATFORM) != 0 && !fyn_restaurant_id_is_valid(stream)) {
		return "stream ids are restaurant ids ([A-Za-z0-9_-]{1,64}) or platform";
	}
	return NULL;
}

static int parse_resume(struct fyn_control_request *r)
{
	const json_t *streams = json_object_get(r->doc, "streams");
	const char *stream;
	json_t *seq;

	if (!json_is_object(streams) || json_object_size(streams) == 0
			|| json_object_size(streams) > FYN_RESUME_MAX_STREAMS) {
		r->problem = "field streams must be an object {\"stream\": last_seq} of 1 to 256 streams";
		return 0;
	}
	if (!(r->streams = calloc(json_object_size(streams), sizeof(*r->streams)))) {
		return -1;
	}
	json_object_foreach((json_t *)streams, stream, seq) {
		struct fyn_control_stream *s = &r->streams[r->stream_count++];
		s->id = stream;
		if (!json_is_integer(seq) || json_integer_value(seq) < 0) {
			s->problem = "each stream's last seq must be an integer >= 0";
		} else {
			s->after_seq = json_integer_value(seq);
			s->problem = stream_problem(stream);
		}
	}
	return 0;
}

static int parse_snapshot(struct fyn_control_request *r)
{
	const char *stream = json_string_value(json_object_get(r->doc, "stream"));
	const json_t *views = json_object_get(r->doc, "views");

	if (!stream || (views && !json_is_array(views))) {
		r->problem = "the request is {\"stream\": id, \"views\": [names]} (views optional)";
		return 0;
	}
	if (!(r->streams = calloc(1, sizeof(*r->streams)))) {
		return -1;
	}
	r->stream_count = 1;
	r->streams[0].id = stream;
	r->streams[0].problem = stream_problem(stream);
	r->views = views;
	return 0;
}

int fyn_control_request_parse(const char *topic, const void *payload, size_t payloadlen,
		struct fyn_control_request *out)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	copy_verb(topic, out->verb_text);
	out->verb = verb_of(topic);
	if (out->verb == FYN_CTL_UNKNOWN) {
		out->problem = "unknown request; the verbs are fynlo/v1/ctl/resume, snapshot and token";
		return 0;
	}
	out->doc = payloadlen <= FYN_CONTROL_MAX_BYTES
		? json_loadb(payload, payloadlen, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!json_is_object(out->doc)) {
		out->problem = "the request must be a JSON object of at most 16 KiB";
		return 0;
	}
	switch (out->verb) {
	case FYN_CTL_RESUME:
		rc = parse_resume(out);
		break;
	case FYN_CTL_SNAPSHOT:
		rc = parse_snapshot(out);
		break;
	case FYN_CTL_TOKEN:
		out->token = json_string_value(json_object_get(out->doc, "token"));
		out->problem = out->token ? NULL : "field token must be a JWT string";
		break;
	case FYN_CTL_UNKNOWN:
		break;
	}
	if (rc != 0) {
		json_decref(out->doc);
		free(out->streams);
		out->doc = NULL;
		out->streams = NULL;
		out->stream_count = 0;
	}
	return rc;
}

void fyn_control_request_clear(struct fyn_control_request *request)
{
	json_decref(request->doc);
	free(request->streams);
	memset(request, 0, sizeof(*request));
}
