-- The set-based append (010) gives exactly what appending the same elements
-- one at a time gives (one element per call is one run, the sequential
-- semantics of 003): the same answers and seqs, the same log, the same
-- projections. The mix has creates, updates and completions of one order
-- within a batch, creates of orders that exist, updates of unknown orders,
-- two menu updates of one item, inventory entering, leaving and entering
-- the low state again, an unknown event type, a duplicate id and an invalid
-- element, over three streams.

-- Element i of the mix for the streams prefix0..prefix2.
CREATE FUNCTION pg_temp.mix(prefix text, i int) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT t_el(prefix || (i % 3),
                (ARRAY['order.created', 'order.updated', 'order.updated', 'menu.updated',
                       'inventory.adjusted', 'inventory.adjusted', 'note.added'])[i % 7 + 1],
                CASE WHEN i % 7 < 3 THEN 'o' || (i % 5) ELSE 'x' END,
                CASE i % 7
                    WHEN 0 THEN jsonb_build_object('total', i * 10, 'items', '[]'::jsonb)
                    WHEN 1 THEN jsonb_build_object('status', 'preparing', 'note', i)
                    WHEN 2 THEN jsonb_build_object('status', 'completed', 'total', i * 10)
                    WHEN 3 THEN jsonb_build_object('item_id', 'm' || (i % 2), 'price', i)
                                || CASE WHEN i % 2 = 0 THEN jsonb_build_object('name', 'n' || i) ELSE '{}' END
                    WHEN 4 THEN jsonb_build_object('item_id', 'b' || (i % 2), 'delta', -3, 'low_threshold', 5)
                    WHEN 5 THEN jsonb_build_object('item_id', 'b' || (i % 2), 'level', 4 + (i % 4) * 3)
                    ELSE '{}'::jsonb
                END,
                -- element 50 repeats the id of element 49
                md5(prefix || CASE WHEN i = 50 THEN 49 ELSE i END)::uuid,
                p_by => 'u' || (i % 2),
                p_created_at => '2026-12-02T1' || (i % 10) || ':0' || (i % 6) || ':00Z')
           -- element 60 is invalid
           || CASE WHEN i = 60 THEN '{"payload": 1}'::jsonb ELSE '{}' END
$$;

DO $$
DECLARE
    n constant int := 140;
    together jsonb;
    alone jsonb := '[]';
    again jsonb;
