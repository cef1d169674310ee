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
#define ZONE_HOURS_MAX 15                      /* PostgreSQL's limit for a UTC offset */
#define MONEY_LIMIT 1000000000000000LL         /* 10^15, as the store's fynsync_is_int */
#define NUMBER_LIMIT 0x1p63                    /* a 64-bit integer's range */
#define AMOUNT_LIMIT 1e15                      /* inventory amounts, which the store adds up */

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
		&& *s == '\0' && hh <= ZONE_HOURS_MAX && mm <= 59;
}

static bool is_leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

/* RFC 3339 date-time: 2026-11-28T12:00:00.123Z or with a +hh:mm offset, a
 * real calendar day (no 30 February) and an offset PostgreSQL can store
 * (at most 15:59 either way), so the store never refuses what passed here. */
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
	return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month)
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

static bool money_is_whole(const json_t *value, bool nullable)
{
	json_int_t amount;
	if (nullable && json_is_null(value)) {
		return true;
	}
	if (!json_is_integer(value)) {   /* 12.0, 1e2 and 1.5 are JSON reals to jansson */
		return false;
	}
	amount = json_integer_value(value);
	return amount > -MONEY_LIMIT && amount < MONEY_LIMIT;
}

static bool money_refused(char *reason, size_t reasonlen, const char *field)
{
	snprintf(reason, reasonlen, "%s must be a whole number of minor units (pence) of at most 15 digits, "
			"e.g. 1250; 12.0, 1e2 and 1.5 are not", field);
	return true;
}

/* The contract's money fields (order total, item price and cost, menu price
 * and cost) must be JSON integers. Writes the first that is not into reason
 * and returns true. */
static bool money_problem(const json_t *doc, char *reason, size_t reasonlen)
{
	static const char *const priced[] = { "price", "cost" };
	const char *type = json_string_value(json_object_get(doc, "event_type"));
	const json_t *payload = json_object_get(doc, "payload");
	const json_t *value;
	char field[64];

	if (strcmp(type, "menu.updated") == 0) {
		for (size_t f = 0; f < 2; f++) {
			value = json_object_get(payload, priced[f]);
			if (value && !money_is_whole(value, true)) {
				snprintf(field, sizeof(field), "payload.%s", priced[f]);
				return money_refused(reason, reasonlen, field);
			}
		}
	}
	if (strcmp(type, "order.created") != 0 && strcmp(type, "order.updated") != 0) {
		return false;
	}
	value = json_object_get(payload, "total");
	if (value && !money_is_whole(value, false)) {
		return money_refused(reason, reasonlen, "payload.total");
	}
	for (size_t i = 0; i < json_array_size(json_object_get(payload, "items")); i++) {
		const json_t *item = json_array_get(json_object_get(payload, "items"), i);
		for (size_t f = 0; f < 2; f++) {
			value = json_object_get(item, priced[f]);
			if (value && !money_is_whole(value, true)) {
				snprintf(field, sizeof(field), "payload.items[%zu].%s", i, priced[f]);
				return money_refused(reason, reasonlen, field);
			}
		}
	}
	return false;
}

enum value_problem { VALUE_OK, VALUE_TOO_DEEP, VALUE_OUT_OF_RANGE };

/* Walks value (at nesting depth, 1 for payload or metadata itself) for what
 * the store or a client could not take back: nesting deeper than
 * FYN_PAYLOAD_MAX_DEPTH, or a number at or beyond NUMBER_LIMIT (the store
 * writes 1e19 back as 10000000000000000000, which jansson cannot read, so
 * such an event would be stored but neither answered nor published). On a
 * problem, path (holding value's path, used bytes long) names the place.
 * The depth bound also bounds the recursion. */
static enum value_problem value_problem(const json_t *value, int depth, char *path, size_t pathlen,
		size_t used)
{
	enum value_problem problem = VALUE_OK;
	if (json_is_real(value)) {
		return json_real_value(value) >= NUMBER_LIMIT || json_real_value(value) <= -NUMBER_LIMIT
			? VALUE_OUT_OF_RANGE : VALUE_OK;
	}
	if ((json_is_object(value) || json_is_array(value)) && depth > FYN_PAYLOAD_MAX_DEPTH) {
		return VALUE_TOO_DEEP;
	}
	if (json_is_object(value)) {
		const char *key;
		json_t *member;
		json_object_foreach((json_t *)value, key, member) {
			snprintf(path + used, pathlen - used, ".%s", key);
			if ((problem = value_problem(member, depth + 1, path, pathlen, strlen(path))) != VALUE_OK) {
				return problem;
			}
		}
	}
	for (size_t i = 0; i < json_array_size(value); i++) {
		snprintf(path + used, pathlen - used, "[%zu]", i);
		if ((problem = value_problem(json_array_get(value, i), depth + 1, path, pathlen, strlen(path))) != VALUE_OK) {
			return problem;
		}
	}
	path[used] = '\0';
	return VALUE_OK;
}

/* What the store must be able to give back as it came: payload and
 * metadata within FYN_PAYLOAD_MAX_DEPTH levels and without numbers beyond a
 * 64-bit integer's range, and inventory amounts below AMOUNT_LIMIT. Writes
 * the first problem into reason. */
