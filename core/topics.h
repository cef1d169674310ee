/*
 * topics.h: building and reading the hub's topic names.
 *
 * Pure C, no state: any thread may call it. The submission topic parser
 * stays with the envelope checks (envelope.h); here are the topics the hub
 * publishes on and the one wildcard matcher the hub needs outside the ACL.
 */
#ifndef FYNSYNC_TOPICS_H
#define FYNSYNC_TOPICS_H

#include <stdbool.h>

#define FYN_EV_PREFIX "fynlo/v1/ev/"
#define FYN_STREAM_MAX 64

/* fynlo/v1/client/{cid}/{kind}, malloc'd; NULL on OOM. */
char *fyn_client_topic(const char *client_id, const char *kind);
/* fynlo/v1/ev/{stream}/{view}/{domain}/{action} for event_type
 * "{domain}.{action}", malloc'd; NULL on OOM or a type without a dot. */
char *fyn_event_topic(const char *stream, const char *view, const char *event_type);

/* Is topic (or filter) under fynlo/v1/ev/? */
bool fyn_topic_is_event(const char *topic);
/* Copies the {stream} level of an ev/ topic or filter into out; false when
 * there is none (or it is longer than FYN_STREAM_MAX). */
bool fyn_event_stream_of(const char *topic, char out[FYN_STREAM_MAX + 1]);

/* The bare roots of what clients send the hub: no submission or request
 * topic, but answered as a malformed one (never with silence). */
#define FYN_IN_TOPIC "fynlo/v1/in"
#define FYN_CTL_TOPIC "fynlo/v1/ctl"

/* fynlo/v1/in/, fynlo/v1/ctl/ and their bare roots: what clients send the
 * hub, which nobody may ever read. */
bool fyn_topic_is_hub_inbox(const char *topic);

/* MQTT matching of a concrete topic against a filter with + and #. */
bool fyn_topic_matches_filter(const char *filter, const char *topic);

#endif
