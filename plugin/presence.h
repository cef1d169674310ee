/*
 * presence.h: the retained fynlo/v1/presence/{rid}/{cid} messages the hub
 * sets when a client authenticates and clears when it leaves. A platform
 * owner without restaurants appears under `platform`. Every message set is
 * also kept in hub->presence ({topic: payload}), which nodes.c shares with
 * the other nodes. Broker thread only.
 */
#ifndef FYNSYNC_PRESENCE_H
#define FYNSYNC_PRESENCE_H

#include "sessions.h"

struct fyn_hub;

void fyn_presence_announce(struct fyn_hub *hub, const struct fyn_session *session);
void fyn_presence_clear(struct fyn_hub *hub, const struct fyn_session *session);

#endif
