-- 016_replay_pages_as_text: replay pages print each event with
-- fynsync_event_text (014) instead of building it as jsonb first.
--
-- Why: a replay page is read only to be forwarded as text, yet each row was
-- built with fynsync_event_json (jsonb_build_object over every column) and
-- then printed again by `event::text`. On the 2-vCPU VM
-- (docs/benchmarks.md, "Replay pacing, and replay pages as text"), reading all 100,000 events
-- of one stream took 763-823 ms that way and 215-218 ms with
-- fynsync_event_text: 7.9 -> 2.2 µs per event. That was PostgreSQL's share
-- of a replay (0.9 CPU s of it) competing with the live writers for the
-- same two cores. The text is byte for byte fynsync_event_json's
-- (test_cheaper_append.sql and test_replay_page.sql check it), so readers
-- and fan-out followers forward exactly what they did.
--
-- The event column's type changes from jsonb to json, and CREATE OR
-- REPLACE cannot change a function's result type, so this is a new
-- function, fynsync_replay_page. Callers select `event::text`, which reads
-- the same. 007's fynsync_events_after stays: hub nodes still running the
-- previous build share this database while they are upgraded one by one,
-- and their readers and fan-out followers call it. A later migration drops
-- it once no supported build does.

CREATE OR REPLACE FUNCTION fynsync_replay_page(stream text, after_seq bigint, max_rows int)
RETURNS TABLE(seq bigint, event json)
LANGUAGE sql STABLE
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
AS $$
    SELECT e.seq, fynsync_event_text(e)
      FROM events e
     WHERE e.restaurant = stream AND e.seq > after_seq
     ORDER BY e.restaurant, e.seq
     LIMIT CASE WHEN max_rows IS NULL THEN NULL ELSE greatest(max_rows, 0) END
$$;
