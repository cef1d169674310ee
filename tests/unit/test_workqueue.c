/*
 * test_workqueue.c: the queue every hub thread is fed by
 * (workers/workqueue.c): order, the bound, batches, taking expired items,
 * stopping ending every wait at once, and the keyed lanes' fair service:
 * groups and keys in turn, the per-key bound on outstanding items, and
 * plain items taking their turn beside keyed ones; and the writers' whole
 * lanes with group commit (a key in hand until done, a second consumer only
 * for a backlog).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "workqueue.h"

struct item {
	struct fyn_work work;
	int value;
};

static int freed;

static void free_item(struct fyn_work *w)
{
	freed++;
	free(w);
}

static struct item *item_of(int value)
{
	struct item *it = calloc(1, sizeof(*it));
	assert_non_null(it);
	it->value = value;
	return it;
}

static void fifo_order_and_bound(void **state)
{
	struct fyn_workqueue q;
	struct fyn_work *out[8];
	struct item *extra = item_of(99);
	(void)state;
	fyn_workqueue_init(&q, 3);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(fyn_workqueue_push(&q, &item_of(i)->work), 0);
	}
	assert_int_equal(fyn_workqueue_push(&q, &extra->work), -1);   /* full: still ours */
	assert_int_equal(fyn_workqueue_count(&q), 3);
	assert_int_equal(fyn_workqueue_wait_take(&q, out, 2), 2);      /* a batch of at most 2 */
	assert_int_equal(((struct item *)out[0])->value, 1);
	assert_int_equal(((struct item *)out[1])->value, 2);
	free(out[0]);
	free(out[1]);
	assert_int_equal(fyn_workqueue_push(&q, &extra->work), 0);
	assert_int_equal(fyn_workqueue_wait_take(&q, out, 8), 2);
	assert_int_equal(((struct item *)out[0])->value, 3);
	assert_int_equal(((struct item *)out[1])->value, 99);
	for (int i = 0; i < 2; i++) {
		free(out[i]);
	}
	fyn_workqueue_destroy(&q, free_item);
}

static bool below(const struct fyn_work *w, const void *limit)
{
	return ((const struct item *)w)->value < *(const int *)limit;
}

static void take_while_takes_from_the_front_only(void **state)
{
	struct fyn_workqueue q;
	int limit = 3;
	int values[] = { 1, 2, 5, 1 };
	struct fyn_work *taken;
	(void)state;
	fyn_workqueue_init(&q, 10);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(fyn_workqueue_push(&q, &item_of(values[i])->work), 0);
	}
	taken = fyn_workqueue_take_while(&q, below, &limit);
	assert_int_equal(((struct item *)taken)->value, 1);
	assert_int_equal(((struct item *)taken->next)->value, 2);
	assert_null(taken->next->next);
	free(taken->next);
	free(taken);
	assert_int_equal(fyn_workqueue_count(&q), 2);   /* 5 stops it; the last 1 stays */
	freed = 0;
	fyn_workqueue_destroy(&q, free_item);
	assert_int_equal(freed, 2);
}

static void take_all_empties_the_queue(void **state)
{
	struct fyn_workqueue q;
	struct fyn_work *list;
	int count = 0;
	(void)state;
	fyn_workqueue_init(&q, SIZE_MAX);
	assert_null(fyn_workqueue_take_all(&q));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(fyn_workqueue_push(&q, &item_of(i)->work), 0);
	}
	list = fyn_workqueue_take_all(&q);
	while (list) {
		struct fyn_work *next = list->next;
		assert_int_equal(((struct item *)list)->value, count++);
		free(list);
		list = next;
	}
	assert_int_equal(count, 5);
	assert_int_equal(fyn_workqueue_count(&q), 0);
	fyn_workqueue_destroy(&q, free_item);
}

static void *consumer(void *arg)
{
	struct fyn_workqueue *q = arg;
	struct fyn_work *out[1];
	return (void *)(intptr_t)fyn_workqueue_wait_take(q, out, 1);
}

static void *pauser(void *arg)
{
	return (void *)(intptr_t)fyn_workqueue_pause(arg, 60000);
}

