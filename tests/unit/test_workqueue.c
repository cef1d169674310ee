/*
 * test_workqueue.c: the queue every hub thread is fed by
 * (workers/workqueue.c): order, the bound, batches, taking expired items,
 * and stopping ending every wait at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fifo_order_and_bound),
		cmocka_unit_test(take_while_takes_from_the_front_only),
		cmocka_unit_test(take_all_empties_the_queue),
		cmocka_unit_test(stop_ends_every_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
