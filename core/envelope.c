/*
 * envelope.c: topic parsing and submission validation (see envelope.h).
 *
 * Everything here runs on the broker thread for every submission, so it does
 * one parse, no allocation beyond jansson's, and stops at the first problem.
 */
#include "envelope.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ack.h"

#define SUBMIT_PREFIX "fynlo/v1/in/"
#define AGGREGATE_ID_MAX 256

bool fyn_topic_is_submission(const char *topic)
{
	return strncmp(topic, SUBMIT_PREFIX, strlen(SUBMIT_PREFIX)) == 0;
}

static bool is_level_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* Copies one topic level from *cursor into out, advancing past the '/'. */
static bool take_level(const char **cursor, char *out, bool last)
{
	const char *start = *cursor;
	size_t len = 0;
	while (start[len] && start[len] != '/') {
		if (!is_level_char(start[len]) || len >= FYN_TOPIC_LEVEL_MAX) {
			return false;
		}
		len++;
	}
	if (len == 0 || (last ? start[len] != '\0' : start[len] != '/')) {
		return false;
	}
	memcpy(out, start, len);
	out[len] = '\0';
	*cursor = start + len + (last ? 0 : 1);
	return true;
}

bool fyn_submit_topic_parse(const char *topic, struct fyn_submit_topic *out,
		char *reason, size_t reasonlen)
{
	const char *cursor = topic + strlen(SUBMIT_PREFIX);
	if (!fyn_topic_is_submission(topic) || !take_level(&cursor, out->stream, false)
			|| !take_level(&cursor, out->domain, false)
			|| !take_level(&cursor, out->action, true)) {
		snprintf(reason, reasonlen, "submission topics are fynlo/v1/in/{restaurant}/{domain}/{action}, "
				"each level 1-64 characters of [A-Za-z0-9_-]");
		return false;
	}
	return true;
}

bool fyn_is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		bool ok = shape[i] == '-' ? s[i] == '-' : isxdigit((unsigned char)s[i]) != 0;
		if (!ok) {
			return false;
		}
	}
	return s[sizeof(shape) - 1] == '\0';
}

/* Reads exactly n digits into *value. */
static bool take_digits(const char **s, int n, int *value)
{
	*value = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i])) {
			return false;
		}
		*value = *value * 10 + ((*s)[i] - '0');
	}
	*s += n;
	return true;
}

static bool take_char(const char **s, char c)
{
	if (**s != c) {
		return false;
	}
	(*s)++;
	return true;
}

static bool take_zone(const char *s)
{
	int hh, mm;
	if (*s == 'Z' || *s == 'z') {
		return s[1] == '\0';
	}
	if (*s != '+' && *s != '-') {
		return false;
	}
	s++;
	return take_digits(&s, 2, &hh) && take_char(&s, ':') && take_digits(&s, 2, &mm)
		&& *s == '\0' && hh <= 23 && mm <= 59;
}

/* RFC 3339 date-time: 2026-11-28T12:00:00.123Z or with a +hh:mm offset. The
 * store re-checks the calendar (a 30 February is refused there). */
bool fyn_is_rfc3339(const char *s)
{
	int year, month, day, hour, minute, second;
	if (!take_digits(&s, 4, &year) || !take_char(&s, '-') || !take_digits(&s, 2, &month)
			|| !take_char(&s, '-') || !take_digits(&s, 2, &day)) {
		return false;
	}
	if (*s != 'T' && *s != 't' && *s != ' ') {
		return false;
	}
	s++;
	if (!take_digits(&s, 2, &hour) || !take_char(&s, ':') || !take_digits(&s, 2, &minute)
			|| !take_char(&s, ':') || !take_digits(&s, 2, &second)) {
		return false;
	}
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s)) {
			return false;
		}
		for (int digits = 0; isdigit((unsigned char)*s); digits++, s++) {
			if (digits >= 9) {
				return false;
			}
		}
	}
	return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= 31
		&& hour <= 23 && minute <= 59 && second <= 60 && take_zone(s);
}

static void reject(struct fyn_envelope_check *out, enum fyn_reject_code code, const char *reason)
{
	out->code = code;
	snprintf(out->reason, sizeof(out->reason), "%s", reason);
}

static void remember_id(const json_t *doc, struct fyn_envelope_check *out)
{
	const char *id = json_string_value(json_object_get(doc, "id"));
	if (id && strlen(id) < sizeof(out->id)) {
		snprintf(out->id, sizeof(out->id), "%s", id);
	}
}

