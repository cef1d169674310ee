-- fynsync_snapshot(stream): shape and content for one restaurant.
DO $$
DECLARE
    s jsonb;
    o jsonb;
BEGIN
    PERFORM t_one(t_el('r1', 'order.created', 'o1', '{"status": "open", "total": 1250, "items": [{"item_id": "burger", "cost": 410}], "table": 4}',
                       p_created_at => '2026-11-28T12:00:00.123Z'));
    PERFORM t_one(t_el('r1', 'order.updated', 'o1', '{"status": "preparing"}', p_created_at => '2026-11-28T12:01:00Z'));
    PERFORM t_one(t_el('r1', 'order.created', 'o2', '{"status": "completed", "total": 500}', p_created_at => '2026-11-28T12:02:00Z'));
    PERFORM t_one(t_el('r1', 'order.created', 'old', '{"status": "completed", "total": 100}', p_created_at => '2026-11-20T12:00:00Z'));
    PERFORM t_one(t_el('r1', 'order.created', 'old-open', '{"status": "open", "total": 100}', p_created_at => '2026-11-20T12:00:00Z'));
    PERFORM t_one(t_el('r1', 'menu.updated', 'burger', '{"item_id": "burger", "name": "Burger", "price": 1250, "cost": 410, "available": true, "profit_margin": 0.67}'));
    PERFORM t_one(t_el('r1', 'inventory.adjusted', 'buns', '{"item_id": "buns", "level": 3, "low_threshold": 5}'));
    PERFORM t_one(t_el('r1', 'inventory.adjusted', 'beef', '{"item_id": "beef", "level": 30}'));
    PERFORM t_one(t_el('r2', 'order.created', 'other', '{"total": 1}', p_by => 'zed'));
    PERFORM t_one(t_el('r2', 'menu.updated', 'other', '{"item_id": "other"}', p_by => 'zed'));
    -- 'old' was closed by an event recorded two days ago: no longer in the snapshot.
    UPDATE events SET recorded_at = now() - interval '2 days' WHERE restaurant = 'r1' AND aggregate_id IN ('old', 'old-open');

    s := fynsync_snapshot('r1');
    PERFORM t_eq((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(s) k),
                 ARRAY['employees', 'head', 'inventory', 'menu', 'orders', 'sales', 'stream'], 'snapshot keys');
    PERFORM t_eq(s->>'stream', 'r1', 'stream');
    PERFORM t_eq(s->'head', to_jsonb((SELECT head FROM restaurants WHERE id = 'r1')), 'head');
    PERFORM t_eq(s->'head', '9'::jsonb, 'head value (8 events + 1 alert)');

    -- Orders: open ones, and closed ones recorded in the last 24 hours, in creation order.
    PERFORM t_eq((SELECT array_agg(x->>'order_id' ORDER BY n) FROM jsonb_array_elements(s->'orders') WITH ORDINALITY a(x, n)),
                 ARRAY['o1', 'o2', 'old-open'], 'orders in snapshot');
    o := s->'orders'->0;
    PERFORM t_eq(o->>'status', 'preparing', 'merged status');
    PERFORM t_eq(o->'total', '1250'::jsonb, 'total');
    PERFORM t_eq(o->'table', '4'::jsonb, 'extra order fields');
    PERFORM t_eq(o->'items'->0->'cost', '410'::jsonb, 'items as stored (redaction happens in C)');
    PERFORM t_eq(o->'created_seq', '1'::jsonb, 'created_seq');
    PERFORM t_eq(o->'updated_seq', '2'::jsonb, 'updated_seq');
    PERFORM t_eq(o->>'created_at', '2026-11-28T12:00:00.123Z', 'created_at format');
    PERFORM t_eq(o->>'updated_at', '2026-11-28T12:01:00.000Z', 'updated_at');
    PERFORM t_eq(o->'completed_at', 'null'::jsonb, 'completed_at null');
    PERFORM t_eq(s->'orders'->1->>'completed_at', '2026-11-28T12:02:00.000Z', 'completed_at');

    -- Menu.
    PERFORM t_eq(jsonb_array_length(s->'menu'), 1, 'menu items');
    PERFORM t_eq(s->'menu'->0->>'item_id', 'burger', 'menu item id');
    PERFORM t_eq(s->'menu'->0->'price', '1250'::jsonb, 'menu price');
    PERFORM t_eq(s->'menu'->0->'available', 'true'::jsonb, 'menu available');
    PERFORM t_eq(s->'menu'->0->'profit_margin', '0.67'::jsonb, 'menu extra fields');

    -- Inventory, by item id.
    PERFORM t_eq(s->'inventory',
        jsonb_build_array(
            jsonb_build_object('item_id', 'beef', 'level', 30, 'low_threshold', NULL, 'low', false,
                               'updated_seq', 9, 'updated_at', s->'inventory'->0->'updated_at'),
            jsonb_build_object('item_id', 'buns', 'level', 3, 'low_threshold', 5, 'low', true,
                               'updated_seq', 7, 'updated_at', s->'inventory'->1->'updated_at')),
        'inventory');

    -- Sales.
    PERFORM t_eq(s->'sales'->>'time_zone', 'Europe/London', 'sales time zone');
    PERFORM t_eq(s->'sales'->'days',
        '[{"day": "2026-11-20", "orders": 1, "gross": 100, "by_hour": [{"hour": 12, "orders": 1, "gross": 100}]},
          {"day": "2026-11-28", "orders": 1, "gross": 500, "by_hour": [{"hour": 12, "orders": 1, "gross": 500}]}]'::jsonb,
        'sales days');

    -- Employees.
    PERFORM t_eq(jsonb_array_length(s->'employees'), 1, 'one employee in r1');
    PERFORM t_eq(s->'employees'->0->>'created_by', 'alice', 'employee');
    PERFORM t_eq(s->'employees'->0->'events', '8'::jsonb, 'employee events (alert not counted)');
    PERFORM t_eq(s->'employees'->0->'orders', '4'::jsonb, 'employee orders');
    PERFORM t_true(s->'employees'->0->>'last_seen' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', 'last_seen format');

    -- Nothing from r2 leaked.
    PERFORM t_true(position('"other"' IN s::text) = 0 AND position('zed' IN s::text) = 0, 'no r2 data');

    -- Unknown stream: empty but well-formed.
    PERFORM t_eq(fynsync_snapshot('nowhere'),
        '{"stream": "nowhere", "head": 0, "orders": [], "menu": [], "inventory": [],
          "sales": {"time_zone": "Europe/London", "days": []}, "employees": []}'::jsonb, 'unknown stream');
END
$$;

-- As the C side calls it: inside REPEATABLE READ.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT t_eq((fynsync_snapshot('r2')->>'head')::int, 2, 'snapshot in repeatable read');
COMMIT;
