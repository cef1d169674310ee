-- 013_reads_wait_for_the_standby: a page of events is handed out only once
-- the synchronous standby has it.
--
-- Why: PostgreSQL makes a commit visible to other sessions as soon as it is
-- flushed on the primary, before the synchronous standby confirms it, and a
-- fast shutdown of the primary cancels that wait. The writer that committed
-- gets an error and never answers `accepted`, but a replay or another
-- node's follower could read the row in that window and publish it. If the
-- promoted standby never received it, its `seq` is later given to another
-- event, and a client would hold a wrong (seq, id) (docs/scale.md, "Failure
-- cases"). So after reading a page the store waits, up to a bound, until a
-- synchronous standby has flushed the WAL up to where it stood after the
-- read: every commit the read saw is before that point.
--
-- Cost: nothing without a synchronous standby (`synchronous_standby_names`
-- empty: one node, or pg_auto_failover's `wait_primary` while the standby is
-- away); otherwise one short query per page, and the standby's flush lag,
-- which synchronous commits already pay. Seeing the standbys' positions
-- needs pg_read_all_stats (or a superuser); without it the check cannot
-- tell, says yes, and the gap stays open (docs/operations.md).

-- Whether a synchronous standby has flushed WAL up to upto (true when none
-- is configured, or when this role may not see their positions).
CREATE OR REPLACE FUNCTION fynsync_replicated(upto pg_lsn)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT current_setting('synchronous_standby_names') = ''
        OR NOT EXISTS (SELECT 1 FROM pg_stat_replication WHERE sync_state IS NOT NULL)
           AND EXISTS (SELECT 1 FROM pg_stat_replication)
        OR EXISTS (SELECT 1 FROM pg_stat_replication r
                    WHERE r.sync_state IN ('sync', 'quorum') AND r.flush_lsn >= upto)
$$;

-- Waits up to timeout_ms until everything visible now is on a synchronous
-- standby. True when it is (at once without one, or on a standby itself).
CREATE OR REPLACE FUNCTION fynsync_wait_replicated(timeout_ms int)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    upto     pg_lsn;
    deadline timestamptz := clock_timestamp() + make_interval(secs => timeout_ms / 1000.0);
BEGIN
    IF current_setting('synchronous_standby_names') = '' OR pg_is_in_recovery() THEN
        RETURN true;
    END IF;
    upto := pg_current_wal_lsn();
    LOOP
        IF fynsync_replicated(upto) THEN
            RETURN true;
        END IF;
        IF clock_timestamp() >= deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.001);
    END LOOP;
END
$$;
