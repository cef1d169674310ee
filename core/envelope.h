/*
 * envelope.h: what a submission must look like before it reaches the store.
 *
 * Pure C on jansson. The broker thread calls this for every message on
 * fynlo/v1/in/...: it parses the topic, checks size, JSON, field types and the
 * topic/event_type agreement, and produces either a normalised event object
 * (ready for the writer thread) or a rejection with a reason a person can act
 * on. No I/O, no mosquitto types.
 */
#ifndef FYNSYNC_ENVELOPE_H
#define FYNSYNC_ENVELOPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ack.h"

#define FYN_TOPIC_LEVEL_MAX 64
#define FYN_STREAM_PLATFORM "platform"
/* A submission over max_event_bytes but at most this long is still read
 * for its top-level id, so that the sender can match the too_large answer;
 * beyond it the answer's id is null (docs/protocol.md). */
#define FYN_ID_SCAN_MAX ((size_t)1024 * 1024)
/* payload and metadata nest at most this deep (the object itself is 1). */
#define FYN_PAYLOAD_MAX_DEPTH 32

/* The parts of fynlo/v1/in/{stream}/{domain}/{action}. */
struct fyn_submit_topic {
	char stream[FYN_TOPIC_LEVEL_MAX + 1];
	char domain[FYN_TOPIC_LEVEL_MAX + 1];
	char action[FYN_TOPIC_LEVEL_MAX + 1];
};

/* Is topic under fynlo/v1/in/? */
bool fyn_topic_is_submission(const char *topic);

/* Splits a submission topic. Returns false when it has the wrong shape or a
 * level outside [A-Za-z0-9_-]{1,64}; reason then says what is wrong. */
bool fyn_submit_topic_parse(const char *topic, struct fyn_submit_topic *out,
		char *reason, size_t reasonlen);

/* The result of validating one submission. */
struct fyn_envelope_check {
	enum fyn_reject_code code;
	json_t *event;        /* owned; the normalised envelope when code == FYN_OK */
	bool parsed;          /* the payload was JSON (so id is known if sane) */
	/* The submitted top-level id when it is a JSON string of under 80 bytes,
	 * UUID or not (so the sender can match the answer), else "". Also read
	 * from a too_large submission of up to FYN_ID_SCAN_MAX bytes. */
	char id[80];
	char reason[256];
};

/* Validates payload (payloadlen bytes, not NUL-terminated) submitted on
 * topic t (NULL when the topic itself is malformed: then only size, JSON and
 * id are looked at and the code is FYN_REJECT_INVALID). max_bytes is the contract's max_event_bytes. On FYN_OK, event holds
 * the fields the store needs: id, aggregate_id, event_type, correlation_id,
 * payload, metadata, created_at (null when absent). Caller frees event. */
void fyn_envelope_check(const struct fyn_submit_topic *t, const void *payload,
		size_t payloadlen, size_t max_bytes, struct fyn_envelope_check *out);

bool fyn_is_uuid(const char *s);
bool fyn_is_rfc3339(const char *s);

#endif
