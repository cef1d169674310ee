/*
 * clock.h: the hub's time for deadlines and waits.
 *
 * Deadlines are monotonic milliseconds (fyn_now_ms); latencies measured
 * against event timestamps use the wall clock (fyn_wall_ms); pthread condition
 * waits take an absolute CLOCK_REALTIME time, which fyn_wait_until_ms
 * computes, so no thread does that arithmetic itself. Any thread.
 */
#ifndef FYNSYNC_CLOCK_H
#define FYNSYNC_CLOCK_H

#include <pthread.h>
#include <stdbool.h>

long long fyn_now_ms(void);   /* CLOCK_MONOTONIC, in ms */
long long fyn_now_us(void);   /* CLOCK_MONOTONIC, in µs: for durations (store commit times) */
long long fyn_wall_ms(void);  /* CLOCK_REALTIME, in ms: for comparing with timestamps */

/* Waits on cond (lock held) for up to ms milliseconds or until *stopping
 * becomes true; wake-ups by other signals do not end the wait early.
 * Returns *stopping. */
bool fyn_wait_unless_stopping(pthread_cond_t *cond, pthread_mutex_t *lock, const bool *stopping, long long ms);

#endif
