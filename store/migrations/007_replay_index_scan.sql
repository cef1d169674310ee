-- 007_replay_index_scan: replay pages always walk the (restaurant, seq)
-- index.
--
-- Right after a bulk load, before autovacuum has analyzed `events`, the
-- planner believed the table tiny and read every page of a replay with a
-- sequential scan and a sort: a 100,000-event replay took 109 s instead of
-- 4 s (docs/benchmarks.md, "Replay"). The index on (restaurant, seq) is the
-- right path at every table size, so this function says so instead of
-- depending on statistics.
CREATE OR REPLACE FUNCTION fynsync_events_after(stream text, after_seq bigint, max_rows int)
RETURNS TABLE(seq bigint, event jsonb)
LANGUAGE sql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
    SELECT e.seq, fynsync_event_json(e)
      FROM events e
     WHERE e.restaurant = stream AND e.seq > after_seq
     ORDER BY e.restaurant, e.seq
     LIMIT CASE WHEN max_rows IS NULL THEN NULL ELSE greatest(max_rows, 0) END
$$;
