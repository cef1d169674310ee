-- fynsync_wait_replicated (migration 013): a page read waits until a
-- synchronous standby has what it saw; at once when none is configured.
-- The "standby" here is one that never connects, so the wait must give up.
SET synchronous_commit = local;   -- this session's own commits must not wait for it

DO $$
BEGIN
    PERFORM t_eq(fynsync_wait_replicated(10), true, 'no synchronous standby: confirmed at once');
END
$$;

ALTER SYSTEM SET synchronous_standby_names = 'fynsync_test_nobody';
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

DO $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    PERFORM t_eq(current_setting('synchronous_standby_names'), 'fynsync_test_nobody', 'the setting is reloaded');
    PERFORM t_eq(fynsync_replicated(pg_current_wal_lsn()), false, 'no standby has flushed anything');
    PERFORM t_eq(fynsync_wait_replicated(100), false, 'an absent synchronous standby: not confirmed');
    PERFORM t_eq(clock_timestamp() - started >= interval '100 ms', true, 'it waited its bound');
END
$$;

ALTER SYSTEM RESET synchronous_standby_names;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

DO $$
BEGIN
    PERFORM t_eq(fynsync_wait_replicated(10), true, 'confirmed at once again');
END
$$;
