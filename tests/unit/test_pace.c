/*
 * test_pace.c: the rate schedule replays are paced by (core/pace.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pace.h"

static void the_first_batch_starts_at_once(void **state)
{
	struct fyn_pace pace;
	(void)state;
	fyn_pace_init(&pace, 50000);
	assert_int_equal(fyn_pace_book(&pace, 1000000, 500), 0);
}

static void back_to_back_batches_wait_their_size_at_the_rate(void **state)
{
	struct fyn_pace pace;
	(void)state;
	fyn_pace_init(&pace, 50000);   /* 500 units: 10 ms */
	assert_int_equal(fyn_pace_book(&pace, 0, 500), 0);
	assert_int_equal(fyn_pace_book(&pace, 0, 500), 10000);
	assert_int_equal(fyn_pace_book(&pace, 0, 500), 20000);
	/* Booked after part of the wait has passed: only the rest is left. */
	assert_int_equal(fyn_pace_book(&pace, 25000, 250), 5000);
}

static void idle_time_is_not_saved_up(void **state)
{
	struct fyn_pace pace;
	(void)state;
	fyn_pace_init(&pace, 1000);
	assert_int_equal(fyn_pace_book(&pace, 0, 10), 0);
	/* A second later, long after the first batch's 10 ms: at once, but the
	 * one after it still waits its predecessor's 10 ms, not nothing. */
	assert_int_equal(fyn_pace_book(&pace, 1000000, 10), 0);
	assert_int_equal(fyn_pace_book(&pace, 1000000, 10), 10000);
}

static void a_rate_of_zero_never_waits(void **state)
{
	struct fyn_pace pace;
	(void)state;
	fyn_pace_init(&pace, 0);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(fyn_pace_book(&pace, 0, 1000000000), 0);
	}
}

static void the_largest_batch_does_not_overflow(void **state)
{
	struct fyn_pace pace;
	(void)state;
	fyn_pace_init(&pace, 1);
	assert_int_equal(fyn_pace_book(&pace, 0, 1000000000), 0);
	assert_true(fyn_pace_book(&pace, 0, 1) == 1000000000LL * 1000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_first_batch_starts_at_once),
		cmocka_unit_test(back_to_back_batches_wait_their_size_at_the_rate),
		cmocka_unit_test(idle_time_is_not_saved_up),
		cmocka_unit_test(a_rate_of_zero_never_waits),
		cmocka_unit_test(the_largest_batch_does_not_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
