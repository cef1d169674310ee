/*
 * nodes.h: every node shows the whole cluster (nodes.c). Every 5 s this
 * node reports its metrics, alerts and presence through the database
 * (store/nodes.c, on the lookups reader) and gets the other nodes' last
 * reports back, which it republishes retained on its own broker:
 * fynlo/v1/sys/metrics/{node}, fynlo/v1/sys/alerts/{node} and their
 * clients' fynlo/v1/presence/... messages (cleared when a client leaves its
 * node or the node stops reporting). A platform owner connected to any node
 * thus sees every node.
 *
 * Broker thread only.
 */
#ifndef FYNSYNC_NODES_H
#define FYNSYNC_NODES_H

#include <jansson.h>
#include <stdbool.h>

/* The client id the node reports' answers carry (never a valid MQTT client
 * id): publish.c hands them to fyn_nodes_on_answer. */
#define FYN_NODES_CLIENT_ID "$nodes"

struct fyn_hub_nodes {
	json_t *remote_presence;   /* {topic: payload} this node publishes for the others */
	bool in_flight;
	long long sent_ms;         /* monotonic: when the report in flight was sent */
};

struct fyn_hub;

int fyn_nodes_start(struct fyn_hub *hub);
void fyn_nodes_stop(struct fyn_hub *hub);

/* Sends this node's report: metrics is the retained metrics document. */
void fyn_nodes_report(struct fyn_hub *hub, const char *metrics);
/* The answer: the other nodes' reports (JSON array), or null. */
void fyn_nodes_on_answer(struct fyn_hub *hub, const char *answer);

#endif
