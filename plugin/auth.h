/*
 * auth.h: telling mosquitto's reload re-check from a real CONNECT.
 *
 * On reload mosquitto fires MOSQ_EVT_RELOAD and, in the same loop iteration,
 * calls MOSQ_EVT_BASIC_AUTH again for every client it knows, connected or
 * offline (persistent sessions), with the credentials of its CONNECT. The
 * tick that ends that iteration closes the window. auth.c answers those
 * re-checks from the hub's sessions instead of re-verifying the CONNECT token.
 */
#ifndef FYNSYNC_AUTH_H
#define FYNSYNC_AUTH_H

void fyn_auth_reload_started(void);    /* from MOSQ_EVT_RELOAD */
void fyn_auth_reload_finished(void);   /* from MOSQ_EVT_TICK */

#endif
