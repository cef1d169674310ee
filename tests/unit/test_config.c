/*
 * test_config.c: plugin_opt_* settings (core/config.c): defaults, every
 * numeric option landing in its own field, bounds, and clear errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>


#include "config.h"

#define OPT(k, v) { (char *)(k), (char *)(v) }

static void required_paths_and_defaults(void **state)
{
	struct fyn_option opts[] = { OPT("db_conninfo", "dbname=x"), OPT("jwt_key_file", "k"), OPT("acl_file", "a") };
	struct fyn_config cfg;
	char err[256];
	(void)state;
	assert_int_equal(fyn_config_parse(opts, 3, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.jwt_alg, "HS256");
	assert_int_equal(cfg.jwt_leeway_s, 0);
	assert_int_equal(cfg.max_event_bytes, 65536);
	assert_int_equal(cfg.max_queue, 10000);
	assert_int_equal(cfg.max_batch, 256);
	assert_int_equal(cfg.writers, 4);
	assert_int_equal(cfg.commit_timeout_ms, 3000);
	assert_int_equal(cfg.max_replay, 50000);
	assert_int_equal(cfg.replay_rate, 50000);
	assert_null(cfg.node_name);
	assert_int_equal(cfg.metrics_port, 9464);
	assert_int_equal(cfg.alert_window_s, 60);
	assert_int_equal(cfg.alert_min_count, 20);
	assert_int_equal(cfg.max_client_requests, 8);
	fyn_config_clear(&cfg);
}

static void each_number_lands_in_its_field(void **state)
{
	struct fyn_option opts[] = {
		OPT("db_conninfo", "dbname=x"), OPT("jwt_key_file", "k"), OPT("acl_file", "a"),
		OPT("jwt_leeway", "7"), OPT("max_event_bytes", "1000"), OPT("max_queue", "11"),
		OPT("max_batch", "12"), OPT("commit_timeout_ms", "1300"), OPT("max_replay", "99999999"),
		OPT("metrics_port", "0"), OPT("alert_window", "5"), OPT("alert_min_count", "3"),
		OPT("node_name", "node-1.eu"),
		OPT("writers", "3"), OPT("max_client_requests", "4"), OPT("replay_rate", "0"),
	};
	struct fyn_config cfg;
	char err[256];
	(void)state;
	assert_int_equal(fyn_config_parse(opts, (int)(sizeof(opts) / sizeof(opts[0])), &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.metrics_port, 0);
	assert_int_equal(cfg.alert_window_s, 5);
	assert_int_equal(cfg.alert_min_count, 3);
	assert_string_equal(cfg.node_name, "node-1.eu");
	assert_int_equal(cfg.jwt_leeway_s, 7);
	assert_int_equal(cfg.max_event_bytes, 1000);
	assert_int_equal(cfg.max_queue, 11);
	assert_int_equal(cfg.max_batch, 12);
	assert_int_equal(cfg.writers, 3);
	assert_int_equal(cfg.commit_timeout_ms, 1300);
	assert_int_equal(cfg.max_replay, 99999999);
	assert_int_equal(cfg.replay_rate, 0);
	assert_int_equal(cfg.max_client_requests, 4);
	fyn_config_clear(&cfg);
}

static void expect_error(struct fyn_option *opts, int count, const char *words)
{
	struct fyn_config cfg;
	char err[256] = "";
	assert_int_equal(fyn_config_parse(opts, count, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, words));
	fyn_config_clear(&cfg);
}

static void bad_settings_are_named(void **state)
{
	struct fyn_option missing[] = { OPT("db_conninfo", "dbname=x"), OPT("jwt_key_file", "k") };
	struct fyn_option unknown[] = { OPT("bogus", "1") };
	struct fyn_option too_small[] = { OPT("commit_timeout_ms", "99") };
	struct fyn_option not_a_number[] = { OPT("max_queue", "12x") };
	(void)state;
	expect_error(missing, 2, "plugin_opt_acl_file is required");
	expect_error(unknown, 1, "unknown option plugin_opt_bogus");
	expect_error(too_small, 1, "plugin_opt_commit_timeout_ms must be an integer from 100 to 600000");
	expect_error(not_a_number, 1, "plugin_opt_max_queue");
}

static void node_names_fit_topics(void **state)
{
	struct fyn_option slash[] = { OPT("db_conninfo", "dbname=x"), OPT("jwt_key_file", "k"), OPT("acl_file", "a"),
		OPT("node_name", "a/b") };
	struct fyn_option port[] = { OPT("metrics_port", "65536") };
	char name[FYN_NODE_NAME_MAX + 1];
	char long_host[100];
	(void)state;
	expect_error(slash, 4, "plugin_opt_node_name must match");
	expect_error(port, 1, "plugin_opt_metrics_port must be an integer from 0 to 65535");
	fyn_node_name_from_host("pos hub#1.example.com", name);
	assert_string_equal(name, "pos-hub-1.example.com");
	fyn_node_name_from_host("", name);
	assert_string_equal(name, "hub");
	memset(long_host, 'h', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	fyn_node_name_from_host(long_host, name);
	assert_int_equal(strlen(name), FYN_NODE_NAME_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(required_paths_and_defaults),
		cmocka_unit_test(each_number_lands_in_its_field),
		cmocka_unit_test(bad_settings_are_named),
		cmocka_unit_test(node_names_fit_topics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