static void stop_ends_every_wait(void **state)
{
	struct fyn_workqueue q;
	pthread_t waiting, pausing;
	void *taken, *paused;
	struct item *late = item_of(1);
	(void)state;
	fyn_workqueue_init(&q, 4);
	assert_int_equal(pthread_create(&waiting, NULL, consumer, &q), 0);
	assert_int_equal(pthread_create(&pausing, NULL, pauser, &q), 0);
	fyn_workqueue_stop(&q);
	assert_int_equal(pthread_join(waiting, &taken), 0);
	assert_int_equal(pthread_join(pausing, &paused), 0);   /* not after 60 s */
	assert_int_equal((intptr_t)taken, 0);
	assert_int_equal((intptr_t)paused, 0);
	assert_false(fyn_workqueue_wait_pending(&q));
	assert_int_equal(fyn_workqueue_push(&q, &late->work), -1);   /* refused once stopping */
	free(late);
	fyn_workqueue_destroy(&q, free_item);
}

/* Takes n items one at a time; returns their values in order taken (and
 * reports each done, as a reader does once it answered). */
static void take_values(struct fyn_workqueue *q, int *values, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct fyn_work *out[1];
		assert_int_equal(fyn_workqueue_wait_take(q, out, 1), 1);
		values[i] = ((struct item *)out[0])->value;
		fyn_workqueue_done(q, out[0]);
		free(out[0]);
	}
}

static void push_keyed(struct fyn_workqueue *q, const char *group, const char *key, int value)
{
	struct item *it = item_of(value);
	assert_int_equal(fyn_workqueue_push_keyed(q, &it->work, group, key, 100), FYN_PUSH_OK);
}

static void groups_take_turns_then_keys_within_a_group(void **state)
{
	struct fyn_workqueue q;
	int got[9];
	/* r1 and r2 alternate while both have work; within r1, a and b take
	 * turns, so b's one request waits for one of a's six, not all six */
	const int want[] = { 1, 10, 7, 11, 2, 3, 4, 5, 6 };
	(void)state;
	fyn_workqueue_init(&q, 100);
	/* restaurant r1: a flood from client a, then one request from b */
	for (int i = 1; i <= 6; i++) {
		push_keyed(&q, "r1", "a", i);
	}
	push_keyed(&q, "r1", "b", 7);
	/* restaurant r2: two requests from c, pushed after the flood */
	push_keyed(&q, "r2", "c", 10);
	push_keyed(&q, "r2", "c", 11);
	take_values(&q, got, 9);
	for (int i = 0; i < 9; i++) {
		assert_int_equal(got[i], want[i]);
	}
	assert_int_equal(fyn_workqueue_count(&q), 0);
	assert_int_equal(fyn_workqueue_outstanding(&q, "a"), 0);
	fyn_workqueue_destroy(&q, free_item);
}

/* Many groups and keys (a reconnect storm: thousands of clients over
 * hundreds of restaurants) keep their turns, and names come back after
 * their groups and keys were freed. */
static void thousands_of_groups_and_keys_take_their_turns(void **state)
{
	enum { GROUPS = 3000 };
	struct fyn_workqueue q;
	static int got[2 * GROUPS];
	char name[32];
	(void)state;
	fyn_workqueue_init(&q, 2 * GROUPS);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < GROUPS; i++) {
			snprintf(name, sizeof(name), "g%d", i);
			push_keyed(&q, name, name + 1, i);
			push_keyed(&q, name, name + 1, GROUPS + i);
		}
		assert_int_equal(fyn_workqueue_outstanding(&q, "2999"), 2);
		take_values(&q, got, 2 * GROUPS);
		for (int i = 0; i < 2 * GROUPS; i++) {   /* each group's first, then each one's second */
			assert_int_equal(got[i], i);
		}
		assert_int_equal(fyn_workqueue_count(&q), 0);
		assert_int_equal(fyn_workqueue_outstanding(&q, "2999"), 0);
	}
	fyn_workqueue_destroy(&q, free_item);
}

