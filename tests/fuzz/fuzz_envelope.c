/*
 * fuzz_envelope.c: libFuzzer target for submission checks (core/envelope.c).
 *
 * The input is a submission's payload, checked on each of the contract's
 * topics with the default size limit and with one smaller than the input
 * (the too_large id scan), then read as a topic and as a timestamp. Every
 * answer must be well formed: a code, a NUL-terminated id and reason, and an
 * event exactly when the code is FYN_OK. Two differential checks: the id
 * scan of an oversized submission finds the same id as the full parse of a
 * valid one, and an accepted event, written out again, is accepted again.
 * Seeded from tests/corpus/envelope.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

static const char *const topics[] = {
	"fynlo/v1/in/r1/order/created", "fynlo/v1/in/r1/order/updated", "fynlo/v1/in/r1/menu/updated",
	"fynlo/v1/in/r1/inventory/adjusted", "fynlo/v1/in/platform/platform/announcement",
};

static void check_on(const struct fyn_submit_topic *t, const uint8_t *data, size_t size, size_t max,
		struct fyn_envelope_check *result)
{
	struct fyn_envelope_check out;
	fyn_envelope_check(t, data, size, max, &out);
	if ((out.code == FYN_OK) != (out.event != NULL) || memchr(out.id, '\0', sizeof(out.id)) == NULL
			|| memchr(out.reason, '\0', sizeof(out.reason)) == NULL
			|| (out.code != FYN_OK && out.code != FYN_REJECT_UNAVAILABLE && out.reason[0] == '\0')) {
		abort();
	}
	if (out.event && t) {
		char *again = json_dumps(out.event, JSON_COMPACT);
		struct fyn_envelope_check second;
		fyn_envelope_check(t, again, strlen(again), max, &second);
		if (second.code != FYN_OK || strcmp(second.id, out.id) != 0) {
			abort();
		}
		json_decref(second.event);
		free(again);
	}
	json_decref(out.event);
	out.event = NULL;
	if (result) {
		*result = out;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fyn_submit_topic t;
	struct fyn_envelope_check parsed, scanned;
	char reason[256];
	char *text;
	json_t *doc;

	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		if (!fyn_submit_topic_parse(topics[i], &t, reason, sizeof(reason))) {
			abort();
		}
		check_on(&t, data, size, 65536, &parsed);
	}
	check_on(NULL, data, size, 65536, NULL);
	if (size > 1) {
		check_on(&t, data, size, size - 1, &scanned);   /* too_large: the id scan */
		/* a document that is valid JSON: the scan must agree with the parse */
		doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
		if (doc && json_is_object(doc) && strcmp(parsed.id, scanned.id) != 0) {
			abort();
		}
		json_decref(doc);
	}
	text = malloc(size + 1);
	if (!text) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	fyn_submit_topic_parse(text, &t, reason, sizeof(reason));
	fyn_is_rfc3339(text);
	fyn_is_uuid(text);
	free(text);
	return 0;
}
