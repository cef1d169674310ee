-- 018_one_definition_of_the_order_conflicts: the order conflicts (an
-- order.created for an order that exists, an order.updated for one that
-- does not or that is completed) are one SQL expression,
-- fynsync_order_conflict, which both the append's run statement and
-- fynsync_check use.
--
-- Why: 014 wrote these rules into the run statement's CASE, so that the
-- statement could judge them from the orders row it reads anyway for the
-- projection. fynsync_check (003, 015) kept its own copy in PL/pgSQL for
-- every other caller. Two copies of a rule drift, as 015 said of the shape
-- rules. Now the reasons are in one place.
--
-- Behaviour is unchanged: the same codes, reasons and order of checks
-- (shape first, then conflicts). The SQL tests of the order rules
-- (test_orders.sql, test_set_based.sql) and test_cheaper_append.sql, which
-- checks that fynsync_check and the append agree on every built-in case,
-- run against this. The function is STABLE (format() is), so the planner
-- inlines it into the run statement as it inlines fynsync_builtin_shape,
-- and the statement costs what it did. Measured on the 2-vCPU VM: backend
-- CPU per call, 2,000 calls of order.created in a psycopg2 loop, the two
-- run functions swapped in turn. 014's: 885-940 µs for batches of 1,
-- 1,075-1,120 for 3. This one's: 895-910 and 1,110-1,115.
-- This migration replaces the run function (014) whole; only its conflict
-- expression differs.
-- fynsync_append_json keeps 017's plan_cache_mode, because this does not
-- replace it.

