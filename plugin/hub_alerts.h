/*
 * hub_alerts.h: what the hub does when an alert changes (hub_alerts.c):
 * the retained fynlo/v1/sys/alerts (and .../sys/alerts/{node}) at once, and
 * a platform.alert event through the normal pipeline, submitted as the
 * hub's own job. Events wait in order while the store refuses them and are
 * resubmitted (same id, so never stored twice) until one is accepted.
 *
 * Broker thread only. The evaluation is core/alerts.c.
 */
#ifndef FYNSYNC_HUB_ALERTS_H
#define FYNSYNC_HUB_ALERTS_H

#include <jansson.h>
#include <stdbool.h>

#include "alerts.h"

/* The client id the hub's own jobs carry: not a valid MQTT client id
 * ([A-Za-z0-9._-]), so no client can have it; its acks come back to
 * fyn_alerts_on_answer instead of being published. */
#define FYN_HUB_CLIENT_ID "$hub"

struct fyn_hub_alerts {
	json_t *pending;          /* batch elements of platform.alert events not yet stored, oldest first */
	json_t *state;            /* the retained document's "alerts" object */
	bool in_flight;           /* the first pending event is with the writer */
	long long retry_ms;       /* monotonic: no resubmission before */
};

struct fyn_hub;

/* At init: publishes every alert cleared. Returns 0 or -1 on OOM. */
int fyn_alerts_start(struct fyn_hub *hub);
void fyn_alerts_stop(struct fyn_hub *hub);

/* The alert evaluation changed these (core/alerts.h). */
void fyn_alerts_changed(struct fyn_hub *hub, const struct fyn_alert_change *changes, size_t count);
/* An answer (ack JSON) to the hub's own job. */
void fyn_alerts_on_answer(struct fyn_hub *hub, const char *ack);
/* The retained fynlo/v1/sys/alerts document (new reference; NULL on OOM). */
json_t *fyn_alerts_document(const struct fyn_hub *hub);
/* Every tick: submits the first pending event when it is due. */
void fyn_alerts_tick(struct fyn_hub *hub, long long now_ms);

#endif
