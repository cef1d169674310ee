/*
 * control.h: requests on fynlo/v1/ctl/{verb} (broker thread): checked against
 * the session and the ACL, then answered at once or handed to a reader.
 */
#ifndef FYNSYNC_CONTROL_H
#define FYNSYNC_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "hub.h"

void fyn_control_handle(struct fyn_hub *hub, struct fyn_session *session, const char *topic,
		const void *payload, size_t payloadlen);

#endif
