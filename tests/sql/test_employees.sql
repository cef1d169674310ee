-- Employee activity per restaurant and created_by: events, orders created, last seen.
DO $$
DECLARE
    a employee_activity;
BEGIN
    PERFORM t_one(t_el('r1', 'order.created', 'o1', '{"total": 100}', p_by => 'alice', p_created_at => '2026-11-28T12:00:00Z'));
    PERFORM t_one(t_el('r1', 'order.created', 'o2', '{"total": 100}', p_by => 'alice', p_created_at => '2026-11-28T12:10:00Z'));
    PERFORM t_one(t_el('r1', 'order.updated', 'o1', '{"status": "ready"}', p_by => 'alice', p_created_at => '2026-11-28T12:20:00Z'));
    -- An offline till sends an older event later: last_seen stays the latest.
    PERFORM t_one(t_el('r1', 'note.added', 'n', '{}', p_by => 'alice', p_created_at => '2026-11-28T09:00:00Z'));
    -- Rejected events do not count.
    PERFORM t_one(t_el('r1', 'order.created', 'o1', '{"total": 100}', p_by => 'alice', p_created_at => '2026-11-28T23:00:00Z'));
    PERFORM t_one(t_el('r1', 'order.created', 'o3', '{"total": "x"}', p_by => 'alice', p_created_at => '2026-11-28T23:00:00Z'));
    PERFORM t_one(t_el('r1', 'menu.updated', 'm', '{"item_id": "m"}', p_by => 'bob', p_created_at => '2026-11-28T13:00:00Z'));
    PERFORM t_one(t_el('r2', 'order.created', 'o1', '{"total": 100}', p_by => 'alice', p_created_at => '2026-11-28T14:00:00Z'));

    SELECT * INTO a FROM employee_activity WHERE restaurant = 'r1' AND created_by = 'alice';
    PERFORM t_eq(a.events, 4::bigint, 'alice events in r1');
    PERFORM t_eq(a.orders, 2::bigint, 'alice orders in r1');
    PERFORM t_eq(a.last_seen, '2026-11-28T12:20:00Z'::timestamptz, 'alice last seen in r1');
    SELECT * INTO a FROM employee_activity WHERE restaurant = 'r1' AND created_by = 'bob';
    PERFORM t_eq(a.events, 1::bigint, 'bob events');
    PERFORM t_eq(a.orders, 0::bigint, 'bob orders');
    SELECT * INTO a FROM employee_activity WHERE restaurant = 'r2' AND created_by = 'alice';
    PERFORM t_eq(a.events || '/' || a.orders, '1/1', 'alice in r2 counted apart');
    PERFORM t_eq((SELECT count(*) FROM employee_activity), 3::bigint, 'three rows');
END
$$;
