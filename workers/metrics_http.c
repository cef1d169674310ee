/*
 * metrics_http.c: GET /metrics with libmicrohttpd (see metrics_http.h).
 *
 * libmicrohttpd runs one internal polling thread (epoll, so descriptors
 * above 1024 from a busy broker are fine). It is started with every signal
 * blocked, so process-directed signals (SIGHUP, SIGTERM) still go to
 * mosquitto's thread. It logs nothing: only the broker thread may log.
 */
#include "metrics_http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_S 10

struct fyn_metrics_http {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;      /* guards snapshot */
	struct fyn_metrics snapshot;
	char node[128];
};

static enum MHD_Result reply(struct MHD_Connection *connection, unsigned int status, const char *type,
		char *body)
{
	struct MHD_Response *response = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;

	if (!response) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	rc = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
	return rc;
}

/* HTTP thread. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
		const char *method, const char *version, const char *upload_data, size_t *upload_data_size,
		void **request_state)
{
	struct fyn_metrics_http *server = cls;
	struct fyn_metrics copy;
	char *body;

	(void)version;
	(void)upload_data;
	(void)request_state;
	if (*upload_data_size != 0) {
		*upload_data_size = 0;   /* a body is not wanted; read it and answer at the end */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		body = strdup("only GET /metrics is served\n");
		return body ? reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", body) : MHD_NO;
	}
	if (strcmp(url, "/metrics") != 0) {
		body = strdup("not found: the metrics are at /metrics\n");
		return body ? reply(connection, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", body) : MHD_NO;
	}
	pthread_mutex_lock(&server->lock);
	copy = server->snapshot;
	pthread_mutex_unlock(&server->lock);
	body = fyn_metrics_prometheus(&copy, server->node);
	return body ? reply(connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body) : MHD_NO;
}

struct fyn_metrics_http *fyn_metrics_http_start(int port, const char *node, char *err, size_t errlen)
{
	struct fyn_metrics_http *server = calloc(1, sizeof(*server));
	sigset_t all, previous;

	if (!server) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&server->lock, NULL);
	snprintf(server->node, sizeof(server->node), "%s", node);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &previous);
	server->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, (uint16_t)port, NULL, NULL,
			on_request, server,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
			MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &previous, NULL);
	if (!server->daemon) {
		snprintf(err, errlen, "cannot serve metrics on port %d (in use, or not allowed)", port);
		pthread_mutex_destroy(&server->lock);
		free(server);
		return NULL;
	}
	return server;
}

void fyn_metrics_http_update(struct fyn_metrics_http *server, const struct fyn_metrics *snapshot)
{
	pthread_mutex_lock(&server->lock);
	server->snapshot = *snapshot;
	pthread_mutex_unlock(&server->lock);
}

void fyn_metrics_http_stop(struct fyn_metrics_http *server)
{
	if (!server) {
		return;
	}
	MHD_stop_daemon(server->daemon);
	pthread_mutex_destroy(&server->lock);
	free(server);
}
