/*
 * control.h: requests on fynlo/v1/ctl/{verb}.
 */
#ifndef FYNSYNC_CONTROL_H
#define FYNSYNC_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "hub.h"

bool fyn_topic_is_control(const char *topic);
void fyn_control_handle(struct fyn_hub *hub, struct fyn_session *session, const char *topic,
		const void *payload, size_t payloadlen);

/* Publishes {"verb": verb, "reason": reason} on fynlo/v1/client/{cid}/error. */
void fyn_control_error(const char *client_id, const char *verb, const char *reason);

#endif
