/*
 * wake.h: waking mosquitto's main loop from another thread.
 *
 * mosquitto 2.0 sleeps in epoll_wait for up to 100 ms when idle and offers
 * plugins no way to wake it. A signal that is not in mosquitto's blocked set
 * interrupts epoll_wait (EINTR), the loop runs MOSQ_EVT_TICK, and the plugin
 * publishes what the writer finished, so a confirmed event does not wait for
 * the next 100 ms tick. A wake that arrives just before epoll_wait is lost;
 * the outbox's waker thread (outbox.c) re-wakes every 2 ms while completions
 * are undrained. The signal handler is process-wide: init and cleanup run
 * on the broker thread at plugin init and cleanup.
 */
#ifndef FYNSYNC_WAKE_H
#define FYNSYNC_WAKE_H

/* Call on the broker thread (plugin init). Returns 0 or -1 with errno. */
int fyn_wake_init(void);
/* Any thread. */
void fyn_wake_broker(void);
/* Restores the previous signal disposition (plugin cleanup). */
void fyn_wake_cleanup(void);

#endif
