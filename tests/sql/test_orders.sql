-- Order rules: create, double create, update merge, unknown order,
-- completed order, invalid status and fields, rejected-id resubmission.
DO $$
DECLARE
    a jsonb;
    o orders;
    rej uuid := gen_random_uuid();
    rows jsonb;
    head0 bigint;
BEGIN
    a := t_one(t_el('r1', 'order.created', 'order-1842',
        '{"status": "open", "total": 1250, "items": [{"item_id": "burger", "qty": 1, "price": 1250, "cost": 410}]}',
        p_created_at => '2026-11-28T12:00:00.000Z'));
    PERFORM t_eq(a->>'status', 'accepted', 'create');
    SELECT * INTO o FROM orders WHERE restaurant = 'r1' AND order_id = 'order-1842';
    PERFORM t_eq(o.status, 'open', 'status');
    PERFORM t_eq(o.total, 1250::bigint, 'total');
    PERFORM t_eq(jsonb_array_length(o.items), 1, 'items');
    PERFORM t_eq(o.created_seq, 1::bigint, 'created_seq');
    PERFORM t_eq(o.created_at, '2026-11-28T12:00:00Z'::timestamptz, 'created_at');
    PERFORM t_eq(o.completed_at, NULL::timestamptz, 'not completed');

    -- Second create of the same order.
    a := t_one(t_el('r1', 'order.created', 'order-1842', '{"status": "open", "total": 1, "items": []}'));
    PERFORM t_eq(a->>'status', 'rejected', 'double create');
    PERFORM t_eq(a->>'code', 'conflict', 'double create code');
    PERFORM t_eq(a->>'reason', 'order order-1842 already exists', 'double create reason');
    PERFORM t_eq((SELECT total FROM orders WHERE order_id = 'order-1842'), 1250::bigint, 'order untouched');
    -- The same order id in another restaurant is another order.
    PERFORM t_eq(t_one(t_el('r2', 'order.created', 'order-1842', '{"total": 5, "items": []}'))->>'status',
                 'accepted', 'same order id, other restaurant');

    -- Update merges fields.
    a := t_one(t_el('r1', 'order.updated', 'order-1842', '{"status": "preparing", "note": "no onions"}',
                    p_created_at => '2026-11-28T12:05:00.000Z'));
    PERFORM t_eq(a->>'status', 'accepted', 'update');
    SELECT * INTO o FROM orders WHERE restaurant = 'r1' AND order_id = 'order-1842';
    PERFORM t_eq(o.status, 'preparing', 'merged status');
    PERFORM t_eq(o.data->>'note', 'no onions', 'merged new field');
    PERFORM t_eq(o.total, 1250::bigint, 'total kept');
    PERFORM t_eq(o.data->'items'->0->>'item_id', 'burger', 'items kept');
    PERFORM t_eq(o.updated_seq, (a->>'seq')::bigint, 'updated_seq');
    PERFORM t_eq(o.updated_at, '2026-11-28T12:05:00Z'::timestamptz, 'updated_at');
    a := t_one(t_el('r1', 'order.updated', 'order-1842', '{"total": 1500, "items": [{"item_id": "burger", "qty": 1}, {"item_id": "fries", "qty": 1}]}'));
    SELECT * INTO o FROM orders WHERE restaurant = 'r1' AND order_id = 'order-1842';
    PERFORM t_eq(o.total, 1500::bigint, 'total updated');
    PERFORM t_eq(jsonb_array_length(o.items), 2, 'items replaced');
    PERFORM t_eq(o.data->>'note', 'no onions', 'earlier field still there');
    PERFORM t_eq(o.status, 'preparing', 'status kept');

    -- Unknown order. The rejection is remembered under its id.
    head0 := (SELECT head FROM restaurants WHERE id = 'r1');
    a := t_one(t_el('r1', 'order.updated', 'order-9', '{"status": "ready"}', rej));
    PERFORM t_eq(a->>'code', 'conflict', 'unknown order code');
    PERFORM t_eq(a->>'reason', 'order order-9 does not exist', 'unknown order reason');
    PERFORM t_eq((SELECT head FROM restaurants WHERE id = 'r1'), head0, 'rejection consumes no seq');
    PERFORM t_eq((SELECT count(*) FROM events WHERE id = rej), 0::bigint, 'rejection not stored as event');
    PERFORM t_eq((SELECT code || '/' || reason || '/' || restaurant FROM rejected_events WHERE id = rej),
                 'conflict/order order-9 does not exist/r1', 'rejected_events row');
    -- The order appears later; resubmitting the rejected id still gets the original answer.
    PERFORM t_eq(t_one(t_el('r1', 'order.created', 'order-9', '{"total": 900}'))->>'status', 'accepted', 'order-9 created');
    a := t_one(t_el('r1', 'order.updated', 'order-9', '{"status": "ready"}', rej));
    PERFORM t_eq(a->>'status', 'rejected', 'resubmitted rejected id');
    PERFORM t_eq(a->>'code', 'conflict', 'resubmitted rejected id code');
    PERFORM t_eq(a->>'reason', 'order order-9 does not exist', 'resubmitted rejected id: original reason');
    PERFORM t_eq((SELECT status FROM orders WHERE restaurant = 'r1' AND order_id = 'order-9'), 'open',
                 'resubmission did not apply');
    PERFORM t_eq((SELECT data->>'status' FROM orders WHERE restaurant = 'r1' AND order_id = 'order-9'), 'open',
                 'create without status defaults to open');

    -- Invalid statuses and fields: invalid, not remembered.
    a := t_one(t_el('r1', 'order.created', 'order-x', '{"status": "bogus", "total": 1, "items": []}', rej));
    PERFORM t_eq(a->>'code', 'conflict', 'a remembered id keeps its answer whatever is sent');
    rej := gen_random_uuid();
    a := t_one(t_el('r1', 'order.created', 'order-x', '{"status": "bogus", "total": 1, "items": []}', rej));
    PERFORM t_eq(a->>'code', 'invalid', 'invalid status on create');
    PERFORM t_true(a->>'reason' LIKE '%"bogus"%', 'reason names the status: ' || (a->>'reason'));
    PERFORM t_eq((SELECT count(*) FROM rejected_events WHERE id = rej), 0::bigint, 'invalid not remembered');
    PERFORM t_eq((SELECT count(*) FROM orders WHERE order_id = 'order-x'), 0::bigint, 'no order-x');
    a := t_one(t_el('r1', 'order.created', 'order-x', '{"status": "open", "total": 1, "items": []}', rej));
    PERFORM t_eq(a->>'status', 'accepted', 'an id rejected as invalid can be fixed and resent');

    a := t_one(t_el('r1', 'order.updated', 'order-1842', '{"status": "eaten"}'));
    PERFORM t_eq(a->>'code', 'invalid', 'invalid status on update');
    PERFORM t_true(a->>'reason' LIKE '%"eaten"%', 'reason names the status: ' || (a->>'reason'));
    PERFORM t_eq(t_one(t_el('r1', 'order.updated', 'order-1842', '{"status": 3}'))->>'code', 'invalid', 'status not a string');
    PERFORM t_eq(t_one(t_el('r1', 'order.updated', 'order-1842', '{"status": null}'))->>'code', 'invalid', 'status null');
    PERFORM t_eq(t_one(t_el('r1', 'order.updated', 'order-1842', '{"total": 12.5}'))->>'code', 'invalid', 'fractional total');
    PERFORM t_eq(t_one(t_el('r1', 'order.updated', 'order-1842', '{"total": "12"}'))->>'code', 'invalid', 'total as string');
    PERFORM t_eq(t_one(t_el('r1', 'order.updated', 'order-1842', '{"items": {}}'))->>'code', 'invalid', 'items not an array');
    PERFORM t_eq(t_one(t_el('r1', 'order.created', 'order-y', '{"status": "open", "items": []}'))->>'reason',
                 'order.created needs total (integer, minor units)', 'create without total');
    PERFORM t_eq(t_one(t_el('r1', 'order.created', '', '{"total": 1}'))->>'code', 'invalid', 'empty order id');
    -- An invalid update of a completed or unknown order is still invalid (shape first).
    PERFORM t_eq(t_one(t_el('r1', 'order.updated', 'order-404', '{"status": "bogus"}'))->>'code', 'invalid', 'shape before state');

    -- Complete, then any update is a conflict.
    a := t_one(t_el('r1', 'order.updated', 'order-1842', '{"status": "completed"}', p_created_at => '2026-11-28T12:30:00.000Z'));
    PERFORM t_eq(a->>'status', 'accepted', 'complete');
    SELECT * INTO o FROM orders WHERE restaurant = 'r1' AND order_id = 'order-1842';
    PERFORM t_eq(o.completed_at, '2026-11-28T12:30:00Z'::timestamptz, 'completed_at');
    a := t_one(t_el('r1', 'order.updated', 'order-1842', '{"note": "late change"}'));
    PERFORM t_eq(a->>'code', 'conflict', 'update of completed order');
    PERFORM t_eq(a->>'reason', 'order order-1842 is completed', 'completed reason');
    a := t_one(t_el('r1', 'order.updated', 'order-1842', '{"status": "completed"}'));
    PERFORM t_eq(a->>'code', 'conflict', 'completing twice');
    PERFORM t_eq((SELECT data->>'note' FROM orders WHERE order_id = 'order-1842' AND restaurant = 'r1'), 'no onions', 'completed order untouched');

    -- A cancelled order may still be updated (only completed is final).
    PERFORM t_one(t_el('r1', 'order.created', 'order-c', '{"total": 100, "status": "cancelled"}'));
    PERFORM t_eq(t_one(t_el('r1', 'order.updated', 'order-c', '{"status": "open"}'))->>'status', 'accepted', 'reopen cancelled');

    -- Within one batch later elements see earlier ones.
    rows := t_all(t_batch(
        t_el('r1', 'order.created', 'order-b', '{"total": 100}'),
        t_el('r1', 'order.updated', 'order-b', '{"status": "completed"}'),
        t_el('r1', 'order.created', 'order-b', '{"total": 100}'),
        t_el('r1', 'order.updated', 'order-b', '{"status": "open"}'),
        t_el('r1', 'note.added', 'order-b', '{}')));
    PERFORM t_eq((SELECT array_agg(coalesce(r->>'code', r->>'status') ORDER BY n) FROM jsonb_array_elements(rows) WITH ORDINALITY x(r, n)),
                 ARRAY['accepted', 'accepted', 'conflict', 'conflict', 'accepted'], 'batch outcomes');
    PERFORM t_eq((rows->4->>'seq')::bigint, (rows->1->>'seq')::bigint + 1, 'rejections in a batch leave no gap');
END
$$;