static bool is_null_or(const json_t *value, bool (*wanted)(const json_t *))
{
	return value == NULL || json_is_null(value) || wanted(value);
}

static bool is_object(const json_t *value) { return json_is_object(value); }
static bool is_uuid_string(const json_t *value)
{
	return json_is_string(value) && fyn_is_uuid(json_string_value(value));
}
static bool is_timestamp_string(const json_t *value)
{
	return json_is_string(value) && fyn_is_rfc3339(json_string_value(value));
}

static bool aggregate_id_is_valid(const json_t *value)
{
	size_t len = json_string_length(value);
	return json_is_string(value) && len > 0 && len <= AGGREGATE_ID_MAX;
}

/* Field checks in the order a person would fix them; NULL when all is well. */
static const char *first_field_problem(const json_t *doc, const struct fyn_submit_topic *t)
{
	const char *type = json_string_value(json_object_get(doc, "event_type"));
	size_t domain_len = strlen(t->domain);
	if (!is_uuid_string(json_object_get(doc, "id"))) {
		return "field id must be a UUID string";
	}
	if (!aggregate_id_is_valid(json_object_get(doc, "aggregate_id"))) {
		return "field aggregate_id must be a non-empty string of at most 256 bytes";
	}
	if (!type) {
		return "field event_type must be a string";
	}
	if (strncmp(type, t->domain, domain_len) != 0 || type[domain_len] != '.'
			|| strcmp(type + domain_len + 1, t->action) != 0) {
		return "event_type does not match the topic's {domain}/{action}";
	}
	if ((strcmp(t->stream, FYN_STREAM_PLATFORM) == 0) != (strcmp(t->domain, "platform") == 0)) {
		return "platform.* events go to fynlo/v1/in/platform/platform/{action}, and only there";
	}
	if (!json_is_object(json_object_get(doc, "payload"))) {
		return "field payload must be a JSON object";
	}
	if (!is_null_or(json_object_get(doc, "metadata"), is_object)) {
		return "field metadata must be a JSON object when present";
	}
	if (!is_null_or(json_object_get(doc, "correlation_id"), is_uuid_string)) {
		return "field correlation_id must be a UUID string when present";
	}
	if (!is_null_or(json_object_get(doc, "created_at"), is_timestamp_string)) {
		return "field created_at must be an RFC 3339 timestamp when present";
	}
	return NULL;
}

static json_t *field_or_null(const json_t *doc, const char *key)
{
	json_t *value = json_object_get(doc, key);
	return value ? json_incref(value) : json_null();
}

/* Keeps only the envelope fields; client-sent created_by, seq and the like
 * are dropped here because the hub sets them. */
static json_t *normalised_event(const json_t *doc)
{
	return json_pack("{s:O, s:O, s:O, s:o, s:O, s:o, s:o}",
			"id", json_object_get(doc, "id"),
			"aggregate_id", json_object_get(doc, "aggregate_id"),
			"event_type", json_object_get(doc, "event_type"),
			"correlation_id", field_or_null(doc, "correlation_id"),
			"payload", json_object_get(doc, "payload"),
			"metadata", field_or_null(doc, "metadata"),
			"created_at", field_or_null(doc, "created_at"));
}

void fyn_envelope_check(const struct fyn_submit_topic *t, const void *payload,
		size_t payloadlen, size_t max_bytes, struct fyn_envelope_check *out)
{
	json_error_t error;
	json_t *doc;
	const char *problem;

	memset(out, 0, sizeof(*out));
	if (payloadlen > max_bytes) {
		snprintf(out->reason, sizeof(out->reason), "event is %zu bytes, the limit is %zu", payloadlen, max_bytes);
		out->code = FYN_REJECT_TOO_LARGE;
		return;
	}
	doc = json_loadb(payload, payloadlen, JSON_REJECT_DUPLICATES, &error);
	if (!doc) {
		snprintf(out->reason, sizeof(out->reason), "not valid UTF-8 JSON: %s (at byte %d)", error.text, error.position);
		out->code = FYN_REJECT_INVALID;
		return;
	}
	out->parsed = true;
	remember_id(doc, out);
	if (!t) {
		problem = "submission topics are fynlo/v1/in/{restaurant}/{domain}/{action}";
	} else {
		problem = json_is_object(doc) ? first_field_problem(doc, t) : "the event must be a JSON object";
	}
	if (problem) {
		reject(out, FYN_REJECT_INVALID, problem);
	} else if (!(out->event = normalised_event(doc))) {
		reject(out, FYN_REJECT_UNAVAILABLE, "hub out of memory");
	}
	json_decref(doc);
}
