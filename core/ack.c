/*
 * ack.c: ack and error texts (see ack.h).
 */
#include "ack.h"

const char *fyn_reject_code_name(enum fyn_reject_code code)
{
	switch (code) {
	case FYN_OK: return "ok";
	case FYN_REJECT_INVALID: return "invalid";
	case FYN_REJECT_TOO_LARGE: return "too_large";
	case FYN_REJECT_UNAVAILABLE: return "unavailable";
	}
	return "invalid";
}

char *fyn_json_text(json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return text;
}

static json_t *id_value(const char *id)
{
	return id && id[0] ? json_string(id) : json_null();
}

char *fyn_ack_rejected(const char *id, const char *code, const char *reason)
{
	return fyn_json_text(json_pack("{s:o, s:s, s:s, s:s}", "id", id_value(id),
			"status", "rejected", "code", code, "reason", reason));
}

char *fyn_ack_accepted(const char *id, long long seq)
{
	return fyn_json_text(json_pack("{s:o, s:s, s:I}", "id", id_value(id),
			"status", "accepted", "seq", (json_int_t)seq));
}

const char *fyn_control_code_name(enum fyn_control_code code)
{
	switch (code) {
	case FYN_CONTROL_INVALID: return "invalid";
	case FYN_CONTROL_FORBIDDEN: return "forbidden";
	case FYN_CONTROL_UNAVAILABLE: return "unavailable";
	case FYN_CONTROL_BUSY: return "busy";
	}
	return "invalid";
}

char *fyn_control_error_text(const char *verb, enum fyn_control_code code, const char *stream,
		const char *reason)
{
	json_t *doc = json_pack("{s:s, s:s, s:s}", "verb", verb, "code", fyn_control_code_name(code),
			"reason", reason);
	if (doc && stream && json_object_set_new(doc, "stream", json_string(stream)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	return fyn_json_text(doc);
}
