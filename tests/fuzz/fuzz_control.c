/*
 * fuzz_control.c: libFuzzer target for control request parsing
 * (core/control_request.c).
 *
 * The input is a request's payload, read on each verb's topic, and its
 * first line is also read as a topic of its own. Whatever comes back must
 * be answerable: a printable verb text, and either a problem or the verb's
 * fields (resume: 1 to 256 streams, each with an id and, when it has no
 * problem of its own, a valid stream id and a seq >= 0; snapshot: one
 * stream; token: a string). Seeded from tests/corpus/control.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control_request.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *topic, const uint8_t *data, size_t size)
{
	struct fyn_control_request r;
	if (fyn_control_request_parse(topic, data, size, &r) != 0) {
		fyn_control_request_clear(&r);
		return;
	}
	if (!memchr(r.verb_text, '\0', sizeof(r.verb_text))) {
		abort();
	}
	for (const char *c = r.verb_text; *c; c++) {
		if (*c < 0x20 || *c > 0x7E) {
			abort();
		}
	}
	if (!r.problem) {
		if ((r.verb == FYN_CTL_RESUME && (r.stream_count < 1 || r.stream_count > FYN_RESUME_MAX_STREAMS))
				|| (r.verb == FYN_CTL_SNAPSHOT && r.stream_count != 1)
				|| (r.verb == FYN_CTL_TOKEN && !r.token) || r.verb == FYN_CTL_UNKNOWN) {
			abort();
		}
		for (size_t i = 0; i < r.stream_count; i++) {
			const struct fyn_control_stream *s = &r.streams[i];
			if (!s->id || (!s->problem && (s->after_seq < 0 || (strcmp(s->id, "platform") != 0
					&& !fyn_restaurant_id_is_valid(s->id))))) {
				abort();
			}
		}
	}
	fyn_control_request_clear(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const topics[] = {
		"fynlo/v1/ctl/resume", "fynlo/v1/ctl/snapshot", "fynlo/v1/ctl/token", "fynlo/v1/ctl/bogus",
	};
	const uint8_t *newline = memchr(data, '\n', size);
	size_t line = newline ? (size_t)(newline - data) : size;
	char *topic = malloc(sizeof("fynlo/v1/ctl/") + line);

	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		check(topics[i], data, size);
	}
	if (topic) {
		memcpy(topic, "fynlo/v1/ctl/", sizeof("fynlo/v1/ctl/") - 1);
		memcpy(topic + sizeof("fynlo/v1/ctl/") - 1, data, line);
		topic[sizeof("fynlo/v1/ctl/") - 1 + line] = '\0';
		check(topic, newline ? newline + 1 : data + size, newline ? size - line - 1 : 0);
		free(topic);
	}
	return 0;
}
