-- 019_events_after_on_the_replay_page: fynsync_events_after (007) answers
-- from fynsync_replay_page (016) instead of its own copy of the page query.
--
-- Why: 016 left fynsync_events_after in place for hub nodes of the previous
-- build during a rolling upgrade (their readers and fan-out followers call
-- it), beside fynsync_replay_page, which repeats its query: the same
-- WHERE, ORDER BY and LIMIT, and the same SET options that keep the plan on
-- the (restaurant, seq) index (007 says why). Two copies of the page query
-- could drift, and the old one was no longer tested once the hub stopped
-- calling it. Now the old function returns the new one's rows, each event
-- as jsonb: the same value fynsync_event_json builds, since
-- fynsync_event_text prints exactly that (test_cheaper_append.sql), and
-- test_replay_page.sql checks the two functions row for row. For an old
-- node this is also cheaper: parsing the text costs less than
-- jsonb_build_object over every column (016's figures: 2.2 against 7.9 µs
-- per event for the text alone). The index path is unchanged, because
-- fynsync_replay_page runs with its own SET options (being a SET function,
-- it is never inlined into this one). ORDER BY keeps the order part of
-- this function's own contract rather than a property of a function scan.
-- A later migration drops fynsync_events_after when no supported build
-- calls it.
CREATE OR REPLACE FUNCTION fynsync_events_after(stream text, after_seq bigint, max_rows int)
RETURNS TABLE(seq bigint, event jsonb)
LANGUAGE sql STABLE
AS $$
    SELECT p.seq, p.event::jsonb
      FROM fynsync_replay_page(stream, after_seq, max_rows) p
     ORDER BY p.seq
$$;