static bool stored_value_problem(const json_t *doc, char *reason, size_t reasonlen)
{
	static const char *const stored[] = { "payload", "metadata" };
	static const char *const amounts[] = { "level", "delta", "low_threshold" };
	const json_t *payload = json_object_get(doc, "payload");
	char path[96];

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s", stored[i]);
		switch (value_problem(json_object_get(doc, stored[i]), 1, path, sizeof(path), strlen(path))) {
		case VALUE_OK:
			break;
		case VALUE_TOO_DEEP:
			snprintf(reason, reasonlen, "%s nests deeper than %d levels", path, FYN_PAYLOAD_MAX_DEPTH);
			return true;
		case VALUE_OUT_OF_RANGE:
			snprintf(reason, reasonlen, "%s is beyond a 64-bit integer's range (9.2e18 either way)", path);
			return true;
		}
	}
	if (strcmp(json_string_value(json_object_get(doc, "event_type")), "inventory.adjusted") != 0) {
		return false;
	}
	for (size_t i = 0; i < 3; i++) {
		const json_t *amount = json_object_get(payload, amounts[i]);
		if (json_is_number(amount) && (json_number_value(amount) >= AMOUNT_LIMIT
				|| json_number_value(amount) <= -AMOUNT_LIMIT)) {
			snprintf(reason, reasonlen, "payload.%s must be below 10^15 either way (the store adds amounts up)",
					amounts[i]);
			return true;
		}
	}
	return false;
}

/* ---- the id of an oversized submission ----
 * A scan, not a parse: it finds the top-level members of an object by
 * skipping strings and counting brackets (no recursion, no allocation, so
 * any depth is fine), and lets jansson decode only the key and value tokens
 * that may be the id. It validates nothing else. */

struct scan {
	const char *at, *end;
};

static void skip_space(struct scan *s)
{
	while (s->at < s->end && (*s->at == ' ' || *s->at == '\t' || *s->at == '\n' || *s->at == '\r')) {
		s->at++;
	}
}

static bool take(struct scan *s, char c)
{
	skip_space(s);
	if (s->at >= s->end || *s->at != c) {
		return false;
	}
	s->at++;
	return true;
}

/* Past a string token; s->at is on its opening quote. */
static bool skip_string(struct scan *s)
{
	for (s->at++; s->at < s->end; s->at++) {
		if (*s->at == '\\') {
			s->at++;
		} else if (*s->at == '"') {
			s->at++;
			return true;
		}
	}
	return false;
}

/* Past one value: a string, a container (to its matching bracket) or a
 * scalar (to the next delimiter). */
static bool skip_value(struct scan *s)
{
	size_t depth = 0;
	const char *start;

	skip_space(s);
	start = s->at;
	if (s->at < s->end && *s->at != '"' && *s->at != '{' && *s->at != '[') {
		while (s->at < s->end && *s->at && !strchr(",}] \t\r\n", *s->at)) {
			s->at++;
		}
		return s->at > start;
	}
	do {
		skip_space(s);
		if (s->at >= s->end) {
			return false;
		}
		if (*s->at == '"') {
			if (!skip_string(s)) {
				return false;
			}
			continue;
		}
		if (*s->at == '{' || *s->at == '[') {
			depth++;
		} else if (*s->at == '}' || *s->at == ']') {
			if (depth == 0) {
				return false;
			}
			depth--;
		}
		s->at++;
	} while (depth > 0);
	return true;
}

/* The string a JSON string token decodes to (jansson's own unescaping), or
 * NULL. Caller decrefs holder. */
static const char *token_string(const char *token, size_t len, json_t **holder)
{
	*holder = json_loadb(token, len, JSON_DECODE_ANY, NULL);
	return json_string_value(*holder);
}

static bool token_is_id_key(const char *token, size_t len)
{
	json_t *holder;
	const char *key;
	bool is_id;
	if (len == 4) {
		return memcmp(token, "\"id\"", 4) == 0;
	}
	if (len > 16 || memchr(token, '\\', len) == NULL) {   /* "\u0069\u0064" is 14 bytes */
		return false;
	}
	key = token_string(token, len, &holder);
	is_id = key && strcmp(key, "id") == 0;
	json_decref(holder);
	return is_id;
}

static void scan_id(const char *text, size_t len, char *id, size_t idlen)
{
	struct scan s = { text, text + len };
	if (!take(&s, '{')) {
		return;
	}
	do {
		const char *key, *value;
		size_t keylen;
		skip_space(&s);
		key = s.at;
		if (s.at >= s.end || *s.at != '"' || !skip_string(&s)) {
			return;
		}
		keylen = (size_t)(s.at - key);
		if (!take(&s, ':')) {
			return;
		}
		skip_space(&s);
		value = s.at;
		if (!skip_value(&s)) {
			return;
		}
		if (token_is_id_key(key, keylen)) {
			json_t *holder = NULL;
			const char *found = *value == '"' ? token_string(value, (size_t)(s.at - value), &holder) : NULL;
			if (found && strlen(found) < idlen) {
				snprintf(id, idlen, "%s", found);
			}
			json_decref(holder);
			return;
		}
	} while (take(&s, ','));
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
		if (payloadlen <= FYN_ID_SCAN_MAX) {
			scan_id(payload, payloadlen, out->id, sizeof(out->id));
		}
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
	} else if (money_problem(doc, out->reason, sizeof(out->reason))
			|| stored_value_problem(doc, out->reason, sizeof(out->reason))) {
		out->code = FYN_REJECT_INVALID;
	} else if (!(out->event = normalised_event(doc))) {
		reject(out, FYN_REJECT_UNAVAILABLE, "hub out of memory");
	}
	json_decref(doc);
}
