/*
 * ack.h: the texts the hub answers with: acks, error replies, and the one
 * helper that turns a jansson document into compact text.
 *
 * Pure C on jansson, no state: any thread may call it. Every function
 * returns a malloc'd string the caller owns, or NULL on OOM.
 */
#ifndef FYNSYNC_ACK_H
#define FYNSYNC_ACK_H

#include <jansson.h>

/* The contract's rejection codes that the hub itself decides (conflict and
 * forbidden come from the store or the ACL as text). */
enum fyn_reject_code {
	FYN_OK = 0,
	FYN_REJECT_INVALID,
	FYN_REJECT_TOO_LARGE,
	FYN_REJECT_UNAVAILABLE,
};

const char *fyn_reject_code_name(enum fyn_reject_code code);

/* The compact text of doc, which it consumes (NULL in, or OOM: NULL out). */
char *fyn_json_text(json_t *doc);

/* Ack payloads. id may be "" (then JSON null). */
char *fyn_ack_rejected(const char *id, const char *code, const char *reason);  /* {"id","status":"rejected","code","reason"} */
char *fyn_ack_accepted(const char *id, long long seq);                          /* {"id","status":"accepted","seq"} */

/* Why a control request was refused (docs/protocol.md): malformed or
 * unknown; not this token's to ask; the store cannot answer now (retry with
 * backoff); this client has too many requests outstanding (retry once some
 * are answered). */
enum fyn_control_code {
	FYN_CONTROL_INVALID,
	FYN_CONTROL_FORBIDDEN,
	FYN_CONTROL_UNAVAILABLE,
	FYN_CONTROL_BUSY,
};

const char *fyn_control_code_name(enum fyn_control_code code);

/* {"verb", "code", "reason"} plus "stream" when stream is not NULL: the
 * payload of fynlo/v1/client/{cid}/error. */
char *fyn_control_error_text(const char *verb, enum fyn_control_code code, const char *stream,
		const char *reason);

#endif
