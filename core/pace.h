/*
 * pace.h: a schedule that spreads work over time at a bounded rate.
 *
 * Why: a replay otherwise streams as fast as PostgreSQL, the reader and the
 * broker can go, and on a small machine that leaves live submissions
 * waiting for a CPU. On the 2-vCPU VM (docs/benchmarks.md, "Replay pacing")
 * a 100,000-event replay unpaced took 1.0-1.1 s and pushed the live
 * submit -> confirmed p99 of another restaurant from 2.5-2.9 ms to 23-44 ms;
 * paced at 50,000 events/s it took 2.0 s and the live p99 stayed 8-9 ms.
 *
 * A pace books each batch of work (a page of events): the batch may start
 * at the returned wait from now, and the next one no earlier than this
 * one's start plus its size at the rate. Idle time is not saved up, so the
 * rate holds over any stretch, not only on average; the first batch after
 * a pause starts at once. Rate 0 books everything at once (no bound).
 *
 * Pure and single-threaded: times are passed in, and the owner serialises
 * calls (the reader: one pace shared by its threads, under its lock).
 */
#ifndef FYNSYNC_PACE_H
#define FYNSYNC_PACE_H

struct fyn_pace {
	long long units_per_s;   /* 0: no bound */
	long long next_us;       /* the earliest start of the next batch */
};

void fyn_pace_init(struct fyn_pace *pace, long long units_per_s);
/* Books units (0 < units <= 1e9) at now_us; returns the µs to wait before
 * starting them, 0 when they may start now. */
long long fyn_pace_book(struct fyn_pace *pace, long long now_us, long long units);

#endif
