-- 002_projections: the read models kept beside the log, and the one function
-- that applies an event to them.
--
-- Every projection is derived from `events` alone (plus restaurants.time_zone
-- for sales): fynsync_project(e) is called by fynsync_append for each stored
-- event in the same transaction, and by fynsync_rebuild_projections() for
-- every event in (restaurant, seq) order. Because both paths run the same
-- function, a rebuild reproduces exactly what was built live.
--
-- fynsync_project assumes the event already passed the rules (fynsync_check,
-- 003): it applies, it does not judge. It returns a jsonb object of side
-- effects for the caller; today only {"emit": [...]}, events the hub must
-- append right after this one (inventory.low). The rebuild ignores it,
-- because emitted events are themselves in the log.

CREATE TABLE IF NOT EXISTS orders (
    restaurant   text NOT NULL,
    order_id     text NOT NULL,          -- the events' aggregate_id
    status       text NOT NULL CHECK (status IN ('open', 'preparing', 'ready', 'completed', 'cancelled')),
    total        bigint NOT NULL,        -- minor units
    items        jsonb NOT NULL DEFAULT '[]',
    data         jsonb NOT NULL,         -- the full merged order (create payload || every update payload)
    created_seq  bigint NOT NULL,
    updated_seq  bigint NOT NULL,
    created_at   timestamptz NOT NULL,   -- created_at of the creating event
    updated_at   timestamptz NOT NULL,   -- created_at of the last event
    completed_at timestamptz NULL,       -- created_at of the completing event
    PRIMARY KEY (restaurant, order_id)
);

CREATE INDEX IF NOT EXISTS orders_open_idx ON orders (restaurant, created_seq)
    WHERE status NOT IN ('completed', 'cancelled');

-- Completed orders per restaurant, local day and local hour (restaurants.time_zone),
-- attributed to the created_at of the event that completed the order.
CREATE TABLE IF NOT EXISTS sales_hourly (
    restaurant text NOT NULL,
    day        date NOT NULL,
    hour       smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    orders     bigint NOT NULL,
    gross      bigint NOT NULL,
    PRIMARY KEY (restaurant, day, hour)
);

CREATE OR REPLACE VIEW sales_daily AS
    SELECT s.restaurant, s.day,
           sum(s.orders)::bigint AS orders,
           sum(s.gross)::bigint  AS gross,
           jsonb_agg(jsonb_build_object('hour', s.hour, 'orders', s.orders, 'gross', s.gross)
                     ORDER BY s.hour) AS by_hour
      FROM sales_hourly s
     GROUP BY s.restaurant, s.day;

CREATE TABLE IF NOT EXISTS inventory (
    restaurant    text NOT NULL,
    item_id       text NOT NULL,
    level         numeric NOT NULL,
    low_threshold numeric NULL,
    updated_seq   bigint NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (restaurant, item_id)
);

CREATE TABLE IF NOT EXISTS menu_items (
    restaurant  text NOT NULL,
    item_id     text NOT NULL,
    name        text NULL,
    price       bigint NULL,
    cost        bigint NULL,
    available   boolean NULL,
    data        jsonb NOT NULL,          -- every field ever sent for the item, last write wins per field
    updated_seq bigint NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (restaurant, item_id)
);

