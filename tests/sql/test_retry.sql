-- "retry": true (set by the C side on an element an earlier attempt may have
-- committed): a known id hands the stored event back for fan-out, with the
-- events the hub generated because of it; without retry it does not.
DO $$
DECLARE
    cause uuid := gen_random_uuid();
    plain uuid := gen_random_uuid();
    first jsonb;
    rows jsonb;
BEGIN
    first := t_all(jsonb_build_array(t_el('r1', 'inventory.adjusted', 'buns', '{"item_id": "buns", "level": 1, "low_threshold": 2}', cause)));
    PERFORM t_eq(jsonb_array_length(first), 2, 'first attempt: event + alert');
    PERFORM t_one(t_el('r1', 'note.added', 'n', '{}', plain));
    PERFORM t_one(t_el('r1', 'note.added', 'n', '{}'));

    -- Retried: accepted, same seq, same event JSON, and the alert again.
    rows := t_all(t_batch(t_el('r1', 'inventory.adjusted', 'buns', '{"item_id": "buns", "level": 1, "low_threshold": 2}', cause)
                          || '{"retry": true}',
                          t_el('r1', 'note.added', 'n', '{}', plain) || '{"retry": true}',
                          t_el('r1', 'note.added', 'n', '{}') || '{"retry": true}'));
    PERFORM t_eq((SELECT array_agg((r->>'status') || ':' || coalesce(r->>'idx', '-') || ':' || (r->>'seq') ORDER BY n)
                    FROM jsonb_array_elements(rows) WITH ORDINALITY x(r, n)),
                 ARRAY['accepted:0:1', 'generated:-:2', 'accepted:1:3', 'accepted:2:5'], 'retry answers');
    PERFORM t_eq(rows->0->'event', first->0->'event', 'stored event handed back');
    PERFORM t_eq(rows->1->'event', first->1->'event', 'generated event handed back');
    PERFORM t_eq(rows->2->'event'->>'id', plain::text, 'plain event handed back');
    PERFORM t_eq((SELECT count(*) FROM events), 5::bigint, 'nothing stored twice; the new one stored');

    -- Not retried: duplicates are not fanned out again.
    rows := t_all(t_batch(t_el('r1', 'inventory.adjusted', 'buns', '{}', cause) || '{"retry": false}',
                          t_el('r1', 'note.added', 'n', '{}', plain)));
    PERFORM t_eq(jsonb_array_length(rows), 2, 'no generated rows without retry');
    PERFORM t_eq(rows->0->'event', 'null'::jsonb, 'no event without retry');
    PERFORM t_eq(rows->1->'event', 'null'::jsonb, 'no event without retry (absent)');

    -- A known id wins over the rules: the original outcome.
    rows := t_all(jsonb_build_array(t_el('r1', 'order.updated', 'nope', '{}', plain) || '{"retry": true}'));
    PERFORM t_eq(rows->0->>'status', 'accepted', 'a known id wins over the rules');
    -- A retried element that was rejected gets the rejection again, nothing to fan out.
    rows := t_all(jsonb_build_array(t_el('r1', 'order.updated', 'nope', '{}', p_id => 'aaaaaaaa-0000-0000-0000-000000000001')));
    rows := t_all(jsonb_build_array(t_el('r1', 'order.updated', 'nope', '{}', p_id => 'aaaaaaaa-0000-0000-0000-000000000001') || '{"retry": true}'));
    PERFORM t_eq(rows->0->>'reason', 'order nope does not exist', 'retried rejection');
    PERFORM t_eq(rows->0->'event', 'null'::jsonb, 'retried rejection: no event');
END
$$;
