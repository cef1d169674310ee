/*
 * plugin.c: mosquitto's entry points: load the configuration and policy,
 * start the worker threads and the metrics endpoint, register the
 * callbacks; and the reverse.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "hub.h"
#include "wake.h"

/* The build hides every symbol; only mosquitto's entry points are exported. */
#define EXPORTED __attribute__((visibility("default")))

struct callback {
	int event;
	MOSQ_FUNC_generic_callback function;
};

static const struct callback callbacks[] = {
	{ MOSQ_EVT_BASIC_AUTH, fyn_on_basic_auth },
	{ MOSQ_EVT_ACL_CHECK, fyn_on_acl_check },
	{ MOSQ_EVT_MESSAGE, fyn_on_message },
	{ MOSQ_EVT_TICK, fyn_on_tick },
	{ MOSQ_EVT_DISCONNECT, fyn_on_disconnect },
	{ MOSQ_EVT_RELOAD, fyn_on_reload },
};
#define CALLBACK_COUNT (sizeof(callbacks) / sizeof(callbacks[0]))

EXPORTED int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for (int i = 0; i < supported_version_count; i++) {
		if (supported_versions[i] == 5) {
			return 5;
		}
	}
	return -1;
}

static void free_hub(struct fyn_hub *hub)
{
	fyn_metrics_stop(hub);
	fyn_pipeline_stop(hub->pipeline);
	fyn_fanout_stop(hub->fanout);
	fyn_reader_stop(hub->replays);
	fyn_reader_stop(hub->lookups);
	fyn_outbox_free(hub->outbox);
	fyn_alerts_stop(hub);
	fyn_nodes_stop(hub);
	json_decref(hub->durable_ops);
	fyn_sessions_clear(&hub->sessions);
	fyn_views_unref(hub->views);
	fyn_token_config_clear(&hub->tokens);
	fyn_config_clear(&hub->config);
	free(hub);
}

/* Replay requests beyond this wait for none: the client is told to retry.
 * A reconnect storm asks for one per client at once: at 1,024, 5,000
 * clients resuming got 19,000 busy answers and retried for 32-35 s; at
 * 16,384 none did and all were caught up in 24 s (docs/benchmarks.md). A
 * waiting request holds its ids and, for an automatic resume, the client's
 * identity: small, and bounded by this limit. */
#define READER_MAX_PENDING 16384
#define REPLAY_PAGE_SIZE 500
/* Threads (and database connections) per reader. One client's requests are
 * served one at a time, so with two a flood from one client never holds
 * the thread another client's request needs. */
#define READER_THREADS 2

static int start_threads(struct fyn_hub *hub)
{
	char err[256];
	struct fyn_pipeline_config pc = {
		.conninfo = hub->config.db,
		.max_queue = hub->config.max_queue,
		.max_batch = hub->config.max_batch,
		.writers = hub->config.writers,
	};
	struct fyn_reader_config rc = {
		.conninfo = hub->config.db,
		.max_replay = hub->config.max_replay,
		.replay_rate = hub->config.replay_rate,
		.page_size = REPLAY_PAGE_SIZE,
		.max_pending = READER_MAX_PENDING,
		.max_client_requests = hub->config.max_client_requests,
		.threads = READER_THREADS,
	};
	if (fyn_wake_init() != 0 || !(hub->outbox = fyn_outbox_new(fyn_wake_broker))) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: cannot set up waking the broker thread.");
		return -1;
	}
	hub->fanout = fyn_fanout_start(hub->config.db, hub->views, hub->outbox, err, sizeof(err));
	pc.fanout = hub->fanout;
	hub->pipeline = hub->fanout ? fyn_pipeline_start(&pc, hub->outbox, err, sizeof(err)) : NULL;
	hub->replays = hub->pipeline ? fyn_reader_start(&rc, hub->outbox, err, sizeof(err)) : NULL;
	hub->lookups = hub->replays ? fyn_reader_start(&rc, hub->outbox, err, sizeof(err)) : NULL;
	if (!hub->lookups) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: %s.", err);
		return -1;
	}
	return 0;
}

static int register_callbacks(struct fyn_hub *hub)
{
	for (size_t i = 0; i < CALLBACK_COUNT; i++) {
		if (mosquitto_callback_register(hub->plugin_id, callbacks[i].event,
				callbacks[i].function, NULL, hub) != MOSQ_ERR_SUCCESS) {
			mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: cannot register callback %d.", callbacks[i].event);
			return -1;
		}
	}
	return 0;
}

/* mosquitto's options as the core's plain key/value pairs. */
static int parse_config(struct fyn_hub *hub, const struct mosquitto_opt *options, int count,
		char *err, size_t errlen)
{
	struct fyn_option *copy = calloc(count > 0 ? (size_t)count : 1, sizeof(*copy));
	int rc;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < count; i++) {
		copy[i].key = options[i].key;
		copy[i].value = options[i].value;
	}
	rc = fyn_config_parse(copy, count, &hub->config, err, errlen);
	free(copy);
	return rc;
}

EXPORTED int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	char err[512];
	struct fyn_hub *hub = calloc(1, sizeof(*hub));

	if (!hub) {
		return MOSQ_ERR_NOMEM;
	}
	hub->plugin_id = identifier;
	if (parse_config(hub, options, option_count, err, sizeof(err)) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: %s. Fix mosquitto.conf and restart.", err);
		free_hub(hub);
		return MOSQ_ERR_INVAL;
	}
	if (fyn_nodes_start(hub) != 0 || fyn_hub_load_policy(hub) != 0 || start_threads(hub) != 0
			|| fyn_metrics_start(hub) != 0
			|| fyn_alerts_start(hub) != 0 || register_callbacks(hub) != 0) {
		free_hub(hub);
		return MOSQ_ERR_UNKNOWN;
	}
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "fynsync: ready (ACL %s, JWT %s, queue %zu, batch %zu, writers %zu).",
			hub->config.acl_file, hub->config.jwt_alg, hub->config.max_queue, hub->config.max_batch,
			hub->config.writers);
	*userdata = hub;
	return MOSQ_ERR_SUCCESS;
}

EXPORTED int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct fyn_hub *hub = userdata;
	(void)options;
	(void)option_count;
	for (size_t i = 0; hub && i < CALLBACK_COUNT; i++) {
		mosquitto_callback_unregister(hub->plugin_id, callbacks[i].event, callbacks[i].function, NULL);
	}
	if (hub) {
		free_hub(hub);
		fyn_wake_cleanup();
	}
	return MOSQ_ERR_SUCCESS;
}
