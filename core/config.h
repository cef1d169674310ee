/*
 * config.h: the plugin's settings, read from plugin_opt_* lines in
 * mosquitto.conf. Every setting has a sane default except the three that say
 * where things are (db, jwt_key_file, acl_file). Parsed once by the broker
 * thread at plugin init; read-only afterwards.
 */
#ifndef FYNSYNC_CONFIG_H
#define FYNSYNC_CONFIG_H

#include <stddef.h>

/* One plugin_opt_{key} {value} line; the same layout as mosquitto's
 * struct mosquitto_opt, which the plugin hands over as it is. */
struct fyn_option {
	char *key;
	char *value;
};

struct fyn_config {
	char *db;                  /* plugin_opt_db_conninfo: libpq conninfo */
	char *jwt_alg;             /* plugin_opt_jwt_alg: HS256 (default), RS256, ES256 */
	char *jwt_key_file;        /* plugin_opt_jwt_key_file */
	char *jwt_issuer;          /* plugin_opt_jwt_issuer: checked when set */
	char *jwt_audience;        /* plugin_opt_jwt_audience: checked when set */
	int jwt_leeway_s;          /* plugin_opt_jwt_leeway: seconds, default 0 */
	char *acl_file;            /* plugin_opt_acl_file */
	size_t max_event_bytes;    /* plugin_opt_max_event_bytes: default 65536 */
	size_t max_queue;          /* plugin_opt_max_queue: default 10000 */
	size_t max_batch;          /* plugin_opt_max_batch: default 256 */
	size_t writers;            /* plugin_opt_writers: writer threads and connections, default 4 */
	int commit_timeout_ms;     /* plugin_opt_commit_timeout_ms: default 3000 */
	long long max_replay;      /* plugin_opt_max_replay: default 50000 */
	long long replay_rate;     /* plugin_opt_replay_rate: replayed events/s, default 50000; 0: unbounded */
	char *node_name;           /* plugin_opt_node_name: [A-Za-z0-9._-]{1,64}; NULL: the host's name */
	int metrics_port;          /* plugin_opt_metrics_port: GET /metrics, default 9464; 0 disables */
	int alert_window_s;        /* plugin_opt_alert_window: seconds, default 60 */
	int alert_min_count;       /* plugin_opt_alert_min_count: default 20 */
	size_t max_client_requests;   /* plugin_opt_max_client_requests: per client and reader, default 8 */
};

#define FYN_NODE_NAME_MAX 64

/* Fills cfg from options. Returns 0, or -1 with err naming the option. */
int fyn_config_parse(const struct fyn_option *options, int count, struct fyn_config *cfg,
		char *err, size_t errlen);
void fyn_config_clear(struct fyn_config *cfg);

/* The default node name from a host name: its characters outside
 * [A-Za-z0-9._-] become '-', cut to FYN_NODE_NAME_MAX; "hub" when empty. */
void fyn_node_name_from_host(const char *host, char out[FYN_NODE_NAME_MAX + 1]);

#endif