-- The conflict of an order event with the order's current row (found, and
-- its status), or NULL: none, or not an order event.
CREATE OR REPLACE FUNCTION fynsync_order_conflict(p_event_type text, p_aggregate_id text,
                                                  p_found boolean, p_status text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_event_type = 'order.created' AND p_found
            THEN format('order %s already exists', p_aggregate_id)
        WHEN p_event_type = 'order.updated' AND NOT p_found
            THEN format('order %s does not exist', p_aggregate_id)
        WHEN p_event_type = 'order.updated' AND p_status = 'completed'
            THEN format('order %s is completed', p_aggregate_id)
    END
$$;

CREATE OR REPLACE FUNCTION fynsync_check(p_restaurant text, p_event_type text, p_aggregate_id text,
                                         p_payload jsonb, OUT code text, OUT reason text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_status text;
BEGIN
    IF jsonb_typeof(p_payload) IS DISTINCT FROM 'object' THEN
        code := 'invalid'; reason := 'payload must be a JSON object';
        RETURN;
    END IF;
    reason := fynsync_builtin_shape(p_event_type, p_aggregate_id, p_payload);
    IF reason IS NOT NULL THEN
        code := 'invalid';
        RETURN;
    END IF;
    IF p_event_type NOT IN ('order.created', 'order.updated') THEN
        RETURN;   -- menu and inventory have no conflicts; any other type is stored as it is
    END IF;

    SELECT o.status INTO v_status FROM orders o
     WHERE o.restaurant = p_restaurant AND o.order_id = p_aggregate_id;
    reason := fynsync_order_conflict(p_event_type, p_aggregate_id, FOUND, v_status);
    IF reason IS NOT NULL THEN
        code := 'conflict';
    END IF;
END
$$;

-- One run: elements lo..hi (1-based) of batch, no two sharing an id or a
-- conflict key, their streams locked by the caller. Judges, stores and
-- projects them in one statement and returns their answers.
CREATE OR REPLACE FUNCTION fynsync_append_json_run(batch jsonb, lo int, hi int)
RETURNS fynsync_append_json_answer[]
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    answers fynsync_append_json_answer[];
    v_ev    events;
BEGIN
    WITH
    -- The run's elements, with the envelope judged.
    x AS (
        SELECT b.ordinality::int AS ord, b.value AS el,
               CASE WHEN jsonb_typeof(b.value->'idx') = 'number' THEN (b.value->>'idx')::numeric::int
                    ELSE b.ordinality::int - 1 END AS idx,
               CASE WHEN jsonb_typeof(b.value->'restaurant') = 'string' THEN b.value->>'restaurant' END AS r,
               fynsync_check_envelope(b.value) AS bad
          FROM jsonb_array_elements(batch) WITH ORDINALITY AS b(value, ordinality)
         WHERE b.ordinality BETWEEN lo AND hi
    ),
    -- Valid elements with what is known about their id.
    v AS (
        SELECT x.ord, x.idx, x.r, x.el, (x.el->>'id')::uuid AS id,
               x.el->>'event_type' AS etype, x.el->>'aggregate_id' AS agg, x.el->'payload' AS p,
               x.el->'retry' = 'true'::jsonb AS retry,
               k.restaurant AS known_r, k.seq AS known_seq,
               CASE WHEN k.id IS NOT NULL THEN fynsync_event_text(k) END AS known_event,
               j.code AS rej_code, j.reason AS rej_reason
          FROM x
          LEFT JOIN events k ON k.id = (x.el->>'id')::uuid
          LEFT JOIN rejected_events j ON j.id = (x.el->>'id')::uuid
         WHERE x.bad IS NULL
    ),
    -- The rules, for elements not seen before: the built-in types' in this
    -- statement (the order's row read once, for fynsync_order_conflict and
    -- the projection), fynsync_check for the others. OFFSET 0 keeps the lateral
    -- subquery from being pulled up into the join, so its WHERE (outer
    -- values only) gates the call: without it fynsync_check ran for every
    -- element, as in 010, and the qual only filtered its result.
    c AS (
        SELECT w.*,
               CASE WHEN w.shape IS NOT NULL THEN 'invalid'
                    WHEN w.conflict IS NOT NULL THEN 'conflict'
                    ELSE ch.code END AS rule_code,
               coalesce(w.shape, w.conflict, ch.reason) AS rule_reason
          FROM (SELECT v.*, o.status AS old_status, o.data AS old_data, q.shape,
                       CASE WHEN v.known_seq IS NULL AND v.rej_code IS NULL AND q.shape IS NULL
                            THEN fynsync_order_conflict(v.etype, v.agg, o.order_id IS NOT NULL, o.status)
                       END AS conflict
                  FROM v
                  LEFT JOIN orders o ON v.etype IN ('order.created', 'order.updated') AND v.known_seq IS NULL
                                    AND v.rej_code IS NULL AND o.restaurant = v.r AND o.order_id = v.agg
                 CROSS JOIN LATERAL (SELECT CASE WHEN v.known_seq IS NULL AND v.rej_code IS NULL
                                                 THEN fynsync_builtin_shape(v.etype, v.agg, v.p) END AS shape) q) w
          LEFT JOIN LATERAL (SELECT f.code, f.reason FROM fynsync_check(w.r, w.etype, w.agg, w.p) f
                              WHERE w.known_seq IS NULL AND w.rej_code IS NULL
                                AND w.etype NOT IN ('order.created', 'order.updated', 'menu.updated',
                                                    'inventory.adjusted')
                             OFFSET 0) ch ON true
    ),
    -- Accepted new events, with the state their projections start from.
    a0 AS (
        SELECT v.ord, v.idx, v.r, v.id, v.etype, v.agg, v.p, v.el,
               CASE WHEN jsonb_typeof(v.el->'metadata') = 'object' THEN v.el->'metadata' ELSE '{}' END
               || CASE WHEN jsonb_typeof(v.el->'client_id') = 'string'
                       THEN jsonb_build_object('client_id', v.el->>'client_id') ELSE '{}' END AS meta,
               coalesce((v.el->>'created_at')::timestamptz, clock_timestamp()) AS at,
               v.old_status, v.old_data,
               m.data AS menu_data,
               i.item_id IS NOT NULL AS inv_had, i.level AS inv_level, i.low_threshold AS inv_thr
          FROM c v
          LEFT JOIN menu_items m ON v.etype = 'menu.updated' AND m.restaurant = v.r AND m.item_id = v.p->>'item_id'
          LEFT JOIN inventory i ON v.etype = 'inventory.adjusted' AND i.restaurant = v.r AND i.item_id = v.p->>'item_id'
         WHERE v.known_seq IS NULL AND v.rej_code IS NULL AND v.rule_code IS NULL
    ),
    -- Inventory: the new level and threshold, and whether it enters the low state.
    a1 AS (
        SELECT a0.*,
               CASE WHEN a0.etype <> 'inventory.adjusted' THEN NULL
                    WHEN jsonb_typeof(a0.p->'level') = 'number' THEN (a0.p->'level')::numeric
                    ELSE coalesce(a0.inv_level, 0) + (a0.p->'delta')::numeric END AS new_level,
               CASE WHEN a0.etype <> 'inventory.adjusted' THEN NULL
                    WHEN a0.p ? 'low_threshold' THEN
                        CASE WHEN jsonb_typeof(a0.p->'low_threshold') = 'number'
                             THEN (a0.p->'low_threshold')::numeric END
                    ELSE a0.inv_thr END AS new_thr
          FROM a0
    ),
    a2 AS (
        SELECT a1.*,
               (a1.etype = 'inventory.adjusted' AND a1.new_thr IS NOT NULL AND a1.new_level <= a1.new_thr
                AND NOT (a1.inv_had AND a1.inv_thr IS NOT NULL AND a1.inv_level <= a1.inv_thr)) AS emits,
               gen_random_uuid() AS gen_id, clock_timestamp() AS recorded
          FROM a1
    ),
    -- seq: the stream's head, then one per event in array order, the
    -- generated inventory.low right after its cause.
    a AS (
        SELECT a2.*,
               h.head + sum(1 + a2.emits::int) OVER (PARTITION BY a2.r ORDER BY a2.ord) - a2.emits::int AS seq
          FROM a2 JOIN restaurants h ON h.id = a2.r
    ),
    -- The run's events as stored (the answers are built from the same
    -- rows, so nothing needs to be read back from the insert), as columns:
    -- 010 kept an events row value here, which the insert and the event's
    -- text then took apart again field by field.
    stored AS (
        SELECT a.ord, a.idx, a.r, a.etype, a.seq, 0 AS sub,
               a.id, (a.el->>'correlation_id')::uuid AS correlation_id, a.agg, a.p AS payload, a.meta,
               a.at, a.el->>'created_by' AS created_by, a.recorded
          FROM a
        UNION ALL
        SELECT a.ord, NULL, a.r, 'inventory.low', a.seq + 1, 1,
               a.gen_id, coalesce((a.el->>'correlation_id')::uuid, a.id), a.p->>'item_id',
               jsonb_build_object('item_id', a.p->>'item_id', 'level', a.new_level, 'low_threshold', a.new_thr),
               jsonb_build_object('generated_by', 'hub', 'cause', a.id),
               a.at, 'hub', a.recorded
          FROM a WHERE a.emits
    ),
    ins AS (
        INSERT INTO events (id, correlation_id, aggregate_id, event_type, payload, metadata,
                            created_at, created_by, restaurant, seq, recorded_at)
        SELECT s.id, s.correlation_id, s.agg, s.etype, s.payload, s.meta, s.at, s.created_by, s.r, s.seq, s.recorded
          FROM stored s
    ),
    heads AS (
        UPDATE restaurants h SET head = h.head + t.used
          FROM (SELECT a.r, sum(1 + a.emits::int) AS used FROM a GROUP BY a.r) t
         WHERE h.id = t.r
    ),
    rejected AS (
        INSERT INTO rejected_events (id, restaurant, code, reason)
        SELECT c.id, c.r, c.rule_code, c.rule_reason FROM c WHERE c.rule_code = 'conflict'
        ON CONFLICT (id) DO NOTHING
    ),
    activity AS (
        INSERT INTO employee_activity AS e (restaurant, created_by, events, orders, last_seen)
        SELECT a.r, a.el->>'created_by', count(*), count(*) FILTER (WHERE a.etype = 'order.created'), max(a.at)
          FROM a
         WHERE a.etype IN ('order.created', 'order.updated', 'menu.updated', 'inventory.adjusted')
           AND NOT (a.el->>'created_by' = 'hub' AND a.meta->>'generated_by' = 'hub' AND NOT a.meta ? 'client_id')
         GROUP BY 1, 2
        ON CONFLICT (restaurant, created_by) DO UPDATE
           SET events    = e.events + EXCLUDED.events,
               orders    = e.orders + EXCLUDED.orders,
               last_seen = greatest(e.last_seen, EXCLUDED.last_seen)
    ),
    created AS (
        INSERT INTO orders (restaurant, order_id, status, total, items, data,
                            created_seq, updated_seq, created_at, updated_at, completed_at)
        SELECT a.r, a.agg, d.data->>'status', (d.data->'total')::numeric::bigint, d.data->'items', d.data,
               a.seq, a.seq, a.at, a.at, CASE WHEN d.data->>'status' = 'completed' THEN a.at END
          -- (the defaults merged only when a key is missing: the usual create
          -- sends both, and then the merge is the payload itself)
          FROM a, LATERAL (SELECT CASE WHEN a.p ? 'status' AND a.p ? 'items' THEN a.p
                                      ELSE jsonb_build_object('status', 'open', 'items', '[]'::jsonb) || a.p END AS data) d
         WHERE a.etype = 'order.created'
        RETURNING orders.restaurant, orders.completed_at AS at, orders.total
    ),
    updated AS (
        UPDATE orders o
           SET status = u.data->>'status',
               total = (u.data->'total')::numeric::bigint,
               items = u.data->'items',
               data = u.data,
               updated_seq = u.seq,
               updated_at = u.at,
               completed_at = CASE WHEN u.data->>'status' = 'completed' AND u.old_status <> 'completed'
                                   THEN u.at ELSE o.completed_at END
          FROM (SELECT a.r, a.agg, a.seq, a.at, a.old_status, a.old_data || a.p AS data
                  FROM a WHERE a.etype = 'order.updated' AND a.old_data IS NOT NULL) u
         WHERE o.restaurant = u.r AND o.order_id = u.agg
        RETURNING o.restaurant, u.at, o.total, o.status = 'completed' AND u.old_status <> 'completed' AS completes
    ),
    sales AS (
        INSERT INTO sales_hourly AS s (restaurant, day, hour, orders, gross)
        SELECT t.restaurant, t.local::date, extract(hour FROM t.local)::smallint, count(*), sum(t.total)
          FROM (SELECT done.restaurant, done.total,
                       done.at AT TIME ZONE coalesce(h.time_zone, 'Europe/London') AS local
                  FROM (SELECT created.restaurant, created.at, created.total FROM created WHERE created.at IS NOT NULL
                        UNION ALL
                        SELECT updated.restaurant, updated.at, updated.total FROM updated WHERE updated.completes) done
                  LEFT JOIN restaurants h ON h.id = done.restaurant) t
         GROUP BY 1, 2, 3
        ON CONFLICT (restaurant, day, hour)
        DO UPDATE SET orders = s.orders + EXCLUDED.orders, gross = s.gross + EXCLUDED.gross
    ),
    menu AS (
        INSERT INTO menu_items AS m (restaurant, item_id, name, price, cost, available, data,
                                     updated_seq, updated_at)
        SELECT a.r, a.p->>'item_id',
               CASE WHEN jsonb_typeof(d.data->'name') = 'string' THEN d.data->>'name' END,
               CASE WHEN jsonb_typeof(d.data->'price') = 'number' THEN (d.data->'price')::numeric::bigint END,
               CASE WHEN jsonb_typeof(d.data->'cost') = 'number' THEN (d.data->'cost')::numeric::bigint END,
               CASE WHEN jsonb_typeof(d.data->'available') = 'boolean' THEN (d.data->'available')::boolean END,
               d.data, a.seq, a.at
          FROM a, LATERAL (SELECT coalesce(a.menu_data, '{}') || a.p AS data) d
         WHERE a.etype = 'menu.updated'
        ON CONFLICT (restaurant, item_id) DO UPDATE
           SET name = EXCLUDED.name, price = EXCLUDED.price, cost = EXCLUDED.cost,
               available = EXCLUDED.available, data = EXCLUDED.data,
               updated_seq = EXCLUDED.updated_seq, updated_at = EXCLUDED.updated_at
    ),
    stock AS (
        INSERT INTO inventory AS i (restaurant, item_id, level, low_threshold, updated_seq, updated_at)
        SELECT a.r, a.p->>'item_id', a.new_level, a.new_thr, a.seq, a.at
          FROM a WHERE a.etype = 'inventory.adjusted'
        ON CONFLICT (restaurant, item_id) DO UPDATE
           SET level = EXCLUDED.level, low_threshold = EXCLUDED.low_threshold,
               updated_seq = EXCLUDED.updated_seq, updated_at = EXCLUDED.updated_at
    )
    SELECT array_agg(ans) INTO answers FROM (
        -- Envelope problems.
        SELECT ROW(x.ord, 0, x.idx, 'rejected', 'invalid', x.bad, x.r, NULL, NULL, false)::fynsync_append_json_answer AS ans
          FROM x WHERE x.bad IS NOT NULL
        UNION ALL
        -- Known ids: the original outcome; with "retry": true the stored
        -- event and the events generated right after it, for fan-out again
        -- (an earlier attempt may have committed unseen; clients drop a seq
        -- they already have).
        SELECT ROW(v.ord, 0, v.idx,
                   CASE WHEN v.known_seq IS NOT NULL AND v.known_r = v.r THEN 'accepted' ELSE 'rejected' END,
                   CASE WHEN v.known_seq IS NOT NULL AND v.known_r = v.r THEN NULL
                        WHEN v.known_seq IS NOT NULL THEN 'conflict' ELSE v.rej_code END,
                   CASE WHEN v.known_seq IS NOT NULL AND v.known_r = v.r THEN NULL
                        WHEN v.known_seq IS NOT NULL THEN format('id %s was already used for another event', v.id)
                        ELSE v.rej_reason END,
                   v.r,
                   CASE WHEN v.known_r = v.r THEN v.known_seq END,
                   CASE WHEN v.known_r = v.r AND v.retry THEN v.known_event END,
                   false)::fynsync_append_json_answer
          FROM v WHERE v.known_seq IS NOT NULL OR v.rej_code IS NOT NULL
        UNION ALL
        SELECT ROW(v.ord, g.n::int, NULL, 'generated', NULL, NULL, v.r, g.seq, g.event, false)::fynsync_append_json_answer
          FROM v, LATERAL (SELECT e.seq, fynsync_event_text(e) AS event,
                                  row_number() OVER (ORDER BY e.seq) AS n
                             FROM events e
                            WHERE e.restaurant = v.r AND e.seq > v.known_seq AND e.seq <= v.known_seq + 16
                              AND e.created_by = 'hub' AND e.metadata->>'cause' = v.id::text) g
         WHERE v.known_r = v.r AND v.retry
        UNION ALL
        -- Refused by the rules.
        SELECT ROW(c.ord, 0, c.idx, 'rejected', c.rule_code, c.rule_reason, c.r, NULL, NULL, false)::fynsync_append_json_answer
          FROM c WHERE c.rule_code IS NOT NULL
        UNION ALL
        -- Stored now, and what the hub generated because of them.
        SELECT ROW(s.ord, s.sub, s.idx, CASE WHEN s.sub = 0 THEN 'accepted' ELSE 'generated' END, NULL, NULL,
                   s.r, s.seq,
                   fynsync_event_text(ROW(s.id, s.correlation_id, s.agg, s.etype, s.payload, s.meta,
                                          s.at, s.created_by, s.r, s.seq, s.recorded)::events),
                   s.sub = 0 AND s.etype NOT IN ('order.created', 'order.updated', 'menu.updated',
                                                 'inventory.adjusted'))::fynsync_append_json_answer
          FROM stored s
    ) s;

    -- Projections of the other event types, in seq order.
    FOR v_ev IN
        SELECT e.* FROM unnest(answers) a JOIN events e ON e.restaurant = a.restaurant AND e.seq = a.seq
         WHERE a.project
         ORDER BY a.ord
    LOOP
        PERFORM fynsync_project(v_ev);
    END LOOP;
    RETURN coalesce(answers, '{}');
END
$$;
