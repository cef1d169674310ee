-- 004_read: the read path. Replay pages (ctl/resume) and snapshots
-- (ctl/snapshot). Both are plain reads; the caller picks the isolation
-- (the snapshot is read inside a REPEATABLE READ transaction so that the
-- projections and head agree). Redaction of cost/profit_margin is done by
-- the hub in C, per view, not here.

-- Events of one stream with seq > after_seq, in seq order, at most max_rows
-- (NULL: no limit). Page by calling again with the last seq returned.
CREATE OR REPLACE FUNCTION fynsync_events_after(stream text, after_seq bigint, max_rows int)
RETURNS TABLE(seq bigint, event jsonb)
LANGUAGE sql STABLE AS $$
    SELECT e.seq, fynsync_event_json(e)
      FROM events e
     WHERE e.restaurant = stream AND e.seq > after_seq
     ORDER BY e.seq
     LIMIT CASE WHEN max_rows IS NULL THEN NULL ELSE greatest(max_rows, 0) END
$$;

-- The projections of one stream as one JSON document:
-- {"stream", "head", "orders", "menu", "inventory", "sales", "employees"}.
-- orders: every order that is not completed or cancelled, plus those closed
-- by an event the hub recorded in the last 24 hours; each is the merged
-- order with order_id, status, total, items and the hub's bookkeeping keys.
CREATE OR REPLACE FUNCTION fynsync_snapshot(stream text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'stream', stream,
        'head', coalesce((SELECT r.head FROM restaurants r WHERE r.id = stream), 0),
        'orders', coalesce((
            SELECT jsonb_agg(o.data || jsonb_build_object(
                       'order_id',     o.order_id,
                       'status',       o.status,
                       'total',        o.total,
                       'items',        o.items,
                       'created_seq',  o.created_seq,
                       'updated_seq',  o.updated_seq,
                       'created_at',   fynsync_ts(o.created_at),
                       'updated_at',   fynsync_ts(o.updated_at),
                       'completed_at', fynsync_ts(o.completed_at))
                   ORDER BY o.created_seq)
              FROM orders o
             WHERE o.restaurant = stream
               AND (o.status NOT IN ('completed', 'cancelled')
                    OR EXISTS (SELECT 1 FROM events x
                                WHERE x.restaurant = o.restaurant AND x.seq = o.updated_seq
                                  AND x.recorded_at >= now() - interval '24 hours'))), '[]'::jsonb),
        'menu', coalesce((
            SELECT jsonb_agg(m.data || jsonb_build_object(
                       'item_id',     m.item_id,
                       'name',        m.name,
                       'price',       m.price,
                       'cost',        m.cost,
                       'available',   m.available,
                       'updated_seq', m.updated_seq,
                       'updated_at',  fynsync_ts(m.updated_at))
                   ORDER BY m.item_id)
              FROM menu_items m
             WHERE m.restaurant = stream), '[]'::jsonb),
        'inventory', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'item_id',       i.item_id,
                       'level',         i.level,
                       'low_threshold', i.low_threshold,
                       'low',           i.low_threshold IS NOT NULL AND i.level <= i.low_threshold,
                       'updated_seq',   i.updated_seq,
                       'updated_at',    fynsync_ts(i.updated_at))
                   ORDER BY i.item_id)
              FROM inventory i
             WHERE i.restaurant = stream), '[]'::jsonb),
        'sales', jsonb_build_object(
            'time_zone', coalesce((SELECT r.time_zone FROM restaurants r WHERE r.id = stream), 'Europe/London'),
            'days', coalesce((
                SELECT jsonb_agg(jsonb_build_object(
                           'day',     to_char(d.day, 'YYYY-MM-DD'),
                           'orders',  d.orders,
                           'gross',   d.gross,
                           'by_hour', d.by_hour)
                       ORDER BY d.day)
                  FROM sales_daily d
                 WHERE d.restaurant = stream), '[]'::jsonb)),
        'employees', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'created_by', a.created_by,
                       'events',     a.events,
                       'orders',     a.orders,
                       'last_seen',  fynsync_ts(a.last_seen))
                   ORDER BY a.created_by)
              FROM employee_activity a
             WHERE a.restaurant = stream), '[]'::jsonb))
$$;
