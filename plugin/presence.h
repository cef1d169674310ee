/*
 * presence.h: the retained fynlo/v1/presence/{rid}/{cid} messages the hub
 * sets when a client authenticates and clears when it leaves. A platform
 * owner without restaurants appears under `platform`.
 */
#ifndef FYNSYNC_PRESENCE_H
#define FYNSYNC_PRESENCE_H

#include "sessions.h"

void fyn_presence_announce(const struct fyn_session *session);
void fyn_presence_clear(const struct fyn_session *session);

#endif