static void a_key_is_bounded_until_its_items_are_done(void **state)
{
	struct fyn_workqueue q;
	struct fyn_work *out[4];
	struct item *extra = item_of(99), *other = item_of(50);
	(void)state;
	fyn_workqueue_init(&q, 100);
	for (int i = 0; i < 3; i++) {
		struct item *it = item_of(i);
		assert_int_equal(fyn_workqueue_push_keyed(&q, &it->work, i == 2 ? "r2" : "r1", "a", 3), FYN_PUSH_OK);
	}
	/* the bound counts across groups: a has 3 outstanding in r1 and r2 */
	assert_int_equal(fyn_workqueue_push_keyed(&q, &extra->work, "r3", "a", 3), FYN_PUSH_BUSY);
	assert_int_equal(fyn_workqueue_push_keyed(&q, &other->work, "r1", "b", 3), FYN_PUSH_OK);
	assert_int_equal(fyn_workqueue_outstanding(&q, "a"), 3);
	/* one item per key at a time: a's first and b's, not a's others */
	assert_int_equal(fyn_workqueue_wait_take(&q, out, 4), 2);
	assert_int_equal(((struct item *)out[0])->value, 0);
	assert_int_equal(((struct item *)out[1])->value, 50);
	assert_null(fyn_workqueue_take_all(&q));
	assert_int_equal(fyn_workqueue_count(&q), 2);
	/* taken is not done: a's items stay outstanding */
	assert_int_equal(fyn_workqueue_outstanding(&q, "a"), 3);
	assert_int_equal(fyn_workqueue_push_keyed(&q, &extra->work, "r3", "a", 3), FYN_PUSH_BUSY);
	fyn_workqueue_done(&q, out[0]);
	free(out[0]);
	assert_int_equal(fyn_workqueue_outstanding(&q, "a"), 2);
	assert_int_equal(fyn_workqueue_push_keyed(&q, &extra->work, "r3", "a", 3), FYN_PUSH_OK);
	/* a's next one may be taken now, in turn: r2 before r1 */
	assert_int_equal(fyn_workqueue_wait_take(&q, out, 4), 1);
	assert_int_equal(((struct item *)out[0])->value, 2);
	/* put back for another turn: still outstanding, and a's next one may be taken */
	assert_int_equal(fyn_workqueue_requeue(&q, out[0], "r2"), FYN_PUSH_OK);
	assert_int_equal(fyn_workqueue_outstanding(&q, "a"), 3);
	assert_int_equal(fyn_workqueue_wait_take(&q, out + 2, 1), 1);
	assert_int_equal(((struct item *)out[2])->value, 1);   /* r1's turn now */
	fyn_workqueue_done(&q, out[1]);
	fyn_workqueue_done(&q, out[2]);
	free(out[1]);
	free(out[2]);
	assert_int_equal(fyn_workqueue_outstanding(&q, "a"), 2);   /* 2 (requeued) and 99 */
	assert_int_equal(fyn_workqueue_outstanding(&q, "b"), 0);
	freed = 0;
	fyn_workqueue_destroy(&q, free_item);
	assert_int_equal(freed, 2);
}

static void keyed_pushes_respect_the_queue_bound_and_stop(void **state)
{
	struct fyn_workqueue q;
	struct item *a = item_of(1), *b = item_of(2), *c = item_of(3);
	(void)state;
	fyn_workqueue_init(&q, 2);
	assert_int_equal(fyn_workqueue_push_keyed(&q, &a->work, "r1", "a", 10), FYN_PUSH_OK);
	assert_int_equal(fyn_workqueue_push(&q, &b->work), FYN_PUSH_OK);
	assert_int_equal(fyn_workqueue_push_keyed(&q, &c->work, "r2", "c", 10), FYN_PUSH_FULL);
	assert_int_equal(fyn_workqueue_outstanding(&q, "c"), 0);   /* a refused push leaves no trace */
	fyn_workqueue_stop(&q);
	assert_int_equal(fyn_workqueue_push_keyed(&q, &c->work, "r2", "c", 10), FYN_PUSH_FULL);
	free(c);
	freed = 0;
	fyn_workqueue_destroy(&q, free_item);
	assert_int_equal(freed, 2);
}

static void plain_items_take_their_turn_beside_keyed_ones(void **state)
{
	struct fyn_workqueue q;
	int got[6];
	struct item *plain1 = item_of(100), *plain2 = item_of(101);
	struct fyn_work *list;
	(void)state;
	fyn_workqueue_init(&q, 100);
	for (int i = 1; i <= 4; i++) {
		push_keyed(&q, "r1", "a", i);
	}
	assert_int_equal(fyn_workqueue_push(&q, &plain1->work), FYN_PUSH_OK);
	assert_int_equal(fyn_workqueue_push(&q, &plain2->work), FYN_PUSH_OK);
	/* plain items are one group: r1, plain, r1, plain, r1, r1 */
	take_values(&q, got, 2);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 100);
	list = fyn_workqueue_take_all(&q);   /* a's 2 and the plain 101; a's 3 must wait for 2 */
	assert_non_null(list);
	assert_non_null(list->next);
	assert_null(list->next->next);
	assert_int_equal(((struct item *)list)->value, 2);
	assert_int_equal(((struct item *)list->next)->value, 101);
	fyn_workqueue_done(&q, list);
	free(list->next);
	free(list);
	take_values(&q, got, 2);
	assert_int_equal(got[0], 3);
	assert_int_equal(got[1], 4);
	assert_int_equal(fyn_workqueue_outstanding(&q, "a"), 0);
	fyn_workqueue_destroy(&q, free_item);
}

