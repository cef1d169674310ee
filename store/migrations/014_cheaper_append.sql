-- 014_cheaper_append: the same append with less PostgreSQL work per event.
--
-- Why: in the throughput benchmark (8 publishers over 4 restaurants,
-- window 250, fsync on) PostgreSQL spent 96-97 µs of CPU per event, more
-- than the broker (57) and the load generator (37) together with the
-- machine saturated, so it bounds the rate. pg_stat_statements and perf
-- on the writer's backend (docs/benchmarks.md, "PostgreSQL's cost per
-- event in the append") showed the run's one statement at about 80 µs per
-- event, within it fynsync_check called for every element (its orders
-- lookup ran 15,360 times for 15,360 events, although 010 meant to gate it),
-- the event built as a jsonb object and printed again as text by the
-- hub's query, and per event an index insertion nothing reads (and a
-- foreign-key trigger lookup, 1.7 µs, kept: see below).
--
-- Measured (2-vCPU VM shared with other jobs, alternated pairs, load
-- average 2-5): tests/load/append_batch.py, the writer's query alone,
-- batch 256 over 4 streams: 92.4 / 85.9 -> 74.2 / 74.2 µs of backend CPU
-- per event; batch 64: 103.9 / 109.4 -> 85.9 / 85.9; batch 1: 710-840
-- both ways (per call, not per event: planning the run's statement).
-- run_bench.py throughput A/B (--restaurants 4 --window 250): PostgreSQL
-- 96.0 / 96.7 -> 85.9 / 84.9 µs per event with other jobs taking about 30 %
-- of the machine, 130.1 / 135.4 -> 112.2 / 93.3 with them at 40-48 %.
--
-- What changed (the contract, docs/store.md, is the same):
-- * The rules of the built-in types (order.created, order.updated,
--   menu.updated, inventory.adjusted) are judged inside the run's statement:
--   fynsync_builtin_shape is one SQL expression (inlined by the planner) and
--   the order conflicts come from the same orders row the projection reads.
--   fynsync_check (a PL/pgSQL function returning a row, with its own orders
--   lookup) is still the rule of every other event type (a migration
--   adding a type redefines it, docs/architecture.md) and is called only
--   for those; test_cheaper_append.sql checks that both say the same for
--   the built-in types.
-- * The answer's event is built as text in the form jsonb prints
--   (fynsync_event_text: keys in jsonb's order, the same separators),
--   typed json, instead of a jsonb object the hub's query printed again.
--   The hub calls fynsync_append_json, whose event column is json: the
--   bytes it fans out are the ones before and replay's
--   (fynsync_event_json). fynsync_append keeps its jsonb answer for every
--   other caller, on top of it.
-- * The run's stored events are columns, not an events row value that the
--   insert and the text took apart again; an order.created that has
--   status and items is its own merged data (no defaults to merge).
-- * events loses a per-row cost nothing reads back: the index on
--   (aggregate_id, created_at) (no query of the hub uses it; one more
--   B-tree insertion of a text key per event). The foreign key to
--   restaurants stays: its 1.7 µs per event (about 2 % of the append)
--   buys a log that cannot hold an event of no restaurant, whoever writes
--   to it (the measured figures above were taken without it; with it add
--   those 1.7 µs).

DROP INDEX IF EXISTS events_aggregate_created_idx;

-- The shape rules of the built-in types: the reason an element is invalid,
-- or NULL. The same checks and reasons as fynsync_check (003), as one
-- expression; NULL for any other type (fynsync_check judges those).
CREATE OR REPLACE FUNCTION fynsync_builtin_shape(p_event_type text, p_aggregate_id text, p_payload jsonb)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN p_event_type IN ('order.created', 'order.updated') THEN
            CASE
                WHEN coalesce(p_aggregate_id, '') = ''
                    THEN 'aggregate_id (the order id) must not be empty'
                WHEN p_event_type = 'order.created' AND NOT p_payload ? 'total'
                    THEN 'order.created needs total (integer, minor units)'
                WHEN p_payload ? 'status' AND jsonb_typeof(p_payload->'status') IS DISTINCT FROM 'string'
                    THEN 'status must be a string: open, preparing, ready, completed or cancelled'
                WHEN p_payload ? 'status'
                     AND p_payload->>'status' NOT IN ('open', 'preparing', 'ready', 'completed', 'cancelled')
                    THEN format('status "%s" is not an order status (open, preparing, ready, completed, cancelled)',
                                p_payload->>'status')
                WHEN p_payload ? 'total' AND NOT fynsync_is_int(p_payload->'total')
                    THEN 'total must be a whole number of minor units (pence), e.g. 1250'
                WHEN p_payload ? 'items' AND jsonb_typeof(p_payload->'items') IS DISTINCT FROM 'array'
                    THEN 'items must be an array'
            END
        WHEN p_event_type = 'menu.updated' THEN
            CASE
                WHEN jsonb_typeof(p_payload->'item_id') IS DISTINCT FROM 'string' OR p_payload->>'item_id' = ''
                    THEN 'menu.updated needs item_id (a non-empty string)'
                WHEN coalesce(jsonb_typeof(p_payload->'name'), 'null') NOT IN ('string', 'null')
                    THEN 'name must be a string'
                WHEN coalesce(jsonb_typeof(p_payload->'price'), 'null') <> 'null' AND NOT fynsync_is_int(p_payload->'price')
                    THEN 'price must be a whole number of minor units (pence), e.g. 1250'
                WHEN coalesce(jsonb_typeof(p_payload->'cost'), 'null') <> 'null' AND NOT fynsync_is_int(p_payload->'cost')
                    THEN 'cost must be a whole number of minor units (pence), e.g. 410'
                WHEN coalesce(jsonb_typeof(p_payload->'available'), 'null') NOT IN ('boolean', 'null')
                    THEN 'available must be true or false'
            END
        WHEN p_event_type = 'inventory.adjusted' THEN
            CASE
                WHEN jsonb_typeof(p_payload->'item_id') IS DISTINCT FROM 'string' OR p_payload->>'item_id' = ''
                    THEN 'inventory.adjusted needs item_id (a non-empty string)'
                WHEN p_payload ? 'level' AND p_payload ? 'delta'
                    THEN 'inventory.adjusted takes either level (absolute) or delta (change), not both'
                WHEN NOT (p_payload ? 'level' OR p_payload ? 'delta')
                    THEN 'inventory.adjusted needs level (absolute) or delta (change)'
                WHEN p_payload ? 'level' AND jsonb_typeof(p_payload->'level') IS DISTINCT FROM 'number'
                    THEN 'level must be a number'
                WHEN p_payload ? 'delta' AND jsonb_typeof(p_payload->'delta') IS DISTINCT FROM 'number'
                    THEN 'delta must be a number'
                WHEN coalesce(jsonb_typeof(p_payload->'low_threshold'), 'null') NOT IN ('number', 'null')
                    THEN 'low_threshold must be a number (or null to remove it)'
            END
    END
$$;

-- The stored event as fynsync_event_json prints it (jsonb's key order:
-- shorter keys first, then bytewise; ": " and ", " between), built as text.
CREATE OR REPLACE FUNCTION fynsync_event_text(e events) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ('{"id": "' || e.id || '", "seq": ' || e.seq
            || ', "payload": ' || e.payload::text || ', "metadata": ' || e.metadata::text
            || ', "created_at": "' || fynsync_ts(e.created_at) || '", "created_by": ' || to_json(e.created_by)::text
            || ', "event_type": ' || to_json(e.event_type)::text || ', "restaurant": ' || to_json(e.restaurant)::text
            || ', "recorded_at": "' || fynsync_ts(e.recorded_at) || '", "aggregate_id": ' || to_json(e.aggregate_id)::text
            || ', "correlation_id": ' || coalesce('"' || e.correlation_id || '"', 'null') || '}')::json
$$;

-- One answer row of a run, as fynsync_append_answer (010) with the event
-- as json text.
DO $$
BEGIN
    CREATE TYPE fynsync_append_json_answer AS (
        ord int, sub int, idx int, status text, code text, reason text,
        restaurant text, seq bigint, event json, project boolean);
EXCEPTION WHEN duplicate_object THEN
    NULL;
END
$$;

-- 010's run and its answer type are replaced by the ones below.
DROP FUNCTION IF EXISTS fynsync_append_run(jsonb, int, int);
DROP TYPE IF EXISTS fynsync_append_answer;

-- fynsync_append with each event as json text, the bytes the hub fans out
-- (store.c calls this one; the rows are fynsync_append's).
CREATE OR REPLACE FUNCTION fynsync_append_json(batch jsonb)
RETURNS TABLE(idx int, status text, code text, reason text, restaurant text, seq bigint, event json)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n         int;
    run_start int := 1;
    cut       record;
    answers   fynsync_append_json_answer[] := '{}';
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
            answers := answers || fynsync_append_json_run(batch, run_start, cut.ord - 1);
            run_start := cut.ord;
        END IF;
    END LOOP;
    IF run_start <= n THEN
        answers := answers || fynsync_append_json_run(batch, run_start, n);
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
    -- statement (the order's row read once, for the rule and the
    -- projection), fynsync_check for the others. OFFSET 0 keeps the lateral
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
                       CASE WHEN v.known_seq IS NOT NULL OR v.rej_code IS NOT NULL OR q.shape IS NOT NULL THEN NULL
                            WHEN v.etype = 'order.created' AND o.order_id IS NOT NULL
                                THEN format('order %s already exists', v.agg)
                            WHEN v.etype = 'order.updated' AND o.order_id IS NULL
                                THEN format('order %s does not exist', v.agg)
                            WHEN v.etype = 'order.updated' AND o.status = 'completed'
                                THEN format('order %s is completed', v.agg)
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

-- The append of the contract (docs/store.md), each event as jsonb.
CREATE OR REPLACE FUNCTION fynsync_append(batch jsonb)
RETURNS TABLE(idx int, status text, code text, reason text, restaurant text, seq bigint, event jsonb)
LANGUAGE sql AS $$
    SELECT a.idx, a.status, a.code, a.reason, a.restaurant, a.seq, a.event::jsonb
      FROM fynsync_append_json(batch) a
$$;
