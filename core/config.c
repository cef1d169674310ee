/*
 * config.c: parsing plugin_opt_* settings (see config.h).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

enum number_type { AS_INT, AS_SIZE, AS_LONG_LONG };

/* A numeric plugin_opt_*: its bounds and where it goes in fyn_config. */
struct number_option {
	const char *key;
	long long min, max;
	size_t offset;
	enum number_type type;
};

static bool parse_number(const char *text, const struct number_option *spec, long long *out,
		char *err, size_t errlen)
{
	char *end = NULL;
	long long value;

	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < spec->min || value > spec->max) {
		snprintf(err, errlen, "plugin_opt_%s must be an integer from %lld to %lld, not '%s'",
				spec->key, spec->min, spec->max, text);
		return false;
	}
	*out = value;
	return true;
}

static bool set_string(char **slot, const char *value, char *err, size_t errlen)
{
	free(*slot);
	*slot = strdup(value);
	if (!*slot) {
		snprintf(err, errlen, "out of memory");
	}
	return *slot != NULL;
}

static const struct number_option numbers[] = {
	{ "jwt_leeway", 0, 300, offsetof(struct fyn_config, jwt_leeway_s), AS_INT },
	{ "max_event_bytes", 256, 16LL * 1024 * 1024, offsetof(struct fyn_config, max_event_bytes), AS_SIZE },
	{ "max_queue", 1, 10000000, offsetof(struct fyn_config, max_queue), AS_SIZE },
	{ "max_batch", 1, 10000, offsetof(struct fyn_config, max_batch), AS_SIZE },
	{ "writers", 1, 64, offsetof(struct fyn_config, writers), AS_SIZE },
	{ "commit_timeout_ms", 100, 600000, offsetof(struct fyn_config, commit_timeout_ms), AS_INT },
	{ "max_replay", 1, 100000000, offsetof(struct fyn_config, max_replay), AS_LONG_LONG },
	{ "replay_rate", 0, 100000000, offsetof(struct fyn_config, replay_rate), AS_LONG_LONG },
	{ "metrics_port", 0, 65535, offsetof(struct fyn_config, metrics_port), AS_INT },
	{ "alert_window", 1, 3600, offsetof(struct fyn_config, alert_window_s), AS_INT },
	{ "alert_min_count", 1, 1000000, offsetof(struct fyn_config, alert_min_count), AS_INT },
	{ "max_client_requests", 1, 100000, offsetof(struct fyn_config, max_client_requests), AS_SIZE },
};

/* value is within the option's bounds, so it fits the field's type. */
static void store_number(struct fyn_config *cfg, const struct number_option *spec, long long value)
{
	char *field = (char *)cfg + spec->offset;
	switch (spec->type) {
	case AS_INT: *(int *)(void *)field = (int)value; break;
	case AS_SIZE: *(size_t *)(void *)field = (size_t)value; break;
	case AS_LONG_LONG: *(long long *)(void *)field = value; break;
	}
}

static char **string_slot(struct fyn_config *cfg, const char *key)
{
	if (strcmp(key, "db_conninfo") == 0) return &cfg->db;
	if (strcmp(key, "jwt_alg") == 0) return &cfg->jwt_alg;
	if (strcmp(key, "jwt_key_file") == 0) return &cfg->jwt_key_file;
	if (strcmp(key, "jwt_issuer") == 0) return &cfg->jwt_issuer;
	if (strcmp(key, "jwt_audience") == 0) return &cfg->jwt_audience;
	if (strcmp(key, "acl_file") == 0) return &cfg->acl_file;
	if (strcmp(key, "node_name") == 0) return &cfg->node_name;
	return NULL;
}

static bool apply_option(struct fyn_config *cfg, const struct fyn_option *opt, char *err, size_t errlen)
{
	char **slot = string_slot(cfg, opt->key);
	if (slot) {
		return set_string(slot, opt->value, err, errlen);
	}
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		long long value;
		if (strcmp(opt->key, numbers[i].key) == 0) {
			if (!parse_number(opt->value, &numbers[i], &value, err, errlen)) {
				return false;
			}
			store_number(cfg, &numbers[i], value);
			return true;
		}
	}
	snprintf(err, errlen, "unknown option plugin_opt_%s (see README.md, Configuration)", opt->key);
	return false;
}

static bool require(const char *value, const char *key, char *err, size_t errlen)
{
	if (!value || !value[0]) {
		snprintf(err, errlen, "plugin_opt_%s is required", key);
		return false;
	}
	return true;
}

int fyn_config_parse(const struct fyn_option *options, int count, struct fyn_config *cfg,
		char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_event_bytes = 65536;
	cfg->max_queue = 10000;
	cfg->max_batch = 256;
	cfg->writers = 4;
	cfg->commit_timeout_ms = 3000;
	cfg->max_replay = 50000;
	cfg->replay_rate = 50000;
	cfg->metrics_port = 9464;
	cfg->alert_window_s = 60;
	cfg->alert_min_count = 20;
	cfg->max_client_requests = 8;
	if (!set_string(&cfg->jwt_alg, "HS256", err, errlen)) {
		return -1;
	}
	for (int i = 0; i < count; i++) {
		if (!apply_option(cfg, &options[i], err, errlen)) {
			return -1;
		}
	}
	if (cfg->node_name && !fyn_client_id_is_valid(cfg->node_name)) {
		snprintf(err, errlen, "plugin_opt_node_name must match [A-Za-z0-9._-]{1,64} (it appears in topics)");
		return -1;
	}
	return require(cfg->db, "db_conninfo", err, errlen) && require(cfg->jwt_key_file, "jwt_key_file", err, errlen)
		&& require(cfg->acl_file, "acl_file", err, errlen) ? 0 : -1;
}

void fyn_node_name_from_host(const char *host, char out[FYN_NODE_NAME_MAX + 1])
{
	size_t n = 0;
	for (; n < FYN_NODE_NAME_MAX && host[n]; n++) {
		char c = host[n];
		bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
			|| c == '.' || c == '_' || c == '-';
		out[n] = '-';
		if (allowed) {
			out[n] = c;
		}
	}
	out[n] = '\0';
	if (n == 0) {
		snprintf(out, FYN_NODE_NAME_MAX + 1, "hub");
	}
}

void fyn_config_clear(struct fyn_config *cfg)
{
	free(cfg->db);
	free(cfg->jwt_alg);
	free(cfg->jwt_key_file);
	free(cfg->jwt_issuer);
	free(cfg->jwt_audience);
	free(cfg->acl_file);
	free(cfg->node_name);
	memset(cfg, 0, sizeof(*cfg));
}
