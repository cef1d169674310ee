-- Migration 014 judges the built-in types' rules in the run's statement
-- (fynsync_builtin_shape) and prints the answer's event as text
-- (fynsync_event_text): both must say exactly what fynsync_check and
-- fynsync_event_json say.

-- Every shape rule of the built-in types, each way it can fail and pass:
-- the same reason from both (fynsync_check's conflicts are state, left to
-- the orders' tests). Since 015 fynsync_check takes these rules from
-- fynsync_builtin_shape, so this checks that it still answers each of them
-- with code invalid and nothing else; the reasons' texts are checked by
-- test_menu.sql, test_inventory.sql and test_append_idempotent.sql.
DO $$
DECLARE
    differ int;
BEGIN
    WITH cases(etype, agg, p) AS (VALUES
        ('order.created', '', '{"total": 1}'::jsonb),
        ('order.created', 'o1', '{}'),
        ('order.created', 'o1', '{"total": 1, "status": 3}'),
        ('order.created', 'o1', '{"total": 1, "status": "lost"}'),
        ('order.created', 'o1', '{"total": 1.5}'),
        ('order.created', 'o1', '{"total": "1"}'),
        ('order.created', 'o1', '{"total": 1e15}'),
        ('order.created', 'o1', '{"total": 1, "items": {}}'),
        ('order.created', 'o1', '{"total": 1, "status": "ready", "items": []}'),
        ('order.updated', '', '{}'),
        ('order.updated', 'o1', '{}'),
        ('order.updated', 'o1', '{"status": null}'),
        ('order.updated', 'o1', '{"status": "completed", "total": -3}'),
        ('order.updated', 'o1', '{"items": "x"}'),
        ('menu.updated', 'x', '{}'),
        ('menu.updated', 'x', '{"item_id": ""}'),
        ('menu.updated', 'x', '{"item_id": 4}'),
        ('menu.updated', 'x', '{"item_id": "m", "name": 1}'),
        ('menu.updated', 'x', '{"item_id": "m", "price": 1.2}'),
        ('menu.updated', 'x', '{"item_id": "m", "cost": "4"}'),
        ('menu.updated', 'x', '{"item_id": "m", "available": "yes"}'),
        ('menu.updated', 'x', '{"item_id": "m", "name": null, "price": null, "cost": 3, "available": false}'),
        ('inventory.adjusted', 'x', '{"level": 1}'),
        ('inventory.adjusted', 'x', '{"item_id": "b", "level": 1, "delta": 2}'),
        ('inventory.adjusted', 'x', '{"item_id": "b"}'),
        ('inventory.adjusted', 'x', '{"item_id": "b", "level": "1"}'),
        ('inventory.adjusted', 'x', '{"item_id": "b", "delta": null}'),
        ('inventory.adjusted', 'x', '{"item_id": "b", "delta": -1.5, "low_threshold": "2"}'),
        ('inventory.adjusted', 'x', '{"item_id": "b", "level": 0.5, "low_threshold": null}'),
        ('note.added', 'x', '{"anything": 1}'))
    SELECT count(*) INTO differ
      FROM cases c, LATERAL fynsync_check('r1', c.etype, c.agg, c.p) f
     WHERE CASE WHEN f.code = 'invalid' THEN f.reason END IS DISTINCT FROM fynsync_builtin_shape(c.etype, c.agg, c.p);
    PERFORM t_eq(differ, 0::bigint, 'cases where fynsync_builtin_shape and fynsync_check disagree');
END
$$;

-- The events stored by a mixed batch: fynsync_event_text is byte for byte
-- fynsync_event_json's text, also with strings that need escaping, a
-- correlation id, and the hub's inventory.low.
DO $$
DECLARE
    answers     jsonb;
    printed     text;
    printed_seq bigint;
BEGIN
    answers := t_all(t_batch(
        t_el('r1', 'order.created', 'o "1" \ é', '{"total": 1250, "note": "line\nbreak"}',
             p_correlation => gen_random_uuid(), p_created_at => '2026-12-02T12:00:00.5+01:00'),
        t_el('r1', 'inventory.adjusted', 'b', '{"item_id": "buns", "level": 2, "low_threshold": 5}'),
        t_el('r1', 'note.added', 'n', '{"text": "tab\there"}', p_by => 'bob', p_metadata => '{"k": [1, 2.50]}')));
    PERFORM t_eq(jsonb_array_length(answers), 4, 'three accepted, one generated');
    PERFORM t_eq((SELECT count(*) FROM events e WHERE fynsync_event_text(e)::text <> fynsync_event_json(e)::text),
                 0::bigint, 'events whose text differs');
    PERFORM t_eq((SELECT count(*) FROM events), 4::bigint, 'events compared');
    -- The hub's query gets the same text.
    SELECT a.event::text, a.seq INTO printed, printed_seq
      FROM fynsync_append_json(t_batch(t_el('r1', 'note.added', 'n2', '{}'))) a;
    PERFORM t_eq(printed, (SELECT fynsync_event_json(e)::text FROM events e
                            WHERE e.restaurant = 'r1' AND e.seq = printed_seq), 'fynsync_append_json prints the stored event');
END
$$;

-- Every order conflict, each way it can arise and not: fynsync_check (for
-- other callers) and the append (the run's statement) give the same code
-- and reason, both from fynsync_order_conflict since 018.
DO $$
DECLARE
    differ int;
    a      jsonb;
BEGIN
    PERFORM t_eq(t_one(t_el('r1', 'order.created', 'open-1', '{"total": 1}'))->>'status', 'accepted', 'open-1 created');
    PERFORM t_eq(t_one(t_el('r1', 'order.created', 'done-1', '{"total": 1}'))->>'status', 'accepted', 'done-1 created');
    PERFORM t_eq(t_one(t_el('r1', 'order.updated', 'done-1', '{"status": "completed"}'))->>'status', 'accepted',
                 'done-1 completed');
    WITH cases(etype, agg, p, code, reason) AS (VALUES
        ('order.created', 'open-1', '{"total": 2}'::jsonb, 'conflict', 'order open-1 already exists'),
        ('order.created', 'done-1', '{"total": 2}', 'conflict', 'order done-1 already exists'),
        ('order.updated', 'none-1', '{"status": "ready"}', 'conflict', 'order none-1 does not exist'),
        ('order.updated', 'done-1', '{"status": "ready"}', 'conflict', 'order done-1 is completed'),
        ('order.created', 'new-1', '{"total": 2}', NULL, NULL),
        ('order.updated', 'open-1', '{"status": "ready"}', NULL, NULL))
    SELECT count(*) INTO differ
      FROM cases c, LATERAL fynsync_check('r1', c.etype, c.agg, c.p) f
     WHERE (f.code, f.reason) IS DISTINCT FROM (c.code, c.reason);
    PERFORM t_eq(differ, 0::bigint, 'order conflicts where fynsync_check says otherwise');
    -- The same cases through the append, the conflicts first so that nothing
    -- they would change is stored before them.
    a := t_all(t_batch(t_el('r1', 'order.created', 'open-1', '{"total": 2}'),
                       t_el('r1', 'order.created', 'done-1', '{"total": 2}'),
                       t_el('r1', 'order.updated', 'none-1', '{"status": "ready"}'),
                       t_el('r1', 'order.updated', 'done-1', '{"status": "ready"}'),
                       t_el('r1', 'order.created', 'new-1', '{"total": 2}'),
                       t_el('r1', 'order.updated', 'open-1', '{"status": "ready"}')));
    PERFORM t_eq(jsonb_path_query_array(a, '$[*].reason'),
                 '["order open-1 already exists", "order done-1 already exists", "order none-1 does not exist",
                   "order done-1 is completed", null, null]'::jsonb, 'the append''s reasons');
    PERFORM t_eq(jsonb_path_query_array(a, '$[*].code'),
                 '["conflict", "conflict", "conflict", "conflict", null, null]'::jsonb, 'the append''s codes');
END
$$;