static void *take_one(void *arg)
{
	struct fyn_work *out[1];
	return fyn_workqueue_wait_take(arg, out, 1) == 1 ? out[0] : NULL;
}

static void done_hands_the_key_its_next_turn(void **state)
{
	struct fyn_workqueue q;
	struct fyn_work *out[2];
	pthread_t other;
	void *got;
	(void)state;
	fyn_workqueue_init(&q, 10);
	push_keyed(&q, "r1", "a", 1);
	push_keyed(&q, "r1", "a", 2);
	assert_int_equal(fyn_workqueue_wait_take(&q, out, 2), 1);   /* a's 2 waits for a's 1 */
	/* a second consumer waits for a's 2, which done releases */
	assert_int_equal(pthread_create(&other, NULL, take_one, &q), 0);
	fyn_workqueue_done(&q, out[0]);
	free(out[0]);
	assert_int_equal(pthread_join(other, &got), 0);
	assert_non_null(got);
	assert_int_equal(((struct item *)got)->value, 2);
	fyn_workqueue_done(&q, got);
	free(got);
	assert_int_equal(fyn_workqueue_outstanding(&q, "a"), 0);
	fyn_workqueue_destroy(&q, free_item);
}

/* A key queued in two groups (a reader's client resuming two restaurants):
 * while one of its items is in hand, the other waits, in whichever group. */
static void a_key_in_hand_holds_its_items_in_every_group(void **state)
{
	struct fyn_workqueue q;
	struct fyn_work *out[2];
	pthread_t other;
	void *got;
	(void)state;
	fyn_workqueue_init(&q, 10);
	push_keyed(&q, "r1", "a", 1);
	push_keyed(&q, "r2", "a", 2);
	assert_int_equal(fyn_workqueue_wait_take(&q, out, 2), 1);
	assert_int_equal(((struct item *)out[0])->value, 1);
	assert_null(fyn_workqueue_take_all(&q));   /* r2's item of a waits */
	assert_int_equal(pthread_create(&other, NULL, take_one, &q), 0);
	fyn_workqueue_done(&q, out[0]);
	free(out[0]);
	assert_int_equal(pthread_join(other, &got), 0);
	assert_non_null(got);
	assert_int_equal(((struct item *)got)->value, 2);
	fyn_workqueue_done(&q, got);
	free(got);
	fyn_workqueue_destroy(&q, free_item);
}

/* A push wakes one waiting taker, not all; the others must still each get
 * an item of their own as more are pushed. */
static void every_waiting_taker_gets_a_pushed_item(void **state)
{
	struct fyn_workqueue q;
	pthread_t takers[4];
	int seen = 0;
	(void)state;
	fyn_workqueue_init(&q, 10);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(pthread_create(&takers[i], NULL, take_one, &q), 0);
	}
	for (int v = 1; v <= 4; v++) {
		char key[8];
		snprintf(key, sizeof(key), "k%d", v);
		push_keyed(&q, "r1", key, v);
	}
	for (size_t i = 0; i < 4; i++) {
		void *got;
		assert_int_equal(pthread_join(takers[i], &got), 0);
		assert_non_null(got);
		seen |= 1 << ((struct item *)got)->value;
		fyn_workqueue_done(&q, got);
		free(got);
	}
	assert_int_equal(seen, 2 | 4 | 8 | 16);
	fyn_workqueue_destroy(&q, free_item);
}

static void done_all_of(struct fyn_workqueue *q, struct fyn_work **items, size_t count)
{
	fyn_workqueue_done_all(q, items, count);
	for (size_t i = 0; i < count; i++) {
		free(items[i]);
	}
}

static void whole_lanes_are_taken_and_held_until_done(void **state)
{
	struct fyn_workqueue q;
	struct fyn_work *out[8];
	(void)state;
	fyn_workqueue_init(&q, 100);
	push_keyed(&q, "r1", "r1", 1);
	push_keyed(&q, "r2", "r2", 10);
	push_keyed(&q, "r1", "r1", 2);
	push_keyed(&q, "r1", "r1", 3);
	/* every queued item of each key, oldest first, keys in turn */
	assert_int_equal(fyn_workqueue_wait_take_lanes(&q, out, 8, 1), 4);
	assert_int_equal(((struct item *)out[0])->value, 1);
	assert_int_equal(((struct item *)out[1])->value, 2);
	assert_int_equal(((struct item *)out[2])->value, 3);
	assert_int_equal(((struct item *)out[3])->value, 10);
	/* r1 is in hand: its next item waits, another key's may be taken */
	push_keyed(&q, "r1", "r1", 4);
	push_keyed(&q, "r3", "r3", 20);
	assert_int_equal(fyn_workqueue_wait_take_lanes(&q, out + 4, 4, 1), 1);
	assert_int_equal(((struct item *)out[4])->value, 20);
	assert_int_equal(fyn_workqueue_count(&q), 1);
	done_all_of(&q, out, 5);
	assert_int_equal(fyn_workqueue_wait_take_lanes(&q, out, 8, 1), 1);
	assert_int_equal(((struct item *)out[0])->value, 4);
	done_all_of(&q, out, 1);
	assert_int_equal(fyn_workqueue_outstanding(&q, "r1"), 0);
	fyn_workqueue_destroy(&q, free_item);
}

