-- Daily sales by local day and hour, in the restaurant's time zone
-- (default Europe/London), from the completing event's created_at.
INSERT INTO restaurants (id, time_zone) VALUES ('ny', 'America/New_York'), ('tokyo', 'Asia/Tokyo');

CREATE FUNCTION sale(r text, order_id text, total int, at text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM t_eq(t_one(t_el(r, 'order.created', order_id, jsonb_build_object('total', total, 'status', 'completed'),
                            p_created_at => at))->>'status', 'accepted', 'sale ' || order_id);
END
$$;
CREATE FUNCTION hours(r text, d date) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(hour || ':' || orders || '/' || gross, ' ' ORDER BY hour)
      FROM sales_hourly WHERE restaurant = r AND day = d
$$;

DO $$
BEGIN
    -- Winter (GMT = UTC; New York UTC-5).
    PERFORM sale('lon', 'w1', 1000, '2026-11-28T12:30:00Z');
    PERFORM sale('lon', 'w2', 500, '2026-11-28T12:59:59.999Z');
    PERFORM sale('ny', 'w1', 1000, '2026-11-28T12:30:00Z');
    PERFORM t_eq(hours('lon', '2026-11-28'), '12:2/1500', 'London winter hour');
    PERFORM t_eq(hours('ny', '2026-11-28'), '7:1/1000', 'New York winter hour');

    -- Summer (BST = UTC+1; New York UTC-4).
    PERFORM sale('lon', 's1', 700, '2026-07-01T11:30:00Z');
    PERFORM sale('ny', 's1', 700, '2026-07-01T11:30:00Z');
    PERFORM t_eq(hours('lon', '2026-07-01'), '12:1/700', 'London summer hour (BST)');
    PERFORM t_eq(hours('ny', '2026-07-01'), '7:1/700', 'New York summer hour (EDT)');

    -- Day boundaries.
    PERFORM sale('lon', 'late', 300, '2026-11-28T23:30:00Z');
    PERFORM sale('tokyo', 'late', 300, '2026-11-28T23:30:00Z');
    PERFORM sale('ny', 'late', 300, '2026-11-29T03:00:00Z');
    PERFORM sale('lon', 'bst-midnight', 200, '2026-06-30T23:30:00Z');
    PERFORM t_eq(hours('lon', '2026-11-28'), '12:2/1500 23:1/300', 'London late sale same day');
    PERFORM t_eq(hours('tokyo', '2026-11-29'), '8:1/300', 'Tokyo: next local day');
    PERFORM t_eq(hours('tokyo', '2026-11-28'), NULL, 'Tokyo: nothing on the UTC day');
    PERFORM t_eq(hours('ny', '2026-11-28'), '7:1/1000 22:1/300', 'New York: UTC next day is local evening');
    PERFORM t_eq(hours('lon', '2026-07-01'), '0:1/200 12:1/700', 'BST: 23:30 UTC is 00:30 next day');

    -- Completion by update: counted at the completing event's time, with the merged total;
    -- open and cancelled orders are not sales; a completed order counts once.
    PERFORM t_one(t_el('lon', 'order.created', 'u1', '{"total": 1000}', p_created_at => '2026-11-27T10:00:00Z'));
    PERFORM t_eq(hours('lon', '2026-11-27'), NULL, 'open order is no sale');
    PERFORM t_one(t_el('lon', 'order.updated', 'u1', '{"status": "ready", "total": 1200}', p_created_at => '2026-11-27T11:00:00Z'));
    PERFORM t_one(t_el('lon', 'order.updated', 'u1', '{"status": "completed"}', p_created_at => '2026-11-27T13:05:00Z'));
    PERFORM t_one(t_el('lon', 'order.updated', 'u1', '{"status": "completed"}', p_created_at => '2026-11-27T14:05:00Z'));
    PERFORM t_one(t_el('lon', 'order.created', 'u2', '{"total": 999, "status": "cancelled"}', p_created_at => '2026-11-27T13:10:00Z'));
    PERFORM t_eq(hours('lon', '2026-11-27'), '13:1/1200', 'completed by update, counted once');
    PERFORM t_eq((SELECT completed_at FROM orders WHERE restaurant = 'lon' AND order_id = 'u1'),
                 '2026-11-27T13:05:00Z'::timestamptz, 'completed_at from completing event');

    -- The daily view.
    PERFORM t_eq((SELECT orders || '/' || gross FROM sales_daily WHERE restaurant = 'lon' AND day = '2026-11-28'), '3/1800', 'daily total');
    PERFORM t_eq((SELECT by_hour FROM sales_daily WHERE restaurant = 'lon' AND day = '2026-11-28'),
                 '[{"hour": 12, "orders": 2, "gross": 1500}, {"hour": 23, "orders": 1, "gross": 300}]'::jsonb, 'by_hour');
    PERFORM t_eq((SELECT time_zone FROM restaurants WHERE id = 'lon'), 'Europe/London', 'default zone');
END
$$;

-- An unknown zone is refused when it is set.
DO $$
BEGIN
    BEGIN
        UPDATE restaurants SET time_zone = 'Mars/Olympus_Mons' WHERE id = 'lon';
        RAISE EXCEPTION 'expected an unknown time zone to be refused';
    EXCEPTION WHEN invalid_parameter_value THEN
        NULL;
    END;
    BEGIN
        INSERT INTO restaurants (id, time_zone) VALUES ('atlantis', 'Atlantis/Capital');
        RAISE EXCEPTION 'expected an unknown time zone to be refused on insert';
    EXCEPTION WHEN invalid_parameter_value THEN
        NULL;
    END;
    UPDATE restaurants SET time_zone = 'Europe/Paris' WHERE id = 'lon';
    PERFORM t_eq((SELECT time_zone FROM restaurants WHERE id = 'lon'), 'Europe/Paris', 'known zone accepted');
END
$$;
