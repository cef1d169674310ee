-- Append, the stored event's JSON form, and idempotency by id.
DO $$
DECLARE
    id1 uuid := gen_random_uuid();
    id2 uuid := gen_random_uuid();
    corr uuid := gen_random_uuid();
    el  jsonb;
    a   jsonb;
    b   jsonb;
    ev  jsonb;
    rows jsonb;
BEGIN
    el := t_el('r1', 'note.added', 'note-1', '{"text": "hi", "cost": 3}', id1,
               p_created_at => '2026-11-28T12:00:00.123Z', p_correlation => corr,
               p_metadata => '{"device": "till-2"}');
    a := t_one(el);
    PERFORM t_eq(a->>'status', 'accepted', 'first append status');
    PERFORM t_eq((a->>'seq')::bigint, 1::bigint, 'first seq');
    PERFORM t_eq((a->>'idx')::int, 0, 'idx');
    PERFORM t_eq(a->>'restaurant', 'r1', 'restaurant');
    PERFORM t_eq(a->>'code', NULL, 'no code');

    -- The event as it will be published.
    ev := a->'event';
    PERFORM t_eq((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(ev) k),
                 ARRAY['aggregate_id', 'correlation_id', 'created_at', 'created_by', 'event_type', 'id',
                       'metadata', 'payload', 'recorded_at', 'restaurant', 'seq'], 'event keys');
    PERFORM t_eq(ev->>'id', id1::text, 'event id');
    PERFORM t_eq(ev->>'aggregate_id', 'note-1', 'aggregate_id');
    PERFORM t_eq(ev->>'event_type', 'note.added', 'event_type');
    PERFORM t_eq(ev->>'correlation_id', corr::text, 'correlation_id');
    PERFORM t_eq(ev->'payload', '{"text": "hi", "cost": 3}'::jsonb, 'payload as submitted');
    PERFORM t_eq(ev->'metadata', '{"device": "till-2", "client_id": "till-1"}'::jsonb, 'metadata gets client_id');
    PERFORM t_eq(ev->>'created_at', '2026-11-28T12:00:00.123Z', 'created_at kept, ISO UTC millis');
    PERFORM t_eq(ev->>'created_by', 'alice', 'created_by');
    PERFORM t_eq(ev->>'restaurant', 'r1', 'event restaurant');
    PERFORM t_eq(ev->'seq', '1'::jsonb, 'event seq is a number');
    PERFORM t_true(ev->>'recorded_at' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', 'recorded_at format: ' || (ev->>'recorded_at'));
    PERFORM t_eq(ev, (SELECT fynsync_event_json(e) FROM events e WHERE e.id = id1), 'event = fynsync_event_json(stored)');

    -- Resubmitting the same id: the original outcome, nothing new stored.
    b := t_one(el);
    PERFORM t_eq(b->>'status', 'accepted', 'duplicate status');
    PERFORM t_eq((b->>'seq')::bigint, 1::bigint, 'duplicate gets the original seq');
    PERFORM t_eq(b->'event', 'null'::jsonb, 'duplicate is not fanned out again');
    -- Even with a different payload.
    b := t_one(t_el('r1', 'note.added', 'note-1', '{"text": "changed"}', id1));
    PERFORM t_eq((b->>'seq')::bigint, 1::bigint, 'duplicate with other payload gets the original seq');
    PERFORM t_eq((SELECT count(*) FROM events WHERE id = id1), 1::bigint, 'one row for the id');
    PERFORM t_eq((SELECT payload FROM events WHERE id = id1), '{"text": "hi", "cost": 3}'::jsonb, 'stored payload unchanged');
    PERFORM t_eq((SELECT head FROM restaurants WHERE id = 'r1'), 1::bigint, 'head unchanged by duplicates');

    -- The same id for another restaurant is a conflict.
    b := t_one(t_el('r2', 'note.added', 'note-1', '{}', id1));
    PERFORM t_eq(b->>'status', 'rejected', 'id reused in another stream');
    PERFORM t_eq(b->>'code', 'conflict', 'id reused code');
    PERFORM t_eq(b->>'reason', format('id %s was already used for another event', id1), 'id reused reason');
    PERFORM t_eq(b->>'restaurant', 'r2', 'answer names the element''s stream');
    PERFORM t_eq((SELECT head FROM restaurants WHERE id = 'r2'), 0::bigint, 'r2 seq not consumed');

    -- The same id twice in one batch: one event; the second answer repeats the seq.
    rows := t_all(t_batch(t_el('r1', 'note.added', 'n2', '{}', id2), t_el('r1', 'note.added', 'n2', '{}', id2)));
    PERFORM t_eq(jsonb_array_length(rows), 2, 'two answers');
    PERFORM t_eq(rows->0->>'status', 'accepted', 'first of pair');
    PERFORM t_eq(rows->1->>'status', 'accepted', 'second of pair');
    PERFORM t_eq(rows->0->'seq', '2'::jsonb, 'first of pair seq');
    PERFORM t_eq(rows->1->'seq', '2'::jsonb, 'second of pair same seq');
    PERFORM t_true(rows->0->'event' <> 'null'::jsonb, 'first of pair fanned out');
    PERFORM t_eq(rows->1->'event', 'null'::jsonb, 'second of pair not fanned out');
    PERFORM t_eq((SELECT count(*) FROM events WHERE id = id2), 1::bigint, 'one row for the pair');

    -- No created_at: the hub's clock. No metadata, no client id: {}.
    a := t_one(jsonb_build_object('restaurant', 'r1', 'created_by', 'bob', 'id', gen_random_uuid(),
                                  'aggregate_id', 'x', 'event_type', 'note.added', 'payload', '{}'::jsonb,
                                  'metadata', NULL, 'correlation_id', NULL, 'created_at', NULL));
    PERFORM t_eq(a->>'status', 'accepted', 'minimal element');
    PERFORM t_true(abs(extract(epoch FROM ((a->'event'->>'created_at')::timestamptz - now()))) < 60,
                   'created_at defaults to now: ' || (a->'event'->>'created_at'));
    PERFORM t_eq(a->'event'->'metadata', '{}'::jsonb, 'empty metadata');
    PERFORM t_eq(a->'event'->'correlation_id', 'null'::jsonb, 'correlation_id null');
    PERFORM t_eq((a->>'idx')::int, 0, 'missing idx defaults to position');

    -- Unusable elements are rejected one by one; the batch goes on.
    rows := t_all(t_batch(
        jsonb_build_object('restaurant', 'r1', 'id', 'not-a-uuid', 'created_by', 'a', 'aggregate_id', 'x',
                           'event_type', 'note.added', 'payload', '{}'::jsonb),
        t_el('r1', 'note.added', 'x', '[1]'),
        t_el('r1', 'note.added', 'x', '{}', p_created_at => 'yesterday'),
        t_el('r1', 'note.added', 'x', '{}', p_created_at => '2026-11-28T13:00:00+01:00')));
    PERFORM t_eq(rows->0->>'code', 'invalid', 'bad uuid');
    PERFORM t_eq(rows->0->>'reason', 'id must be a UUID string', 'bad uuid reason');
    PERFORM t_eq(rows->1->>'code', 'invalid', 'payload not an object');
    PERFORM t_eq(rows->2->>'code', 'invalid', 'created_at not RFC 3339');
    PERFORM t_eq(rows->3->>'status', 'accepted', 'good element after bad ones');
    PERFORM t_eq(rows->3->'seq', '4'::jsonb, 'bad elements consumed no seq');
    PERFORM t_eq(rows->3->'event'->>'created_at', '2026-11-28T12:00:00.000Z', 'offset converted to UTC');
END
$$;

-- A batch that is not an array is a caller bug: an error, nothing stored.
DO $$
BEGIN
    BEGIN
        PERFORM * FROM fynsync_append('{"not": "an array"}');
        RAISE EXCEPTION 'expected an error for a non-array batch';
    EXCEPTION WHEN invalid_parameter_value THEN
        NULL;
    END;
    PERFORM t_eq((SELECT count(*) FROM fynsync_append('[]')), 0::bigint, 'empty batch, no rows');
END
$$;
