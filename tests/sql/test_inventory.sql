-- inventory.adjusted: level (absolute), delta (added), low_threshold, and
-- inventory.low emitted exactly once per entry into the low state.
CREATE FUNCTION adj(item text, payload jsonb, id uuid DEFAULT gen_random_uuid(), corr uuid DEFAULT NULL)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT t_all(jsonb_build_array(t_el('r1', 'inventory.adjusted', item, payload || jsonb_build_object('item_id', item),
                                        id, p_created_at => '2026-11-28T12:00:00.500Z', p_correlation => corr)))
$$;
CREATE FUNCTION lvl(item text) RETURNS numeric LANGUAGE sql AS $$
    SELECT level FROM inventory WHERE restaurant = 'r1' AND item_id = item
$$;

DO $$
DECLARE
    rows jsonb;
    g jsonb;
    cause uuid;
    corr uuid := gen_random_uuid();
BEGIN
    rows := adj('flour', '{"level": 50}');
    PERFORM t_eq(jsonb_array_length(rows), 1, 'no alert without threshold');
    PERFORM t_eq(lvl('flour'), 50::numeric, 'absolute level');
    PERFORM t_eq((SELECT low_threshold FROM inventory WHERE item_id = 'flour'), NULL::numeric, 'no threshold yet');

    rows := adj('flour', '{"delta": -5, "low_threshold": 10}');
    PERFORM t_eq(jsonb_array_length(rows), 1, 'above threshold: no alert');
    PERFORM t_eq(lvl('flour'), 45::numeric, 'delta added');
    PERFORM t_eq((SELECT low_threshold FROM inventory WHERE item_id = 'flour'), 10::numeric, 'threshold set');
    PERFORM t_eq((SELECT updated_seq FROM inventory WHERE item_id = 'flour'), (rows->0->>'seq')::bigint, 'updated_seq');

    rows := adj('flour', '{"delta": -30}');
    PERFORM t_eq(jsonb_array_length(rows), 1, '15 > 10: no alert');
    PERFORM t_eq(lvl('flour'), 15::numeric, 'level 15');

    -- Crossing: 15 -> 9 with threshold 10.
    cause := gen_random_uuid();
    rows := adj('flour', '{"delta": -6}', cause);
    PERFORM t_eq(jsonb_array_length(rows), 2, 'crossing emits inventory.low');
    PERFORM t_eq(rows->0->>'status', 'accepted', 'trigger accepted first');
    g := rows->1;
    PERFORM t_eq(g->>'status', 'generated', 'generated status');
    PERFORM t_eq(g->'idx', 'null'::jsonb, 'generated idx is null');
    PERFORM t_eq(g->>'restaurant', 'r1', 'generated restaurant');
    PERFORM t_eq((g->>'seq')::bigint, (rows->0->>'seq')::bigint + 1, 'generated seq right after its cause');
    PERFORM t_eq(g->'event'->>'event_type', 'inventory.low', 'type');
    PERFORM t_eq(g->'event'->>'aggregate_id', 'flour', 'aggregate_id = item_id');
    PERFORM t_eq(g->'event'->>'created_by', 'hub', 'created_by hub');
    PERFORM t_eq(g->'event'->'payload', '{"item_id": "flour", "level": 9, "low_threshold": 10}'::jsonb, 'payload');
    PERFORM t_eq(g->'event'->'metadata', jsonb_build_object('generated_by', 'hub', 'cause', cause), 'metadata');
    PERFORM t_eq(g->'event'->>'correlation_id', cause::text, 'correlation = cause id when it has none');
    PERFORM t_eq(g->'event'->'seq', g->'seq', 'event seq');
    PERFORM t_true(g->'event'->>'id' <> cause::text, 'own id');
    PERFORM t_eq(g->'event', (SELECT fynsync_event_json(e) FROM events e WHERE e.id = (g->'event'->>'id')::uuid),
                 'generated event is stored');

    -- Still low: no second alert.
    PERFORM t_eq(jsonb_array_length(adj('flour', '{"delta": -1}')), 1, '9 -> 8: still low, no alert');
    PERFORM t_eq(jsonb_array_length(adj('flour', '{"level": 10}')), 1, '8 -> 10 (= threshold): still low');
    PERFORM t_eq(jsonb_array_length(adj('flour', '{"level": 30}')), 1, 'back above');
    -- Exactly at the threshold after being above: alert again, with the cause's correlation id.
    rows := adj('flour', '{"level": 10}', corr => corr);
    PERFORM t_eq(jsonb_array_length(rows), 2, '30 -> 10: at threshold fires');
    PERFORM t_eq(rows->1->'event'->>'correlation_id', corr::text, 'correlation id carried over');
    PERFORM t_eq(rows->1->'event'->'payload'->'level', '10'::jsonb, 'level in alert');

    -- Unknown item, first event already low.
    rows := adj('sugar', '{"delta": 3, "low_threshold": 5}');
    PERFORM t_eq(jsonb_array_length(rows), 2, 'new item below threshold fires');
    PERFORM t_eq(lvl('sugar'), 3::numeric, 'delta on an unknown item starts from 0');
    -- Unknown item without threshold.
    PERFORM t_eq(jsonb_array_length(adj('salt', '{"delta": -2}')), 1, 'no threshold, no alert');
    PERFORM t_eq(lvl('salt'), -2::numeric, 'negative level allowed');
    -- Setting a threshold above the current level makes the item low: alert.
    PERFORM t_eq(jsonb_array_length(adj('salt', '{"delta": 0, "low_threshold": 1}')), 2, 'new threshold above level fires');
    -- Removing the threshold, then setting it again: alert again.
    PERFORM t_eq(jsonb_array_length(adj('salt', '{"delta": 0, "low_threshold": null}')), 1, 'threshold removed');
    PERFORM t_eq((SELECT low_threshold FROM inventory WHERE item_id = 'salt'), NULL::numeric, 'threshold null');
    PERFORM t_eq(jsonb_array_length(adj('salt', '{"delta": 0, "low_threshold": 0}')), 2, 'threshold back: fires');
    -- Fractional quantities.
    PERFORM adj('milk', '{"level": 2.5}');
    PERFORM adj('milk', '{"delta": -0.75}');
    PERFORM t_eq(lvl('milk'), 1.75, 'fractional levels');

    -- In a batch the generated event sits right after its cause.
    rows := t_all(t_batch(
        t_el('r1', 'inventory.adjusted', 'oil', '{"item_id": "oil", "level": 1, "low_threshold": 2}'),
        t_el('r1', 'note.added', 'n', '{}')));
    PERFORM t_eq((SELECT array_agg((r->>'status') || ':' || coalesce(r->>'idx', '-') ORDER BY n)
                    FROM jsonb_array_elements(rows) WITH ORDINALITY x(r, n)),
                 ARRAY['accepted:0', 'generated:-', 'accepted:1'], 'batch order with generated row');
    PERFORM t_eq((rows->2->>'seq')::bigint, (rows->0->>'seq')::bigint + 2, 'seq after the generated one');

    -- Exactly the alerts counted above were stored.
    PERFORM t_eq((SELECT count(*) FROM events WHERE event_type = 'inventory.low'), 6::bigint, 'inventory.low events');
    -- A duplicate of a triggering event does not alert again.
    PERFORM t_eq(jsonb_array_length(adj('flour', '{"delta": -6}', cause)), 1, 'duplicate cause: one answer');
    PERFORM t_eq((SELECT count(*) FROM events WHERE event_type = 'inventory.low'), 6::bigint, 'no new alert on duplicate');
    -- The hub is not an employee.
    PERFORM t_eq((SELECT count(*) FROM employee_activity WHERE created_by = 'hub'), 0::bigint, 'hub not in employee activity');

    -- Invalid payloads.
    PERFORM t_eq(adj('flour', '{"level": "ten"}')->0->>'reason', 'level must be a number', 'level not a number');
    PERFORM t_eq(adj('flour', '{"delta": null}')->0->>'reason', 'delta must be a number', 'delta null');
    PERFORM t_eq(adj('flour', '{"level": 1, "delta": 1}')->0->>'code', 'invalid', 'both level and delta');
    PERFORM t_eq(adj('flour', '{}')->0->>'reason', 'inventory.adjusted needs level (absolute) or delta (change)', 'neither');
    PERFORM t_eq(adj('flour', '{"level": 1, "low_threshold": "low"}')->0->>'code', 'invalid', 'threshold not a number');
    PERFORM t_eq(t_one(t_el('r1', 'inventory.adjusted', 'x', '{"item_id": 5, "level": 1}'))->>'reason',
                 'inventory.adjusted needs item_id (a non-empty string)', 'item_id not a string');
    PERFORM t_eq(t_one(t_el('r1', 'inventory.adjusted', 'x', '{"level": 1}'))->>'code', 'invalid', 'item_id missing');
    PERFORM t_eq(lvl('flour'), 10::numeric, 'invalid adjustments changed nothing');
END
$$;
