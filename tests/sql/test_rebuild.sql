-- fynsync_rebuild_projections() reproduces exactly the projections built live.
INSERT INTO restaurants (id, time_zone) VALUES ('ny', 'America/New_York');

-- A mixed workload: several streams, batches, rejections, alerts.
DO $$
DECLARE
    i int;
    r text;
    els jsonb[];
BEGIN
    FOR i IN 1..60 LOOP
        r := (ARRAY['r1', 'r2', 'ny'])[1 + i % 3];
        els := ARRAY[
            t_el(r, 'order.created', 'o' || i, jsonb_build_object('total', i * 100, 'items', jsonb_build_array(jsonb_build_object('item_id', 'burger', 'cost', 40))),
                 p_by => 'staff' || (i % 4), p_created_at => to_char(timestamptz '2026-11-27T08:00:00Z' + i * interval '37 minutes', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
            t_el(r, 'order.updated', 'o' || (i - 3), jsonb_build_object('status', (ARRAY['preparing', 'ready', 'completed', 'cancelled'])[1 + i % 4], 'tip', i),
                 p_by => 'staff' || (i % 5), p_created_at => to_char(timestamptz '2026-11-27T08:30:00Z' + i * interval '37 minutes', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
            t_el(r, 'order.created', 'o' || i, '{"total": 1}'),                                   -- conflict
            t_el(r, 'menu.updated', 'item' || (i % 7), jsonb_build_object('item_id', 'item' || (i % 7), 'price', i, 'name', 'Item ' || i)),
            t_el(r, 'inventory.adjusted', 'stock' || (i % 5), jsonb_build_object('item_id', 'stock' || (i % 5), 'delta', CASE WHEN i % 2 = 0 THEN -7 ELSE 5 END, 'low_threshold', 3)),
            t_el(r, 'note.added', 'n' || i, jsonb_build_object('text', 'hello'), p_by => 'manager'),
            t_el(r, 'order.updated', 'missing' || i, '{"status": "ready"}'),                    -- conflict
            t_el(r, 'order.updated', 'o' || i, '{"status": "bogus"}')                           -- invalid
        ];
        PERFORM t_all(t_batch(VARIADIC els));
    END LOOP;
    PERFORM t_one(t_el('platform', 'platform.announced', 'a', '{"text": "maintenance"}', p_by => 'owner'));
END
$$;

CREATE TEMP TABLE live_orders AS SELECT * FROM orders;
CREATE TEMP TABLE live_sales AS SELECT * FROM sales_hourly;
CREATE TEMP TABLE live_inventory AS SELECT * FROM inventory;
CREATE TEMP TABLE live_menu AS SELECT * FROM menu_items;
CREATE TEMP TABLE live_employees AS SELECT * FROM employee_activity;
CREATE TEMP TABLE live_snapshots AS SELECT id, fynsync_snapshot(id) AS snap FROM restaurants;

CREATE FUNCTION same(what text, a regclass, b regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    n_a bigint; n_b bigint; diff bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', a) INTO n_a;
    EXECUTE format('SELECT count(*) FROM %s', b) INTO n_b;
    EXECUTE format('SELECT count(*) FROM ((TABLE %1$s EXCEPT ALL TABLE %2$s) UNION ALL (TABLE %2$s EXCEPT ALL TABLE %1$s)) d', a, b) INTO diff;
    PERFORM t_true(n_a > 0, what || ': live projection is not empty');
    PERFORM t_eq(n_b, n_a, what || ': row count after rebuild');
    PERFORM t_eq(diff, 0::bigint, what || ': rows differing after rebuild');
END
$$;

DO $$
DECLARE
    head0 bigint;
BEGIN
    -- Sanity: the workload exercised what it should.
    PERFORM t_true((SELECT count(*) FROM events WHERE event_type = 'inventory.low') > 0, 'alerts generated');
    PERFORM t_true((SELECT count(*) FROM orders WHERE status = 'completed') > 0, 'completed orders');
    PERFORM t_true((SELECT count(*) FROM rejected_events) > 0, 'conflicts');

    -- Scramble the projections so the rebuild has to do real work.
    UPDATE orders SET total = total + 1;
    DELETE FROM sales_hourly WHERE hour % 2 = 0;
    INSERT INTO menu_items VALUES ('r1', 'ghost', 'Ghost', 1, 1, true, '{}', 1, now());

    PERFORM t_eq(fynsync_rebuild_projections(), (SELECT count(*) FROM events), 'rebuild applies every event');
    PERFORM same('orders', 'live_orders', 'orders');
    PERFORM same('sales', 'live_sales', 'sales_hourly');
    PERFORM same('inventory', 'live_inventory', 'inventory');
    PERFORM same('menu', 'live_menu', 'menu_items');
    PERFORM same('employees', 'live_employees', 'employee_activity');
    PERFORM t_eq((SELECT count(*) FROM live_snapshots l WHERE l.snap IS DISTINCT FROM fynsync_snapshot(l.id)), 0::bigint,
                 'snapshots equal after rebuild');
    -- Rebuilding twice is stable, and appending afterwards goes on from head.
    PERFORM fynsync_rebuild_projections();
    PERFORM same('orders again', 'live_orders', 'orders');
    head0 := (SELECT head FROM restaurants WHERE id = 'r1');
    PERFORM t_eq((t_one(t_el('r1', 'order.created', 'after', '{"total": 5}'))->>'seq')::bigint,
                 head0 + 1, 'append after rebuild goes on from head');
END
$$;
