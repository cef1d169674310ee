-- seq is gap-free per stream across a batch that mixes streams; answers
-- come back in array order with their idx; rejections consume no seq.
DO $$
DECLARE
    rows jsonb;
BEGIN
    rows := t_all(t_batch(
        t_el('r1', 'note.added', 'a', '{}'),
        t_el('r2', 'note.added', 'a', '{}'),
        t_el('r1', 'note.added', 'a', '{}'),
        t_el('platform', 'platform.announced', 'p', '{"text": "hello"}', p_by => 'owner'),
        t_el('r1', 'order.updated', 'nope', '{"status": "ready"}'),   -- rejected: unknown order
        t_el('r2', 'note.added', 'a', '{}'),
        t_el('r1', 'note.added', 'a', '{}')));
    PERFORM t_eq(jsonb_array_length(rows), 7, 'one answer per element');
    PERFORM t_eq((SELECT array_agg((r->>'idx')::int ORDER BY n) FROM jsonb_array_elements(rows) WITH ORDINALITY x(r, n)),
                 ARRAY[0, 1, 2, 3, 4, 5, 6], 'answers in array order');
    PERFORM t_eq((SELECT array_agg(r->>'restaurant' || ':' || coalesce(r->>'seq', '-') ORDER BY n)
                    FROM jsonb_array_elements(rows) WITH ORDINALITY x(r, n)),
                 ARRAY['r1:1', 'r2:1', 'r1:2', 'platform:1', 'r1:-', 'r2:2', 'r1:3'], 'seq per stream');
    PERFORM t_eq(rows->4->>'code', 'conflict', 'unknown order rejected in the middle');

    -- The next batch goes on from head.
    rows := t_all(t_batch(t_el('r2', 'note.added', 'a', '{}'), t_el('r1', 'note.added', 'a', '{}')));
    PERFORM t_eq(rows->0->'seq', '3'::jsonb, 'r2 continues');
    PERFORM t_eq(rows->1->'seq', '4'::jsonb, 'r1 continues');

    -- The log: for every stream seq is exactly 1..head.
    PERFORM t_eq((SELECT count(*) FROM restaurants r
                   WHERE r.head <> (SELECT count(*) FROM events e WHERE e.restaurant = r.id)
                      OR r.head <> coalesce((SELECT max(e.seq) FROM events e WHERE e.restaurant = r.id), 0)),
                 0::bigint, 'seq 1..head without gaps in every stream');
    PERFORM t_eq((SELECT array_agg(id || '=' || head ORDER BY id) FROM restaurants),
                 ARRAY['platform=1', 'r1=4', 'r2=3'], 'heads');
    PERFORM t_eq((SELECT time_zone FROM restaurants WHERE id = 'r1'), 'Europe/London', 'default time zone');
END
$$;
