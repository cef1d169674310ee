-- fynsync_replay_page(stream, after_seq, max_rows): paged replay in seq order;
-- at the end, fynsync_events_after on top of it (019).
DO $$
DECLARE
    i int;
    page jsonb;
    seen bigint[] := '{}';
    last bigint := 0;
    pages int := 0;
BEGIN
    FOR i IN 1..25 LOOP
        PERFORM t_one(t_el('r1', 'note.added', 'n' || i, jsonb_build_object('i', i)));
        IF i % 3 = 0 THEN
            PERFORM t_one(t_el('r2', 'note.added', 'x', '{}'));
        END IF;
    END LOOP;
    -- An alert makes 27 events in r1.
    PERFORM t_one(t_el('r1', 'inventory.adjusted', 'buns', '{"item_id": "buns", "level": 1, "low_threshold": 2}'));

    PERFORM t_eq((SELECT array_agg(seq ORDER BY seq) FROM fynsync_replay_page('r1', 0, 10)),
                 (SELECT array_agg(g::bigint) FROM generate_series(1, 10) g), 'first page');
    PERFORM t_eq((SELECT array_agg(seq) FROM fynsync_replay_page('r1', 10, 10)),
                 (SELECT array_agg(g::bigint) FROM generate_series(11, 20) g), 'second page, in order');

    -- Page through everything.
    LOOP
        SELECT jsonb_agg(jsonb_build_object('seq', a.seq, 'event', a.event)) INTO page
          FROM fynsync_replay_page('r1', last, 10) a;
        EXIT WHEN page IS NULL;
        pages := pages + 1;
        seen := seen || (SELECT array_agg((x->>'seq')::bigint) FROM jsonb_array_elements(page) x);
        last := (page->-1->>'seq')::bigint;
        PERFORM t_eq(page->0->'event', (SELECT fynsync_event_json(e) FROM events e WHERE e.restaurant = 'r1' AND e.seq = (page->0->>'seq')::bigint),
                     'event column is fynsync_event_json');
    END LOOP;
    PERFORM t_eq(pages, 3, 'pages of 10 for 27 events');
    -- The bytes forwarded are fynsync_event_json's text (migration 016).
    PERFORM t_eq((SELECT count(*) FROM fynsync_replay_page('r1', 0, NULL) a
                    JOIN events e ON e.restaurant = 'r1' AND e.seq = a.seq
                   WHERE a.event::text = fynsync_event_json(e)::text), 27::bigint,
                 'every event is printed as fynsync_event_json prints it');
    PERFORM t_eq(seen, (SELECT array_agg(g::bigint) FROM generate_series(1, 27) g), 'every seq once, in order');
    PERFORM t_eq((SELECT event->>'event_type' FROM fynsync_replay_page('r1', 26, 10)), 'inventory.low', 'generated events replay too');

    PERFORM t_eq((SELECT count(*) FROM fynsync_replay_page('r1', 27, 10)), 0::bigint, 'nothing after head');
    PERFORM t_eq((SELECT count(*) FROM fynsync_replay_page('r1', 0, NULL)), 27::bigint, 'NULL max_rows: no limit');
    PERFORM t_eq((SELECT count(*) FROM fynsync_replay_page('r1', 0, 0)), 0::bigint, 'max_rows 0');
    PERFORM t_eq((SELECT array_agg(seq) FROM fynsync_replay_page('r2', 6, 100)), ARRAY[7, 8]::bigint[], 'other stream apart');
    PERFORM t_eq((SELECT count(*) FROM fynsync_replay_page('nowhere', 0, 100)), 0::bigint, 'unknown stream');
    PERFORM t_eq((SELECT bool_and(event->>'restaurant' = 'r2') FROM fynsync_replay_page('r2', 0, 100)), true, 'only that stream');
END
$$;

-- fynsync_events_after, kept for nodes of the previous build (016, 019):
-- the rows of fynsync_replay_page, in the same order, each event the jsonb
-- fynsync_event_json builds.
DO $$
BEGIN
    FOR i IN 1..12 LOOP
        PERFORM t_one(t_el('r9', 'note.added', 'n' || i, jsonb_build_object('i', i, 's', 'tab	here "q"')));
    END LOOP;
    PERFORM t_eq((SELECT array_agg(a.seq ORDER BY n) FROM fynsync_events_after('r9', 3, 5) WITH ORDINALITY a(seq, event, n)),
                 ARRAY[4, 5, 6, 7, 8]::bigint[], 'a page after seq 3, in order');
    PERFORM t_eq((SELECT count(*) FROM fynsync_events_after('r9', 0, NULL) a
                    JOIN events e ON e.restaurant = 'r9' AND e.seq = a.seq
                   WHERE a.event = fynsync_event_json(e)), 12::bigint,
                 'every event is the jsonb fynsync_event_json builds');
    PERFORM t_eq((SELECT count(*) FROM fynsync_events_after('r9', 12, 10)), 0::bigint, 'nothing after head');
    PERFORM t_eq((SELECT count(*) FROM fynsync_events_after('r9', 0, 0)), 0::bigint, 'max_rows 0');
END
$$;
