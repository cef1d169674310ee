-- helpers.sql: assertion and batch-building helpers for tests/sql/test_*.sql.
-- Loaded by run.sh into the test template database after the migrations;
-- not a migration, never shipped.

-- Raises when actual is distinct from expected (NULL-safe).
CREATE FUNCTION t_eq(actual anycompatible, expected anycompatible, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF actual IS DISTINCT FROM expected THEN
        RAISE EXCEPTION '%: expected %, got %', what,
            coalesce(expected::text, 'NULL'), coalesce(actual::text, 'NULL');
    END IF;
END
$$;

CREATE FUNCTION t_true(cond boolean, what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cond IS NOT TRUE THEN
        RAISE EXCEPTION 'assertion failed: %', what;
    END IF;
END
$$;

-- One batch element as the C side builds it.
CREATE FUNCTION t_el(p_restaurant text, p_type text, p_aggregate text, p_payload jsonb,
                     p_id uuid DEFAULT gen_random_uuid(), p_by text DEFAULT 'alice',
                     p_created_at text DEFAULT NULL, p_correlation uuid DEFAULT NULL,
                     p_metadata jsonb DEFAULT NULL, p_client text DEFAULT 'till-1',
                     p_idx int DEFAULT 0) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'idx', p_idx, 'restaurant', p_restaurant, 'created_by', p_by, 'client_id', p_client,
        'id', p_id, 'aggregate_id', p_aggregate, 'event_type', p_type,
        'correlation_id', p_correlation, 'payload', p_payload, 'metadata', p_metadata,
        'created_at', p_created_at)
$$;

-- A batch of elements, idx set to their position.
CREATE FUNCTION t_batch(VARIADIC els jsonb[]) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(e || jsonb_build_object('idx', n - 1) ORDER BY n), '[]')
      FROM unnest(els) WITH ORDINALITY AS u(e, n)
$$;

-- Appends one element alone and returns the first answer row as jsonb
-- ({"idx", "status", "code", "reason", "restaurant", "seq", "event"}).
CREATE FUNCTION t_one(el jsonb) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT to_jsonb(a) FROM fynsync_append(jsonb_build_array(el)) a LIMIT 1
$$;

-- Every answer row of a batch, in order, as a jsonb array.
CREATE FUNCTION t_all(batch jsonb) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(to_jsonb(a) - 'n' ORDER BY n), '[]')
      FROM fynsync_append(batch) WITH ORDINALITY AS a(idx, status, code, reason, restaurant, seq, event, n)
$$;