static void a_lane_longer_than_the_batch_stays_in_hand(void **state)
{
	struct fyn_workqueue q;
	struct fyn_work *out[4];
	(void)state;
	fyn_workqueue_init(&q, 100);
	for (int i = 1; i <= 3; i++) {
		push_keyed(&q, "r1", "r1", i);
	}
	assert_int_equal(fyn_workqueue_wait_take_lanes(&q, out, 2, 1), 2);
	/* item 3 must not go to another consumer before 1 and 2 are done */
	assert_null(fyn_workqueue_take_all(&q));
	done_all_of(&q, out, 2);
	assert_int_equal(fyn_workqueue_wait_take_lanes(&q, out, 2, 1), 1);
	assert_int_equal(((struct item *)out[0])->value, 3);
	done_all_of(&q, out, 1);
	fyn_workqueue_destroy(&q, free_item);
}

struct lanes_taker {
	struct fyn_workqueue *q;
	struct fyn_work *out[8];
	size_t taken;
};

static void *take_lanes_with_backlog_of_3(void *arg)
{
	struct lanes_taker *t = arg;
	t->taken = fyn_workqueue_wait_take_lanes(t->q, t->out, 8, 3);
	return NULL;
}

static void a_second_consumer_waits_for_a_backlog_or_an_idle_queue(void **state)
{
	struct fyn_workqueue q;
	struct fyn_work *held[1];
	struct lanes_taker t = { .q = &q };
	pthread_t other;
	(void)state;
	fyn_workqueue_init(&q, 100);
	push_keyed(&q, "r1", "r1", 1);
	assert_int_equal(fyn_workqueue_wait_take_lanes(&q, held, 1, 3), 1);   /* nothing in hand: takes */
	/* r1 in hand: two items of other keys are not enough for a second consumer */
	push_keyed(&q, "r2", "r2", 2);
	push_keyed(&q, "r3", "r3", 3);
	assert_int_equal(pthread_create(&other, NULL, take_lanes_with_backlog_of_3, &t), 0);
	/* the third is: it takes all three */
	push_keyed(&q, "r4", "r4", 4);
	assert_int_equal(pthread_join(other, NULL), 0);
	assert_int_equal(t.taken, 3);
	done_all_of(&q, t.out, t.taken);
	/* and with nothing in hand, one item is enough */
	push_keyed(&q, "r5", "r5", 5);
	assert_int_equal(pthread_create(&other, NULL, take_lanes_with_backlog_of_3, &t), 0);
	done_all_of(&q, held, 1);
	assert_int_equal(pthread_join(other, NULL), 0);
	assert_int_equal(t.taken, 1);
	assert_int_equal(((struct item *)t.out[0])->value, 5);
	done_all_of(&q, t.out, 1);
	fyn_workqueue_destroy(&q, free_item);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fifo_order_and_bound),
		cmocka_unit_test(take_while_takes_from_the_front_only),
		cmocka_unit_test(take_all_empties_the_queue),
		cmocka_unit_test(stop_ends_every_wait),
		cmocka_unit_test(groups_take_turns_then_keys_within_a_group),
		cmocka_unit_test(thousands_of_groups_and_keys_take_their_turns),
		cmocka_unit_test(a_key_is_bounded_until_its_items_are_done),
		cmocka_unit_test(keyed_pushes_respect_the_queue_bound_and_stop),
		cmocka_unit_test(plain_items_take_their_turn_beside_keyed_ones),
		cmocka_unit_test(done_hands_the_key_its_next_turn),
		cmocka_unit_test(a_key_in_hand_holds_its_items_in_every_group),
		cmocka_unit_test(every_waiting_taker_gets_a_pushed_item),
		cmocka_unit_test(whole_lanes_are_taken_and_held_until_done),
		cmocka_unit_test(a_lane_longer_than_the_batch_stays_in_hand),
		cmocka_unit_test(a_second_consumer_waits_for_a_backlog_or_an_idle_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