BEGIN
    together := t_all((SELECT t_batch(VARIADIC array_agg(pg_temp.mix('a', i) ORDER BY i))
                         FROM generate_series(1, n) i));
    FOR i IN 1..n LOOP
        alone := alone || t_all(jsonb_build_array(pg_temp.mix('b', i)));
    END LOOP;

    PERFORM t_eq(jsonb_array_length(together), jsonb_array_length(alone), 'as many answer rows');
    PERFORM t_true(jsonb_array_length(together) > n, 'the mix generates inventory.low events');
    PERFORM t_eq((SELECT count(*) FROM jsonb_array_elements(together) r WHERE r->>'status' = 'accepted'),
                 (SELECT count(*) FROM jsonb_array_elements(alone) r WHERE r->>'status' = 'accepted'), 'accepted');
    PERFORM t_true((SELECT count(*) FROM jsonb_array_elements(together) r WHERE r->>'code' = 'conflict') > 10,
                   'the mix has conflicts');
    -- Answer by answer: status, code, stream and seq.
    PERFORM t_eq((SELECT count(*)
                    FROM jsonb_array_elements(together) WITH ORDINALITY t(r, k)
                    JOIN jsonb_array_elements(alone) WITH ORDINALITY s(r, k) USING (k)
                   WHERE t.r->>'status' IS DISTINCT FROM s.r->>'status'
                      OR t.r->>'code' IS DISTINCT FROM s.r->>'code'
                      OR t.r->'seq' IS DISTINCT FROM s.r->'seq'
                      OR substr(t.r->>'restaurant', 2) IS DISTINCT FROM substr(s.r->>'restaurant', 2)
                      OR t.r->'event'->'payload' IS DISTINCT FROM s.r->'event'->'payload'),
                 0::bigint, 'every answer the same as one at a time');

    -- The log and every projection.
    PERFORM t_eq((SELECT array_agg(row(substr(restaurant, 2), seq, event_type, aggregate_id, payload, created_by,
                                       created_at, metadata - 'cause')::text ORDER BY restaurant, seq)
                    FROM events WHERE restaurant LIKE 'a%'),
                 (SELECT array_agg(row(substr(restaurant, 2), seq, event_type, aggregate_id, payload, created_by,
                                       created_at, metadata - 'cause')::text ORDER BY restaurant, seq)
                    FROM events WHERE restaurant LIKE 'b%'), 'events');
    PERFORM t_eq((SELECT array_agg(id || '=' || head ORDER BY id) FROM restaurants WHERE id LIKE 'a%'),
                 (SELECT array_agg(replace(id, 'b', 'a') || '=' || head ORDER BY id) FROM restaurants WHERE id LIKE 'b%'),
                 'heads');
    PERFORM t_eq((SELECT array_agg(row(substr(restaurant, 2), order_id, status, total, items, data, created_seq,
                                       updated_seq, created_at, updated_at, completed_at)::text ORDER BY restaurant, order_id)
                    FROM orders WHERE restaurant LIKE 'a%'),
                 (SELECT array_agg(row(substr(restaurant, 2), order_id, status, total, items, data, created_seq,
                                       updated_seq, created_at, updated_at, completed_at)::text ORDER BY restaurant, order_id)
                    FROM orders WHERE restaurant LIKE 'b%'), 'orders');
    PERFORM t_true((SELECT count(*) FROM sales_hourly WHERE restaurant LIKE 'a%') > 0, 'the mix completes orders');
    PERFORM t_eq((SELECT array_agg(row(substr(restaurant, 2), day, hour, orders, gross)::text ORDER BY restaurant, day, hour)
                    FROM sales_hourly WHERE restaurant LIKE 'a%'),
                 (SELECT array_agg(row(substr(restaurant, 2), day, hour, orders, gross)::text ORDER BY restaurant, day, hour)
                    FROM sales_hourly WHERE restaurant LIKE 'b%'), 'sales_hourly');
    PERFORM t_eq((SELECT array_agg(row(substr(restaurant, 2), item_id, name, price, cost, available, data,
                                       updated_seq, updated_at)::text ORDER BY restaurant, item_id)
                    FROM menu_items WHERE restaurant LIKE 'a%'),
                 (SELECT array_agg(row(substr(restaurant, 2), item_id, name, price, cost, available, data,
                                       updated_seq, updated_at)::text ORDER BY restaurant, item_id)
                    FROM menu_items WHERE restaurant LIKE 'b%'), 'menu_items');
    PERFORM t_eq((SELECT array_agg(row(substr(restaurant, 2), item_id, level, low_threshold, updated_seq,
                                       updated_at)::text ORDER BY restaurant, item_id)
                    FROM inventory WHERE restaurant LIKE 'a%'),
                 (SELECT array_agg(row(substr(restaurant, 2), item_id, level, low_threshold, updated_seq,
                                       updated_at)::text ORDER BY restaurant, item_id)
                    FROM inventory WHERE restaurant LIKE 'b%'), 'inventory');
    PERFORM t_eq((SELECT array_agg(row(substr(restaurant, 2), created_by, events, orders, last_seen)::text ORDER BY restaurant, created_by)
                    FROM employee_activity WHERE restaurant LIKE 'a%'),
                 (SELECT array_agg(row(substr(restaurant, 2), created_by, events, orders, last_seen)::text ORDER BY restaurant, created_by)
                    FROM employee_activity WHERE restaurant LIKE 'b%'), 'employee_activity');
    PERFORM t_eq((SELECT count(*) FROM rejected_events WHERE restaurant LIKE 'a%'),
                 (SELECT count(*) FROM rejected_events WHERE restaurant LIKE 'b%'), 'rejected_events');

    -- The whole batch again: every answer repeats (idempotence), nothing new is stored.
    again := t_all((SELECT t_batch(VARIADIC array_agg(pg_temp.mix('a', i) ORDER BY i)) FROM generate_series(1, n) i));
    PERFORM t_eq(jsonb_array_length(again), n, 'one answer per element, nothing generated again');
    PERFORM t_eq((SELECT count(*)
                    FROM jsonb_array_elements(again) s(r)
                    JOIN jsonb_array_elements(together) t(r) ON t.r->'idx' = s.r->'idx'
                   WHERE t.r->>'status' IS DISTINCT FROM s.r->>'status' OR t.r->'seq' IS DISTINCT FROM s.r->'seq'
                      OR t.r->>'code' IS DISTINCT FROM s.r->>'code'),
                 0::bigint, 'the same batch again gets the same answers');
    PERFORM t_eq((SELECT sum(head) FROM restaurants WHERE id LIKE 'a%'),
                 (SELECT count(*) FROM events WHERE restaurant LIKE 'a%'), 'nothing stored twice');
END
$$;
