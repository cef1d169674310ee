/* timestamp.c: formats the wall clock as the hub's timestamp text (timestamp.h). */
#include "timestamp.h"

#include <stdio.h>
#include <time.h>

void fyn_timestamp_now(char out[FYN_TIMESTAMP_MAX])
{
	struct timespec now;
	struct tm utc;
	char seconds[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &utc);
	strftime(seconds, sizeof(seconds), "%Y-%m-%dT%H:%M:%S", &utc);
	snprintf(out, FYN_TIMESTAMP_MAX, "%.20s.%03dZ", seconds, (int)(now.tv_nsec / 1000000));
}
