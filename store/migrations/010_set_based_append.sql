-- 010_set_based_append: fynsync_append works on sets of events instead of
-- one event at a time.
--
-- Why: under full load PostgreSQL spent about 260 µs of CPU per event in
-- the row-by-row loop of 003 (docs/benchmarks.md, "Reading the numbers"):
-- per event one `UPDATE restaurants SET head = head + 1`, one INSERT into
-- events, one into orders, one employee_activity upsert, each a separate
-- statement, plus the PL/pgSQL work between them. Measured with
-- tests/load/append_batch.py (PostgreSQL alone, fsync=on, one connection,
-- batches of 256 order.created events over 4 streams, 60 batches, three
-- runs each, 2-vCPU VM shared with other jobs, load average 2.5-2.9):
-- before 28.0 / 29.9 / 30.7 ms per batch, 108-117 µs of backend CPU per
-- event; with this migration 20.9 / 22.4 / 22.4 ms, 79-86 µs per event.
-- What is left is mostly per row and not the loop's: parsing the batch's
-- JSON (about 6 µs), fynsync_check_envelope (6), fynsync_check (8), the
-- index entries of events and orders, and building each event's JSON.
--
-- How: the batch is cut, in array order, into runs in which no two elements
-- share an event id or a conflict key (fynsync_conflict_key: the order for
-- order.*, the item for menu.updated and for inventory.adjusted). Inside a
-- run the elements cannot affect each other's rules or projections, so one
-- statement per run judges all of them against the state left by the runs
-- before, assigns every stream's seqs at once (one head update per stream
-- per run), inserts the run's events in one INSERT and updates every
-- projection of the built-in types (orders, sales_hourly, menu_items,
-- inventory, employee_activity) once per run from the run's rows. Runs are
-- applied one after the other, so the answer is the one the loop of 003
-- gave: conflicts within a batch are still resolved in submission order (a
-- create and an update of one order in one batch are two runs), a
-- duplicate id in one batch gets its first outcome, seq follows array order.
-- A typical batch (distinct orders) is one run.
--
-- The rules are still fynsync_check (003); fynsync_project (002) is still
-- the projection of every event type other than the five the run statement
-- projects itself (order.created, order.updated, menu.updated,
-- inventory.adjusted, and the hub's inventory.low, which has none), called
-- per event at the end of its run, and the one rebuild uses. A migration adding an
-- event type with state-dependent rules gives it a key in
-- fynsync_conflict_key.

CREATE OR REPLACE FUNCTION fynsync_conflict_key(p_restaurant text, p_event_type text,
                                                p_aggregate_id text, p_payload jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_event_type IN ('order.created', 'order.updated')
            THEN 'order/' || p_restaurant || '/' || coalesce(p_aggregate_id, '')
        WHEN p_event_type = 'menu.updated'
            THEN 'menu/' || p_restaurant || '/' || coalesce(p_payload->>'item_id', '')
        WHEN p_event_type = 'inventory.adjusted'
            THEN 'inventory/' || p_restaurant || '/' || coalesce(p_payload->>'item_id', '')
    END
$$;

-- One answer row of a run, before it is returned: ord/sub order the rows
-- (sub 0 the element's own answer, 1.. the events generated after it);
-- project marks an accepted event whose projection is fynsync_project's.
DO $$
BEGIN
    CREATE TYPE fynsync_append_answer AS (
        ord int, sub int, idx int, status text, code text, reason text,
        restaurant text, seq bigint, event jsonb, project boolean);
EXCEPTION WHEN duplicate_object THEN
    NULL;
END
$$;

CREATE OR REPLACE FUNCTION fynsync_append(batch jsonb)
RETURNS TABLE(idx int, status text, code text, reason text, restaurant text, seq bigint, event jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n         int;
    run_start int := 1;
    cut       record;
    answers   fynsync_append_answer[] := '{}';
BEGIN
    IF jsonb_typeof(batch) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'fynsync_append: batch must be a JSON array, not %', coalesce(jsonb_typeof(batch), 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;
    n := jsonb_array_length(batch);

    -- Create the batch's streams if new and lock all of them, in id order, in
    -- one statement. Holding every stream row until commit serialises the
    -- rule checks and the seq assignment with other sessions (other brokers);
    -- a fixed lock order means two batches cannot deadlock on them.
    -- (DO UPDATE instead of DO NOTHING: it also locks rows that exist.)
    INSERT INTO restaurants AS r (id)
    SELECT DISTINCT b.value->>'restaurant'
      FROM jsonb_array_elements(batch) AS b(value)
     WHERE jsonb_typeof(b.value->'restaurant') = 'string' AND b.value->>'restaurant' <> ''
     ORDER BY 1
    ON CONFLICT (id) DO UPDATE SET head = r.head;

    -- Cut the batch into runs: an element whose id or conflict key already
    -- occurs in the current run starts a new one.
    FOR cut IN
        SELECT k.ord, greatest(k.prev_id, k.prev_key) AS prev
          FROM (SELECT e.ord,
                       CASE WHEN e.id_key IS NOT NULL
                            THEN lag(e.ord) OVER (PARTITION BY e.id_key ORDER BY e.ord) END AS prev_id,
                       CASE WHEN e.c_key IS NOT NULL
                            THEN lag(e.ord) OVER (PARTITION BY e.c_key ORDER BY e.ord) END AS prev_key
                  FROM (SELECT b.ordinality::int AS ord,
                               CASE WHEN jsonb_typeof(b.value->'id') = 'string'
                                    THEN lower(translate(b.value->>'id', '{}-', '')) END AS id_key,
                               CASE WHEN jsonb_typeof(b.value->'restaurant') = 'string'
                                         AND jsonb_typeof(b.value->'event_type') = 'string'
                                    THEN fynsync_conflict_key(b.value->>'restaurant', b.value->>'event_type',
                                                              b.value->>'aggregate_id', b.value->'payload') END AS c_key
                          FROM jsonb_array_elements(batch) WITH ORDINALITY AS b(value, ordinality)) e) k
         WHERE k.prev_id IS NOT NULL OR k.prev_key IS NOT NULL
         ORDER BY k.ord
    LOOP
        IF cut.prev >= run_start THEN
            answers := answers || fynsync_append_run(batch, run_start, cut.ord - 1);
            run_start := cut.ord;
        END IF;
    END LOOP;
    IF run_start <= n THEN
        answers := answers || fynsync_append_run(batch, run_start, n);
    END IF;

    RETURN QUERY
        SELECT a.idx, a.status, a.code, a.reason, a.restaurant, a.seq, a.event
          FROM unnest(answers) a
         ORDER BY a.ord, a.sub;
END
$$;

-- One run: elements lo..hi (1-based) of batch, no two sharing an id or a
-- conflict key, their streams locked by the caller. Judges, stores and
-- projects them in one statement and returns their answers.
CREATE OR REPLACE FUNCTION fynsync_append_run(batch jsonb, lo int, hi int)
RETURNS fynsync_append_answer[]
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    answers fynsync_append_answer[];
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
               CASE WHEN k.id IS NOT NULL THEN fynsync_event_json(k) END AS known_event,
               j.code AS rej_code, j.reason AS rej_reason
          FROM x
          LEFT JOIN events k ON k.id = (x.el->>'id')::uuid
          LEFT JOIN rejected_events j ON j.id = (x.el->>'id')::uuid
         WHERE x.bad IS NULL
    ),
    -- The rules, for elements not seen before (fynsync_check is not called
    -- for the others: a gating qual).
    c AS (
        SELECT v.*, ch.code AS rule_code, ch.reason AS rule_reason
          FROM v
          LEFT JOIN LATERAL (SELECT f.code, f.reason FROM fynsync_check(v.r, v.etype, v.agg, v.p) f
                              WHERE v.known_seq IS NULL AND v.rej_code IS NULL) ch ON true
    ),
    -- Accepted new events, with the state their projections start from.
    a0 AS (
        SELECT v.ord, v.idx, v.r, v.id, v.etype, v.agg, v.p, v.el,
               CASE WHEN jsonb_typeof(v.el->'metadata') = 'object' THEN v.el->'metadata' ELSE '{}' END
               || CASE WHEN jsonb_typeof(v.el->'client_id') = 'string'
                       THEN jsonb_build_object('client_id', v.el->>'client_id') ELSE '{}' END AS meta,
               coalesce((v.el->>'created_at')::timestamptz, clock_timestamp()) AS at,
               o.status AS old_status, o.data AS old_data,
               m.data AS menu_data,
               i.item_id IS NOT NULL AS inv_had, i.level AS inv_level, i.low_threshold AS inv_thr
          FROM c v
          LEFT JOIN orders o ON v.etype = 'order.updated' AND o.restaurant = v.r AND o.order_id = v.agg
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
    -- rows, so nothing needs to be read back from the insert).
    stored AS (
        SELECT a.ord, a.idx, a.r, a.etype, a.seq, 0 AS sub,
               ROW(a.id, (a.el->>'correlation_id')::uuid, a.agg, a.etype, a.p, a.meta,
                   a.at, a.el->>'created_by', a.r, a.seq, a.recorded)::events AS e
          FROM a
        UNION ALL
        SELECT a.ord, NULL, a.r, 'inventory.low', a.seq + 1, 1,
               ROW(a.gen_id, coalesce((a.el->>'correlation_id')::uuid, a.id), a.p->>'item_id', 'inventory.low',
                   jsonb_build_object('item_id', a.p->>'item_id', 'level', a.new_level, 'low_threshold', a.new_thr),
                   jsonb_build_object('generated_by', 'hub', 'cause', a.id),
                   a.at, 'hub', a.r, a.seq + 1, a.recorded)::events
          FROM a WHERE a.emits
    ),
    ins AS (
        INSERT INTO events (id, correlation_id, aggregate_id, event_type, payload, metadata,
                            created_at, created_by, restaurant, seq, recorded_at)
        SELECT (s.e).id, (s.e).correlation_id, (s.e).aggregate_id, (s.e).event_type, (s.e).payload,
               (s.e).metadata, (s.e).created_at, (s.e).created_by, (s.e).restaurant, (s.e).seq,
               (s.e).recorded_at
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
          FROM a, LATERAL (SELECT jsonb_build_object('status', 'open', 'items', '[]'::jsonb) || a.p AS data) d
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
        SELECT ROW(x.ord, 0, x.idx, 'rejected', 'invalid', x.bad, x.r, NULL, NULL, false)::fynsync_append_answer AS ans
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
                   false)::fynsync_append_answer
          FROM v WHERE v.known_seq IS NOT NULL OR v.rej_code IS NOT NULL
        UNION ALL
        SELECT ROW(v.ord, g.n::int, NULL, 'generated', NULL, NULL, v.r, g.seq, g.event, false)::fynsync_append_answer
          FROM v, LATERAL (SELECT e.seq, fynsync_event_json(e) AS event,
                                  row_number() OVER (ORDER BY e.seq) AS n
                             FROM events e
                            WHERE e.restaurant = v.r AND e.seq > v.known_seq AND e.seq <= v.known_seq + 16
                              AND e.created_by = 'hub' AND e.metadata->>'cause' = v.id::text) g
         WHERE v.known_r = v.r AND v.retry
        UNION ALL
        -- Refused by the rules.
        SELECT ROW(c.ord, 0, c.idx, 'rejected', c.rule_code, c.rule_reason, c.r, NULL, NULL, false)::fynsync_append_answer
          FROM c WHERE c.rule_code IS NOT NULL
        UNION ALL
        -- Stored now, and what the hub generated because of them.
        SELECT ROW(s.ord, s.sub, s.idx, CASE WHEN s.sub = 0 THEN 'accepted' ELSE 'generated' END, NULL, NULL,
                   s.r, s.seq, fynsync_event_json(s.e),
                   s.sub = 0 AND s.etype NOT IN ('order.created', 'order.updated', 'menu.updated',
                                                 'inventory.adjusted'))::fynsync_append_answer
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
