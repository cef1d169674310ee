/*
 * policy.c: loading and reloading the ACL file and the JWT key.
 *
 * Both are read into new objects first; only when both are good do they
 * replace the current ones, so a broken file never takes effect and the hub
 * keeps enforcing the last good policy.
 */
#include <stdio.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "auth.h"
#include "hub.h"
#include "session_info.h"

/* views owns the new ACL; the old ACL goes with the last reference to the
 * old views. */
static void install(struct fyn_hub *hub, struct fyn_views *views, const struct fyn_token_config *tokens)
{
	hub->acl = views->acl;
	fyn_views_unref(hub->views);
	hub->views = views;
	fyn_token_config_clear(&hub->tokens);
	hub->tokens = *tokens;
	hub->acl_generation++;
	if (hub->fanout) {
		fyn_fanout_set_views(hub->fanout, views);
	}
}

int fyn_hub_load_policy(struct fyn_hub *hub)
{
	char err[512];
	struct fyn_token_config tokens;
	struct fyn_acl *acl;
	struct fyn_views *views;

	memset(&tokens, 0, sizeof(tokens));
	acl = fyn_acl_load_file(hub->config.acl_file, err, sizeof(err));
	if (!acl) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: ACL file not loaded: %s. %s", err,
				hub->acl ? "The previous rules stay in force; fix the file and reload."
				: "Fix the file (check it with ./fynsync acl check) and restart.");
		return -1;
	}
	if (fyn_token_config_load(&tokens, hub->config.jwt_alg, hub->config.jwt_key_file,
			hub->config.jwt_issuer, hub->config.jwt_audience, hub->config.jwt_leeway_s,
			err, sizeof(err)) != 0) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: JWT key not loaded: %s. %s", err,
				hub->acl ? "The previous key stays in force." : "Fix plugin_opt_jwt_* and restart.");
		fyn_acl_free(acl);
		return -1;
	}
	views = fyn_views_from_acl(acl);
	if (!views) {
		mosquitto_log_printf(MOSQ_LOG_ERR, "fynsync: out of memory loading the policy.");
		fyn_acl_free(acl);
		fyn_token_config_clear(&tokens);
		return -1;
	}
	install(hub, views, &tokens);
	return 0;
}

int fyn_on_reload(int event, void *event_data, void *userdata)
{
	struct fyn_hub *hub = userdata;
	(void)event;
	(void)event_data;
	fyn_auth_reload_started();
	if (fyn_hub_load_policy(hub) == 0) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "fynsync: reloaded ACL %s and JWT key %s.",
				hub->config.acl_file, hub->config.jwt_key_file);
		fyn_session_info_publish_all(hub);
	}
	return MOSQ_ERR_SUCCESS;
}
