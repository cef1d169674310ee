/*
 * control_request.h: reading a request on fynlo/v1/ctl/{verb} into plain C.
 *
 * Owns the shape of control requests and nothing else: which verbs exist,
 * the size bound, and which fields each verb needs with which types (stream
 * ids, seqs, the snapshot's views, the refresh token). It does not decide
 * whether the client may do it (plugin/control.c asks the ACL), nor does it
 * answer (the caller publishes the error text, core/ack.h). Pure C on
 * jansson, no state: any thread may call it; the libFuzzer target for
 * control requests calls fyn_control_request_parse on raw bytes.
 */
#ifndef FYNSYNC_CONTROL_REQUEST_H
#define FYNSYNC_CONTROL_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ack.h"

#define FYN_CONTROL_PREFIX "fynlo/v1/ctl/"
#define FYN_CONTROL_MAX_BYTES 16384
#define FYN_RESUME_MAX_STREAMS 256
#define FYN_CONTROL_VERB_MAX 64   /* longer verbs are cut in the error's "verb" */

enum fyn_control_verb {
	FYN_CTL_UNKNOWN = 0,
	FYN_CTL_RESUME,
	FYN_CTL_SNAPSHOT,
	FYN_CTL_TOKEN,
};

/* One stream a request names: resume names 1 to 256, snapshot one. */
struct fyn_control_stream {
	const char *id;          /* points into the request's document */
	long long after_seq;     /* resume: the client's last seq */
	const char *problem;     /* NULL, or why this stream alone is refused (code invalid) */
};

struct fyn_control_request {
	enum fyn_control_verb verb;
	/* The verb as the client sent it, for the error's "verb": printable
	 * ASCII only (anything else becomes '?'), at most FYN_CONTROL_VERB_MAX. */
	char verb_text[FYN_CONTROL_VERB_MAX + 1];
	/* NULL, or why the whole request is refused (code invalid). */
	const char *problem;
	json_t *doc;                          /* owned: the parsed payload */
	struct fyn_control_stream *streams;   /* owned array */
	size_t stream_count;
	const json_t *views;                  /* snapshot: NULL (all) or an array of names, in doc */
	const char *token;                    /* token: the new JWT, in doc */
};

/* Is topic a control request: fynlo/v1/ctl/{anything}, or fynlo/v1/ctl itself
 * (which is answered as an unknown verb)? */
bool fyn_topic_is_control(const char *topic);

/* Reads the request on topic (a control topic) with payload. Returns 0 and
 * fills out: verb and verb_text always, so the caller can answer; problem
 * when the request as a whole is malformed; otherwise the verb's fields,
 * where each stream may still carry its own problem. Returns -1 only when
 * out of memory (then only verb and verb_text are set). In every case the
 * caller then calls fyn_control_request_clear. */
int fyn_control_request_parse(const char *topic, const void *payload, size_t payloadlen,
		struct fyn_control_request *out);
void fyn_control_request_clear(struct fyn_control_request *request);

/* The name of verb for replies ("resume", ...), or NULL for an unknown one. */
const char *fyn_control_verb_name(enum fyn_control_verb verb);

#endif
