/*
 * topics.c: the hub's topic names (see topics.h).
 */
#include "topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *fyn_client_topic(const char *client_id, const char *kind)
{
	char *topic = NULL;
	if (asprintf(&topic, "fynlo/v1/client/%s/%s", client_id, kind) < 0) {
		return NULL;
	}
	return topic;
}

char *fyn_event_topic(const char *stream, const char *view, const char *event_type)
{
	const char *dot = strchr(event_type, '.');
	char *topic = NULL;
	if (!dot || asprintf(&topic, FYN_EV_PREFIX "%s/%s/%.*s/%s", stream, view,
			(int)(dot - event_type), event_type, dot + 1) < 0) {
		return NULL;
	}
	return topic;
}

bool fyn_topic_is_event(const char *topic)
{
	return starts_with(topic, FYN_EV_PREFIX);
}

bool fyn_event_stream_of(const char *topic, char out[FYN_STREAM_MAX + 1])
{
	const char *start = topic + strlen(FYN_EV_PREFIX);
	const char *end;
	if (!fyn_topic_is_event(topic) || !(end = strchr(start, '/')) || end == start
			|| end - start > FYN_STREAM_MAX) {
		return false;
	}
	memcpy(out, start, (size_t)(end - start));
	out[end - start] = '\0';
	return true;
}

bool fyn_topic_is_hub_inbox(const char *topic)
{
	return starts_with(topic, FYN_IN_TOPIC "/") || starts_with(topic, FYN_CTL_TOPIC "/")
		|| strcmp(topic, FYN_IN_TOPIC) == 0 || strcmp(topic, FYN_CTL_TOPIC) == 0;
}

/* Length of the level starting at s (up to '/' or the end). */
static size_t level_length(const char *s)
{
	const char *slash = strchr(s, '/');
	return slash ? (size_t)(slash - s) : strlen(s);
}

bool fyn_topic_matches_filter(const char *filter, const char *topic)
{
	for (;;) {
		size_t flen = level_length(filter), tlen = level_length(topic);
		if (flen == 1 && filter[0] == '#') {
			return filter[1] == '\0';
		}
		if (!(flen == 1 && filter[0] == '+') && (flen != tlen || memcmp(filter, topic, flen) != 0)) {
			return false;
		}
		filter += flen;
		topic += tlen;
		if (*filter == '\0' || *topic == '\0') {
			/* "a/#" also matches "a" itself. */
			return (*filter == '\0' && *topic == '\0') || strcmp(filter, "/#") == 0;
		}
		filter++;
		topic++;
	}
}
