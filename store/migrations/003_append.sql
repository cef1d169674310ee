-- 003_append: the write path. One call of fynsync_append(batch) per
-- group-committed batch; the caller's statement is the transaction.
--
-- fynsync_is_int: a JSON number that is a whole amount (money, minor units).
-- fynsync_is_uuid: text that PostgreSQL will accept as a uuid.
-- fynsync_check_envelope: the element's own shape (the C side validated it
--   already; this keeps one bad element from aborting the whole batch).
-- fynsync_check: the event rules of the protocol ("Event types and rules"),
--   judged against the projections. Returns (code, reason), both NULL when
--   the event may be stored. Rules are checks, never exceptions.
-- fynsync_append: see docs/store.md for the contract.

CREATE OR REPLACE FUNCTION fynsync_is_int(j jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_typeof(j) = 'number'
                    AND j::numeric = trunc(j::numeric)
                    AND abs(j::numeric) < 1e15, false)
$$;

CREATE OR REPLACE FUNCTION fynsync_is_uuid(t text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(t ~* '^[{]?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}[}]?$', false)
$$;

-- Reason the element cannot even be considered, or NULL.
CREATE OR REPLACE FUNCTION fynsync_check_envelope(el jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_typeof(el) IS DISTINCT FROM 'object'
            THEN 'each batch element must be a JSON object'
        WHEN jsonb_typeof(el->'id') IS DISTINCT FROM 'string' OR NOT fynsync_is_uuid(el->>'id')
            THEN 'id must be a UUID string'
        WHEN jsonb_typeof(el->'restaurant') IS DISTINCT FROM 'string' OR el->>'restaurant' = ''
            THEN 'restaurant must be a non-empty string'
        WHEN jsonb_typeof(el->'event_type') IS DISTINCT FROM 'string' OR el->>'event_type' = ''
            THEN 'event_type must be a non-empty string'
        WHEN jsonb_typeof(el->'aggregate_id') IS DISTINCT FROM 'string'
            THEN 'aggregate_id must be a string'
        WHEN jsonb_typeof(el->'created_by') IS DISTINCT FROM 'string' OR el->>'created_by' = ''
            THEN 'created_by must be a non-empty string'
        WHEN jsonb_typeof(el->'payload') IS DISTINCT FROM 'object'
            THEN 'payload must be a JSON object'
        WHEN coalesce(jsonb_typeof(el->'metadata'), 'null') NOT IN ('object', 'null')
            THEN 'metadata must be a JSON object or null'
        WHEN coalesce(jsonb_typeof(el->'correlation_id'), 'null') <> 'null'
             AND NOT (jsonb_typeof(el->'correlation_id') = 'string' AND fynsync_is_uuid(el->>'correlation_id'))
            THEN 'correlation_id must be a UUID string or null'
        WHEN coalesce(jsonb_typeof(el->'created_at'), 'null') <> 'null'
             AND NOT (jsonb_typeof(el->'created_at') = 'string'
                      AND el->>'created_at' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$')
            THEN 'created_at must be an RFC 3339 timestamp (e.g. 2026-11-28T12:00:00.123Z) or null'
        WHEN coalesce(jsonb_typeof(el->'client_id'), 'null') NOT IN ('string', 'null')
            THEN 'client_id must be a string or null'
    END
$$;

-- The rules. Shape problems (invalid) are reported before state problems (conflict).
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

    CASE p_event_type
    WHEN 'order.created', 'order.updated' THEN
        IF coalesce(p_aggregate_id, '') = '' THEN
            code := 'invalid'; reason := 'aggregate_id (the order id) must not be empty';
        ELSIF p_event_type = 'order.created' AND NOT p_payload ? 'total' THEN
            code := 'invalid'; reason := 'order.created needs total (integer, minor units)';
        ELSIF p_payload ? 'status' AND jsonb_typeof(p_payload->'status') IS DISTINCT FROM 'string' THEN
            code := 'invalid';
            reason := 'status must be a string: open, preparing, ready, completed or cancelled';
        ELSIF p_payload ? 'status'
              AND p_payload->>'status' NOT IN ('open', 'preparing', 'ready', 'completed', 'cancelled') THEN
            code := 'invalid';
            reason := format('status "%s" is not an order status (open, preparing, ready, completed, cancelled)',
                             p_payload->>'status');
        ELSIF p_payload ? 'total' AND NOT fynsync_is_int(p_payload->'total') THEN
            code := 'invalid';
            reason := 'total must be a whole number of minor units (pence), e.g. 1250';
        ELSIF p_payload ? 'items' AND jsonb_typeof(p_payload->'items') IS DISTINCT FROM 'array' THEN
            code := 'invalid'; reason := 'items must be an array';
        END IF;
        IF code IS NOT NULL THEN
            RETURN;
        END IF;

        SELECT o.status INTO v_status FROM orders o
         WHERE o.restaurant = p_restaurant AND o.order_id = p_aggregate_id;
        IF p_event_type = 'order.created' THEN
            IF FOUND THEN
                code := 'conflict'; reason := format('order %s already exists', p_aggregate_id);
            END IF;
        ELSIF NOT FOUND THEN
            code := 'conflict'; reason := format('order %s does not exist', p_aggregate_id);
        ELSIF v_status = 'completed' THEN
            code := 'conflict'; reason := format('order %s is completed', p_aggregate_id);
        END IF;

    WHEN 'menu.updated' THEN
        IF jsonb_typeof(p_payload->'item_id') IS DISTINCT FROM 'string' OR p_payload->>'item_id' = '' THEN
            code := 'invalid'; reason := 'menu.updated needs item_id (a non-empty string)';
        ELSIF coalesce(jsonb_typeof(p_payload->'name'), 'null') NOT IN ('string', 'null') THEN
            code := 'invalid'; reason := 'name must be a string';
        ELSIF coalesce(jsonb_typeof(p_payload->'price'), 'null') <> 'null' AND NOT fynsync_is_int(p_payload->'price') THEN
            code := 'invalid'; reason := 'price must be a whole number of minor units (pence), e.g. 1250';
        ELSIF coalesce(jsonb_typeof(p_payload->'cost'), 'null') <> 'null' AND NOT fynsync_is_int(p_payload->'cost') THEN
            code := 'invalid'; reason := 'cost must be a whole number of minor units (pence), e.g. 410';
        ELSIF coalesce(jsonb_typeof(p_payload->'available'), 'null') NOT IN ('boolean', 'null') THEN
            code := 'invalid'; reason := 'available must be true or false';
        END IF;

    WHEN 'inventory.adjusted' THEN
        IF jsonb_typeof(p_payload->'item_id') IS DISTINCT FROM 'string' OR p_payload->>'item_id' = '' THEN
            code := 'invalid'; reason := 'inventory.adjusted needs item_id (a non-empty string)';
        ELSIF p_payload ? 'level' AND p_payload ? 'delta' THEN
            code := 'invalid'; reason := 'inventory.adjusted takes either level (absolute) or delta (change), not both';
        ELSIF NOT (p_payload ? 'level' OR p_payload ? 'delta') THEN
            code := 'invalid'; reason := 'inventory.adjusted needs level (absolute) or delta (change)';
        ELSIF p_payload ? 'level' AND jsonb_typeof(p_payload->'level') IS DISTINCT FROM 'number' THEN
            code := 'invalid'; reason := 'level must be a number';
        ELSIF p_payload ? 'delta' AND jsonb_typeof(p_payload->'delta') IS DISTINCT FROM 'number' THEN
            code := 'invalid'; reason := 'delta must be a number';
        ELSIF coalesce(jsonb_typeof(p_payload->'low_threshold'), 'null') NOT IN ('number', 'null') THEN
            code := 'invalid'; reason := 'low_threshold must be a number (or null to remove it)';
        END IF;

    ELSE
        NULL;  -- any other type is stored as it is
    END CASE;
END
$$;

-- The batch. One output row per element, in array order, each followed by
-- the events the hub generated because of it (status 'generated', idx NULL).
CREATE OR REPLACE FUNCTION fynsync_append(batch jsonb)
RETURNS TABLE(idx int, status text, code text, reason text, restaurant text, seq bigint, event jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    el        jsonb;
    ord       bigint;
    v_id      uuid;
    v_r       text;
    v_seq     bigint;
    v_code    text;
    v_reason  text;
    v_meta    jsonb;
    v_ev      events;
    v_gen     events;
    v_effects jsonb;
    v_emit    jsonb;
BEGIN
    IF jsonb_typeof(batch) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'fynsync_append: batch must be a JSON array, not %', coalesce(jsonb_typeof(batch), 'NULL')
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

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

    FOR el, ord IN
        SELECT b.value, b.ordinality FROM jsonb_array_elements(batch) WITH ORDINALITY AS b(value, ordinality)
    LOOP
        idx := CASE WHEN jsonb_typeof(el->'idx') = 'number' THEN (el->>'idx')::numeric::int
                    ELSE ord::int - 1 END;
        status := 'rejected'; code := NULL; reason := NULL; seq := NULL; event := NULL;
        restaurant := CASE WHEN jsonb_typeof(el->'restaurant') = 'string' THEN el->>'restaurant' END;

        v_reason := fynsync_check_envelope(el);
        IF v_reason IS NOT NULL THEN
            code := 'invalid'; reason := v_reason;
            RETURN NEXT;
            CONTINUE;
        END IF;
        v_id := (el->>'id')::uuid;
        v_r := el->>'restaurant';

        -- Idempotency: a known id gets its original outcome.
        SELECT x.* INTO v_ev FROM events x WHERE x.id = v_id;
        IF FOUND THEN
            IF v_ev.restaurant = v_r THEN
                status := 'accepted'; seq := v_ev.seq;
                -- "retry": true marks an element an earlier attempt may have
                -- committed without the caller seeing the answer: hand the
                -- stored event, and the events generated right after it,
                -- back for fan-out (clients drop a seq they already have).
                IF el->'retry' = 'true'::jsonb THEN
                    event := fynsync_event_json(v_ev);
                    RETURN NEXT;
                    FOR v_gen IN
                        SELECT g.* FROM events g
                         WHERE g.restaurant = v_r AND g.seq > v_ev.seq AND g.seq <= v_ev.seq + 16
                           AND g.created_by = 'hub' AND g.metadata->>'cause' = v_id::text
                         ORDER BY g.seq
                    LOOP
                        idx := NULL; status := 'generated';
                        seq := v_gen.seq; event := fynsync_event_json(v_gen);
                        RETURN NEXT;
                    END LOOP;
                    CONTINUE;
                END IF;
            ELSE
                code := 'conflict';
                reason := format('id %s was already used for another event', v_id);
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT x.code, x.reason INTO v_code, v_reason FROM rejected_events x WHERE x.id = v_id;
        IF FOUND THEN
            code := v_code; reason := v_reason;
            RETURN NEXT;
            CONTINUE;
        END IF;

        -- The rules.
        SELECT c.code, c.reason INTO v_code, v_reason
          FROM fynsync_check(v_r, el->>'event_type', el->>'aggregate_id', el->'payload') c;
        IF v_code IS NOT NULL THEN
            IF v_code = 'conflict' THEN
                INSERT INTO rejected_events (id, restaurant, code, reason)
                VALUES (v_id, v_r, v_code, v_reason)
                ON CONFLICT (id) DO NOTHING;
            END IF;
            code := v_code; reason := v_reason;
            RETURN NEXT;
            CONTINUE;
        END IF;

        -- Accept: next seq of the stream (row already locked), store, project.
        v_meta := CASE WHEN jsonb_typeof(el->'metadata') = 'object' THEN el->'metadata' ELSE '{}' END
               || CASE WHEN jsonb_typeof(el->'client_id') = 'string'
                       THEN jsonb_build_object('client_id', el->>'client_id') ELSE '{}' END;
        UPDATE restaurants r SET head = r.head + 1 WHERE r.id = v_r RETURNING r.head INTO v_seq;
        INSERT INTO events (id, correlation_id, aggregate_id, event_type, payload, metadata,
                            created_at, created_by, restaurant, seq)
        VALUES (v_id, (el->>'correlation_id')::uuid, el->>'aggregate_id', el->>'event_type',
                el->'payload', v_meta,
                coalesce((el->>'created_at')::timestamptz, clock_timestamp()),
                el->>'created_by', v_r, v_seq)
        RETURNING * INTO v_ev;
        v_effects := fynsync_project(v_ev);

        status := 'accepted'; seq := v_seq; event := fynsync_event_json(v_ev);
        RETURN NEXT;

        -- Events the hub appends because of this one, each with the next seq.
        FOR v_emit IN SELECT x.value FROM jsonb_array_elements(coalesce(v_effects->'emit', '[]')) AS x(value) LOOP
            UPDATE restaurants r SET head = r.head + 1 WHERE r.id = v_r RETURNING r.head INTO v_seq;
            INSERT INTO events (id, correlation_id, aggregate_id, event_type, payload, metadata,
                                created_at, created_by, restaurant, seq)
            VALUES (gen_random_uuid(), coalesce(v_ev.correlation_id, v_ev.id),
                    v_emit->>'aggregate_id', v_emit->>'event_type', v_emit->'payload',
                    jsonb_build_object('generated_by', 'hub', 'cause', v_ev.id),
                    v_ev.created_at, 'hub', v_r, v_seq)
            RETURNING * INTO v_gen;
            PERFORM fynsync_project(v_gen);
            idx := NULL; status := 'generated'; code := NULL; reason := NULL;
            seq := v_seq; event := fynsync_event_json(v_gen);
            RETURN NEXT;
        END LOOP;
    END LOOP;
END
$$;
