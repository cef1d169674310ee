/*
 * clock.c: monotonic milliseconds and stop-aware timed waits (see clock.h).
 */
#include "clock.h"

#include <errno.h>
#include <time.h>

long long fyn_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long fyn_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long fyn_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool fyn_wait_unless_stopping(pthread_cond_t *cond, pthread_mutex_t *lock, const bool *stopping, long long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!*stopping && pthread_cond_timedwait(cond, lock, &until) != ETIMEDOUT) {
	}
	return *stopping;
}
