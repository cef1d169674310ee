/*
 * batch.c: building the append batch and reading its answer (see batch.h).
 */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "timestamp.h"
#include "topics.h"
#include "view_text.h"

/* Appends text of length len to *buf (size *cap, *used in use). */
static bool append(char **buf, size_t *cap, size_t *used, const char *text, size_t len)
{
	if (*used + len + 1 > *cap) {
		size_t cap2 = (*used + len + 1) * 2;
		char *grown = realloc(*buf, cap2);
		if (!grown) {
			return false;
		}
		*buf = grown;
		*cap = cap2;
	}
	memcpy(*buf + *used, text, len);
	*used += len;
	(*buf)[*used] = '\0';
	return true;
}

/* Each element's text with its closing brace replaced by idx and retry:
 * the element is an object the hub built, without either key. */
char *fyn_batch_text(struct fyn_job *const *jobs, size_t count)
{
	size_t cap = 0, used = 0;
	char *text = NULL;
	bool ok = append(&text, &cap, &used, "[", 1);

	for (size_t i = 0; ok && i < count; i++) {
		const char *element = jobs[i]->element;
		size_t len = strlen(element);
		char tail[64];
		int n = snprintf(tail, sizeof(tail), "%s\"idx\":%zu,\"retry\":%s}", len > 2 ? "," : "", i,
				jobs[i]->attempts > 0 ? "true" : "false");
		ok = len >= 2 && element[len - 1] == '}' && (i == 0 || append(&text, &cap, &used, ",", 1))
			&& append(&text, &cap, &used, element, len - 1) && append(&text, &cap, &used, tail, (size_t)n);
	}
	if (!ok || !append(&text, &cap, &used, "]", 1)) {
		free(text);
		return NULL;
	}
	return text;
}

int fyn_fanout_event(const char *event_text, const struct fyn_views *views, struct fyn_completion *out)
{
	struct fyn_event_text event;
	size_t first = out->message_count;
	long long created_ms = 0;
	int rc = fyn_event_text_scan(&event, event_text, strlen(event_text));

	if (rc == 0 && (!event.restaurant[0] || !event.event_type[0])) {
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < views->count; i++) {
		const struct fyn_view *view = &views->items[i];
		rc = fyn_completion_add(out, NULL, NULL, fyn_event_topic(event.restaurant, view->name, event.event_type),
				fyn_event_view_text(&event, (const char *const *)view->removed_keys, view->removed_count, false));
	}
	if (rc == 0 && out->message_count > first && event.created_at[0]
			&& fyn_timestamp_parse_ms(event.created_at, &created_ms) == 0) {
		out->messages[first].created_ms = created_ms;
	}
	fyn_event_text_release(&event);
	return rc;
}

int fyn_replay_event(const char *event_text, const char *stream, const struct fyn_view *view,
		const char *client_id, const char *owner_sub, fyn_topic_wanted wanted, const void *arg,
		struct fyn_completion *out)
{
	struct fyn_event_text event;
	char *topic = NULL;
	int rc = -1;

	if (fyn_event_text_scan(&event, event_text, strlen(event_text)) == 0 && event.event_type[0]) {
		topic = fyn_event_topic(stream, view->name, event.event_type);
	}
	if (topic && wanted && !wanted(topic, arg)) {
		free(topic);
		rc = 0;
	} else if (topic) {
		rc = fyn_completion_add(out, client_id, owner_sub, topic, fyn_event_view_text(&event,
				(const char *const *)view->removed_keys, view->removed_count, true));
	}
	fyn_event_text_release(&event);
	return rc;
}

static char *ack_for_row(const struct fyn_job *job, const struct fyn_append_row *row)
{
	if (strcmp(row->status, "accepted") == 0) {
		return fyn_ack_accepted(job->id, row->seq);
	}
	return fyn_ack_rejected(job->id, row->code ? row->code : "invalid",
			row->reason ? row->reason : "rejected by the store");
}

/* Every job gets exactly one ack: one the store did not answer (it always
 * should) is told to retry rather than left waiting. */
static int answer_forgotten_jobs(struct fyn_job *const *jobs, size_t count,
		const bool *answered, struct fyn_completion *out)
{
	for (size_t i = 0; i < count; i++) {
		if (!answered[i] && fyn_completion_add_unavailable(out, jobs[i],
				"the store gave no answer for this event; retry") != 0) {
			return -1;
		}
	}
	return 0;
}

static int answer_rows(struct fyn_job *const *jobs, size_t count,
		const struct fyn_append_result *result, bool *answered, struct fyn_completion *out)
{
	for (size_t i = 0; i < result->count; i++) {
		const struct fyn_append_row *row = &result->rows[i];
		if (row->idx >= 0 && (size_t)row->idx < count && !answered[row->idx]) {
			const struct fyn_job *job = jobs[row->idx];
			answered[row->idx] = true;
			if (fyn_completion_add(out, job->client_id, job->sub, fyn_client_topic(job->client_id, "ack"),
					ack_for_row(job, row)) != 0) {
				return -1;
			}
		}
	}
	return 0;
}

int fyn_batch_answer(struct fyn_job *const *jobs, size_t count,
		const struct fyn_append_result *result, struct fyn_completion *out)
{
	bool *answered = calloc(count ? count : 1, sizeof(bool));
	int rc = -1;

	if (answered && answer_rows(jobs, count, result, answered, out) == 0) {
		rc = answer_forgotten_jobs(jobs, count, answered, out);
	}
	free(answered);
	return rc;
}

void fyn_batch_tally(struct fyn_job *const *jobs, size_t count, const struct fyn_append_result *result,
		struct fyn_answer_tally *out)
{
	bool *seen = calloc(count ? count : 1, sizeof(bool));

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; seen && i < result->count; i++) {
		const struct fyn_append_row *row = &result->rows[i];
		if (row->idx < 0 || (size_t)row->idx >= count || seen[row->idx]) {
			continue;
		}
		seen[row->idx] = true;
		if (jobs[row->idx]->from_hub) {
			continue;
		}
		if (strcmp(row->status, "accepted") == 0) {
			out->accepted++;
		} else if (row->code && strcmp(row->code, "conflict") == 0) {
			out->conflicts++;
		} else {
			out->rejected++;
		}
	}
	free(seen);
}

void fyn_append_result_clear(struct fyn_append_result *result)
{
	for (size_t i = 0; i < result->count; i++) {
		struct fyn_append_row *row = &result->rows[i];
		free(row->status);
		free(row->code);
		free(row->reason);
		free(row->event);
	}
	free(result->rows);
	result->rows = NULL;
	result->count = 0;
}
