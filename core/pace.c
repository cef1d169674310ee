/*
 * pace.c: the rate schedule of pace.h.
 */
#include "pace.h"

void fyn_pace_init(struct fyn_pace *pace, long long units_per_s)
{
	pace->units_per_s = units_per_s;
	pace->next_us = 0;
}

long long fyn_pace_book(struct fyn_pace *pace, long long now_us, long long units)
{
	long long start;
	if (pace->units_per_s <= 0) {
		return 0;
	}
	start = pace->next_us > now_us ? pace->next_us : now_us;
	pace->next_us = start + units * 1000000 / pace->units_per_s;
	return start - now_us;
}
