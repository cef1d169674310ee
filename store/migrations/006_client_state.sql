-- 006_client_state: what the hub remembers about devices with persistent
-- MQTT sessions, so they never miss an event even when the broker (and its
-- in-memory sessions) is lost: per client, the filters it subscribed to and,
-- per stream, the last seq the hub has seen routed to it (a durable cursor).
-- The hub writes both in batches (fynsync_save_client_state) and, when such
-- a client connects, replays what its filters cover after its cursors.

CREATE TABLE IF NOT EXISTS client_cursors (
    client_id  text NOT NULL,
    stream     text NOT NULL,
    seq        bigint NOT NULL CHECK (seq >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, stream)
);

CREATE TABLE IF NOT EXISTS client_filters (
    client_id text NOT NULL,
    filter    text NOT NULL,
    PRIMARY KEY (client_id, filter)
);

-- ops: a JSON array applied in order, each one of
--   {"op": "forget",    "client_id": c}              (a clean-session connect)
--   {"op": "subscribe", "client_id": c, "filter": f}
--   {"op": "unsubscribe","client_id": c, "filter": f}
--   {"op": "start",     "client_id": c, "stream": s}     (first subscription: cursor at the head)
--   {"op": "cursor",    "client_id": c, "stream": s, "seq": n}   (never moves back)
CREATE OR REPLACE FUNCTION fynsync_save_client_state(ops jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    op jsonb;
BEGIN
    FOR op IN SELECT value FROM jsonb_array_elements(ops) LOOP
        CASE op->>'op'
        WHEN 'forget' THEN
            DELETE FROM client_cursors WHERE client_id = op->>'client_id';
            DELETE FROM client_filters WHERE client_id = op->>'client_id';
        WHEN 'subscribe' THEN
            INSERT INTO client_filters (client_id, filter)
            VALUES (op->>'client_id', op->>'filter') ON CONFLICT DO NOTHING;
        WHEN 'unsubscribe' THEN
            DELETE FROM client_filters WHERE client_id = op->>'client_id' AND filter = op->>'filter';
        WHEN 'start' THEN
            INSERT INTO client_cursors (client_id, stream, seq)
            SELECT op->>'client_id', op->>'stream',
                   coalesce((SELECT head FROM restaurants WHERE id = op->>'stream'), 0)
            ON CONFLICT DO NOTHING;
        WHEN 'cursor' THEN
            INSERT INTO client_cursors AS c (client_id, stream, seq)
            VALUES (op->>'client_id', op->>'stream', (op->>'seq')::bigint)
            ON CONFLICT (client_id, stream) DO UPDATE
               SET seq = greatest(c.seq, excluded.seq), updated_at = now();
        ELSE
            RAISE EXCEPTION 'unknown client state op %', op->>'op';
        END CASE;
    END LOOP;
END
$$;

-- The filters and cursors of one client: {"filters": [...], "cursors": {"r1": 12}}.
CREATE OR REPLACE FUNCTION fynsync_client_state(p_client_id text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'filters', coalesce((SELECT jsonb_agg(filter ORDER BY filter) FROM client_filters
                              WHERE client_id = p_client_id), '[]'::jsonb),
        'cursors', coalesce((SELECT jsonb_object_agg(stream, seq) FROM client_cursors
                              WHERE client_id = p_client_id), '{}'::jsonb))
$$;
