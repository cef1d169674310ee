/* timestamp.c: the hub's timestamp text, written and read (timestamp.h). */
#include "timestamp.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
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

/* n digits at text as a number, or -1. */
static int digits(const char *text, int n)
{
	int value = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)text[i])) {
			return -1;
		}
		value = value * 10 + (text[i] - '0');
	}
	return value;
}

/* The fraction of a second after the '.', as milliseconds; *end after it. */
static int fraction_ms(const char *text, const char **end)
{
	int ms = 0, scale = 100;
	const char *c = text;
	while (isdigit((unsigned char)*c)) {
		ms += (*c - '0') * scale;
		scale /= 10;
		c++;
	}
	*end = c;
	return c == text ? -1 : ms;
}

/* "Z" or "+HH:MM"/"-HH:MM" as seconds east of UTC, or -100000. */
static long zone_offset_s(const char *text)
{
	int hours, minutes;
	if ((text[0] == 'Z' || text[0] == 'z') && text[1] == '\0') {
		return 0;
	}
	if ((text[0] != '+' && text[0] != '-') || text[3] != ':' || text[6] != '\0'
			|| (hours = digits(text + 1, 2)) < 0 || (minutes = digits(text + 4, 2)) < 0) {
		return -100000;
	}
	return (text[0] == '-' ? -1 : 1) * (hours * 3600L + minutes * 60L);
}

int fyn_timestamp_parse_ms(const char *text, long long *ms)
{
	struct tm tm;
	const char *rest;
	int millis = 0;
	long offset;

	memset(&tm, 0, sizeof(tm));
	if (strlen(text) < 20 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't'
			&& text[10] != ' ') || text[13] != ':' || text[16] != ':') {
		return -1;
	}
	tm.tm_year = digits(text, 4) - 1900;
	tm.tm_mon = digits(text + 5, 2) - 1;
	tm.tm_mday = digits(text + 8, 2);
	tm.tm_hour = digits(text + 11, 2);
	tm.tm_min = digits(text + 14, 2);
	tm.tm_sec = digits(text + 17, 2);
	if (tm.tm_year < -1900 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31
			|| tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0
			|| tm.tm_sec > 60) {
		return -1;
	}
	rest = text + 19;
	if (*rest == '.' && (millis = fraction_ms(rest + 1, &rest)) < 0) {
		return -1;
	}
	if ((offset = zone_offset_s(rest)) == -100000) {
		return -1;
	}
	*ms = ((long long)timegm(&tm) - offset) * 1000 + millis;
	return 0;
}
