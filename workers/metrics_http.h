/*
 * metrics_http.h: the Prometheus endpoint, GET /metrics, served by
 * libmicrohttpd on a thread of its own.
 *
 * Threads: the broker thread hands a snapshot over (fyn_metrics_http_update:
 * a copy under a mutex, never waiting on a scrape in progress, which holds
 * the mutex only for the same copy); the HTTP thread formats its own copy
 * (core/metrics.h) without the lock and never touches broker state.
 * Stopping joins the HTTP thread.
 */
#ifndef FYNSYNC_METRICS_HTTP_H
#define FYNSYNC_METRICS_HTTP_H

#include <stddef.h>

#include "metrics.h"

struct fyn_metrics_http;

/* Listens on port (all IPv4 interfaces) for node's metrics. NULL with err
 * on failure (port in use, out of memory). */
struct fyn_metrics_http *fyn_metrics_http_start(int port, const char *node, char *err, size_t errlen);
/* Broker thread: the snapshot scrapes see from now on. */
void fyn_metrics_http_update(struct fyn_metrics_http *server, const struct fyn_metrics *snapshot);
/* Stops serving and joins the HTTP thread; NULL is fine. */
void fyn_metrics_http_stop(struct fyn_metrics_http *server);

#endif