-- Per created_by (the token's sub): events written, orders created, last seen
-- (latest created_at). Events the hub generates itself are not counted.
CREATE TABLE IF NOT EXISTS employee_activity (
    restaurant text NOT NULL,
    created_by text NOT NULL,
    events     bigint NOT NULL,
    orders     bigint NOT NULL,
    last_seen  timestamptz NOT NULL,
    PRIMARY KEY (restaurant, created_by)
);

-- Counts one completed order into sales_hourly.
CREATE OR REPLACE FUNCTION fynsync_project_sale(p_restaurant text, p_at timestamptz, p_total bigint)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_local timestamp;
BEGIN
    SELECT p_at AT TIME ZONE coalesce(r.time_zone, 'Europe/London')
      INTO v_local
      FROM restaurants r WHERE r.id = p_restaurant;
    IF NOT FOUND THEN
        v_local := p_at AT TIME ZONE 'Europe/London';
    END IF;
    INSERT INTO sales_hourly AS s (restaurant, day, hour, orders, gross)
    VALUES (p_restaurant, v_local::date, extract(hour FROM v_local)::smallint, 1, p_total)
    ON CONFLICT (restaurant, day, hour)
    DO UPDATE SET orders = s.orders + 1, gross = s.gross + EXCLUDED.gross;
END
$$;

-- Applies one stored event to every projection. Returns side effects
-- ({"emit": [{"event_type", "aggregate_id", "payload"}, ...]} or {}).
CREATE OR REPLACE FUNCTION fynsync_project(e events) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    p        jsonb := e.payload;
    v_old    orders%ROWTYPE;
    v_data   jsonb;
    v_status text;
    v_item   text;
    v_prev_level numeric;
    v_prev_thr   numeric;
    v_had_prev   boolean;
    v_level  numeric;
    v_thr    numeric;
    v_effects jsonb := '{}';
BEGIN
    -- Employee activity: everything a person or device wrote.
    IF NOT (e.created_by = 'hub' AND e.metadata->>'generated_by' = 'hub'
            AND NOT e.metadata ? 'client_id') THEN
        INSERT INTO employee_activity AS a (restaurant, created_by, events, orders, last_seen)
        VALUES (e.restaurant, e.created_by, 1,
                CASE WHEN e.event_type = 'order.created' THEN 1 ELSE 0 END, e.created_at)
        ON CONFLICT (restaurant, created_by) DO UPDATE
           SET events    = a.events + 1,
               orders    = a.orders + EXCLUDED.orders,
               last_seen = greatest(a.last_seen, EXCLUDED.last_seen);
    END IF;

    CASE e.event_type
    WHEN 'order.created' THEN
        v_data := jsonb_build_object('status', 'open', 'items', '[]'::jsonb) || p;
        v_status := v_data->>'status';
        INSERT INTO orders (restaurant, order_id, status, total, items, data,
                            created_seq, updated_seq, created_at, updated_at, completed_at)
        VALUES (e.restaurant, e.aggregate_id, v_status, (v_data->'total')::numeric::bigint,
                v_data->'items', v_data, e.seq, e.seq, e.created_at, e.created_at,
                CASE WHEN v_status = 'completed' THEN e.created_at END);
        IF v_status = 'completed' THEN
            PERFORM fynsync_project_sale(e.restaurant, e.created_at, (v_data->'total')::numeric::bigint);
        END IF;

    WHEN 'order.updated' THEN
        SELECT o.* INTO v_old FROM orders o
         WHERE o.restaurant = e.restaurant AND o.order_id = e.aggregate_id;
        IF FOUND THEN
            v_data := v_old.data || p;
            v_status := v_data->>'status';
            UPDATE orders o
               SET status = v_status,
                   total = (v_data->'total')::numeric::bigint,
                   items = v_data->'items',
                   data = v_data,
                   updated_seq = e.seq,
                   updated_at = e.created_at,
                   completed_at = CASE WHEN v_status = 'completed' AND v_old.status <> 'completed'
                                       THEN e.created_at ELSE o.completed_at END
             WHERE o.restaurant = e.restaurant AND o.order_id = e.aggregate_id;
            IF v_status = 'completed' AND v_old.status <> 'completed' THEN
                PERFORM fynsync_project_sale(e.restaurant, e.created_at, (v_data->'total')::numeric::bigint);
            END IF;
        END IF;

    WHEN 'menu.updated' THEN
        v_item := p->>'item_id';
        SELECT m.data INTO v_data FROM menu_items m
         WHERE m.restaurant = e.restaurant AND m.item_id = v_item;
        v_data := coalesce(v_data, '{}') || p;
        INSERT INTO menu_items AS m (restaurant, item_id, name, price, cost, available, data,
                                     updated_seq, updated_at)
        VALUES (e.restaurant, v_item,
                CASE WHEN jsonb_typeof(v_data->'name') = 'string' THEN v_data->>'name' END,
                CASE WHEN jsonb_typeof(v_data->'price') = 'number' THEN (v_data->'price')::numeric::bigint END,
                CASE WHEN jsonb_typeof(v_data->'cost') = 'number' THEN (v_data->'cost')::numeric::bigint END,
                CASE WHEN jsonb_typeof(v_data->'available') = 'boolean' THEN (v_data->'available')::boolean END,
                v_data, e.seq, e.created_at)
        ON CONFLICT (restaurant, item_id) DO UPDATE
           SET name = EXCLUDED.name, price = EXCLUDED.price, cost = EXCLUDED.cost,
               available = EXCLUDED.available, data = EXCLUDED.data,
               updated_seq = EXCLUDED.updated_seq, updated_at = EXCLUDED.updated_at;

    WHEN 'inventory.adjusted' THEN
        v_item := p->>'item_id';
        SELECT i.level, i.low_threshold INTO v_prev_level, v_prev_thr FROM inventory i
         WHERE i.restaurant = e.restaurant AND i.item_id = v_item;
        v_had_prev := FOUND;
        IF jsonb_typeof(p->'level') = 'number' THEN
            v_level := (p->'level')::numeric;
        ELSE
            v_level := coalesce(v_prev_level, 0) + (p->'delta')::numeric;
        END IF;
        IF p ? 'low_threshold' THEN
            v_thr := CASE WHEN jsonb_typeof(p->'low_threshold') = 'number'
                          THEN (p->'low_threshold')::numeric END;
        ELSE
            v_thr := v_prev_thr;
        END IF;
        INSERT INTO inventory AS i (restaurant, item_id, level, low_threshold, updated_seq, updated_at)
        VALUES (e.restaurant, v_item, v_level, v_thr, e.seq, e.created_at)
        ON CONFLICT (restaurant, item_id) DO UPDATE
           SET level = EXCLUDED.level, low_threshold = EXCLUDED.low_threshold,
               updated_seq = EXCLUDED.updated_seq, updated_at = EXCLUDED.updated_at;
        -- Low-stock alert on entering the low state: now at or below the
        -- threshold, and before not (no row, no threshold, or above it).
        IF v_thr IS NOT NULL AND v_level <= v_thr
           AND NOT (v_had_prev AND v_prev_thr IS NOT NULL AND v_prev_level <= v_prev_thr) THEN
            v_effects := jsonb_build_object('emit', jsonb_build_array(jsonb_build_object(
                'event_type',   'inventory.low',
                'aggregate_id', v_item,
                'payload',      jsonb_build_object('item_id', v_item, 'level', v_level,
                                                   'low_threshold', v_thr))));
        END IF;

    ELSE
        NULL;  -- other event types: stored as they are, no projection beyond employee activity
    END CASE;

    RETURN v_effects;
END
$$;

-- Recomputes every projection from the log. Blocks appends while it runs
-- (they wait on the restaurants lock, so there is no lock-order deadlock).
-- Uses DELETE rather than TRUNCATE so that a snapshot being read at the same
-- time (REPEATABLE READ) still sees the old, consistent projections.
-- Returns the number of events applied.
CREATE OR REPLACE FUNCTION fynsync_rebuild_projections() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    e events;
    n bigint := 0;
BEGIN
    LOCK TABLE restaurants IN EXCLUSIVE MODE;
    LOCK TABLE events IN SHARE MODE;
    DELETE FROM orders;
    DELETE FROM sales_hourly;
    DELETE FROM inventory;
    DELETE FROM menu_items;
    DELETE FROM employee_activity;
    FOR e IN SELECT * FROM events ORDER BY restaurant, seq LOOP
        PERFORM fynsync_project(e);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
