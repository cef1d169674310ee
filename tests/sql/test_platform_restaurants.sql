-- fynsync_snapshot('platform').restaurants (009): every restaurant with its
-- head, today's completed sales in its own time zone, and open orders;
-- other streams' snapshots do not get the list.
DO $$
DECLARE
    s jsonb;
    r1 jsonb;
    r2 jsonb;
BEGIN
    PERFORM t_one(t_el('r1', 'order.created', 'o1', '{"status": "open", "total": 1250}'));
    PERFORM t_one(t_el('r1', 'order.created', 'o2', '{"status": "open", "total": 500}'));
    PERFORM t_one(t_el('r1', 'order.updated', 'o2', '{"status": "completed"}'));
    PERFORM t_one(t_el('r1', 'order.created', 'old', '{"status": "completed", "total": 99}',
                       p_created_at => fynsync_ts(now() - interval '3 days')));
    PERFORM t_one(t_el('r2', 'menu.updated', 'burger', '{"item_id": "burger", "price": 1}'));
    PERFORM t_one(t_el('platform', 'platform.announced', 'news', '{"text": "hello"}'));

    s := fynsync_snapshot('platform');
    PERFORM t_eq(s->>'stream', 'platform', 'platform stream');
    PERFORM t_true(s ? 'orders' AND s ? 'sales', 'the platform snapshot keeps its projections');
    PERFORM t_eq(jsonb_array_length(s->'restaurants'), 2, 'two restaurants, platform itself not listed');
    r1 := s->'restaurants'->0;
    r2 := s->'restaurants'->1;
    PERFORM t_eq(r1->>'id', 'r1', 'sorted by id');
    PERFORM t_eq(r1->'head', to_jsonb((SELECT head FROM restaurants WHERE id = 'r1')), 'r1 head');
    PERFORM t_eq(r1->'orders', '1'::jsonb, 'today''s completed orders (the one of 3 days ago is not today)');
    PERFORM t_eq(r1->'gross', '500'::jsonb, 'today''s gross');
    PERFORM t_eq(r1->'open_orders', '1'::jsonb, 'open orders');
    PERFORM t_eq(r1->>'today', to_char((now() AT TIME ZONE 'Europe/London')::date, 'YYYY-MM-DD'), 'local day');
    PERFORM t_eq(r2->'orders', '0'::jsonb, 'no sales yet is 0');
    PERFORM t_eq(r2->'head', '1'::jsonb, 'r2 head');

    PERFORM t_true(NOT fynsync_snapshot('r1') ? 'restaurants', 'restaurant snapshots have no list');
    PERFORM t_eq(fynsync_snapshot('r1') - 'head', fynsync_snapshot_projections('r1') - 'head', 'r1 snapshot unchanged');
END
$$;
