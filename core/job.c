/*
 * job.c: allocation and ownership of jobs and completions (see job.h).
 */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "topics.h"

struct fyn_job *fyn_job_new(const char *client_id, const char *sub, const char *id, json_t *element,
		long long deadline_ms)
{
	struct fyn_job *job = calloc(1, sizeof(*job));
	const char *restaurant = json_string_value(json_object_get(element, "restaurant"));

	if (!job || !(job->client_id = strdup(client_id)) || !(job->sub = strdup(sub))
			|| !(job->restaurant = strdup(restaurant ? restaurant : ""))
			|| !json_is_object(element) || !(job->element = json_dumps(element, JSON_COMPACT))) {
		fyn_job_free(job);
		json_decref(element);
		return NULL;
	}
	json_decref(element);
	snprintf(job->id, sizeof(job->id), "%s", id);
	job->deadline_ms = deadline_ms;
	return job;
}

void fyn_job_free(struct fyn_job *job)
{
	if (job) {
		free(job->element);
		free(job->restaurant);
		free(job->client_id);
		free(job->sub);
		free(job);
	}
}

struct fyn_completion *fyn_completion_new(void)
{
	return calloc(1, sizeof(struct fyn_completion));
}

static int grow(struct fyn_completion *c)
{
	size_t capacity = c->message_capacity ? c->message_capacity * 2 : 4;
	struct fyn_outgoing *messages = realloc(c->messages, capacity * sizeof(*messages));
	if (!messages) {
		return -1;
	}
	c->messages = messages;
	c->message_capacity = capacity;
	return 0;
}

int fyn_completion_add(struct fyn_completion *c, const char *client_id, const char *owner_sub,
		char *topic, char *payload)
{
	struct fyn_outgoing *m;
	char *client_copy = client_id ? strdup(client_id) : NULL;
	char *sub_copy = owner_sub ? strdup(owner_sub) : NULL;

	if (!topic || !payload || (client_id && !client_copy) || (owner_sub && !sub_copy)
			|| (c->message_count == c->message_capacity && grow(c) != 0)) {
		free(topic);
		free(payload);
		free(client_copy);
		free(sub_copy);
		return -1;
	}
	m = &c->messages[c->message_count++];
	m->client_id = client_copy;
	m->owner_sub = sub_copy;
	m->topic = topic;
	m->payload = payload;
	m->created_ms = 0;
	m->received_ms = 0;
	return 0;
}

void fyn_completion_free(struct fyn_completion *c)
{
	if (!c) {
		return;
	}
	for (size_t i = 0; i < c->message_count; i++) {
		free(c->messages[i].client_id);
		free(c->messages[i].owner_sub);
		free(c->messages[i].topic);
		free(c->messages[i].payload);
	}
	free(c->messages);
	free(c->log_text);
	free(c);
}

int fyn_completion_add_unavailable(struct fyn_completion *c, const struct fyn_job *job, const char *reason)
{
	return fyn_completion_add(c, job->client_id, job->sub, fyn_client_topic(job->client_id, "ack"),
			fyn_ack_rejected(job->id, "unavailable", reason));
}
