-- 001_events: the event log.
--
-- restaurants: one row per stream (every restaurant id, plus the stream
--   'platform'); head is the last seq handed out in that stream. The row is
--   also the lock that serialises appends to one stream, so seq stays
--   gap-free and agreed between several brokers sharing one database.
-- events: every accepted event, append-only, in the envelope of the wire
--   protocol plus restaurant/seq/recorded_at set by the hub.
-- rejected_events: ids rejected with `conflict`, so a resubmission gets the
--   original answer again (idempotency). `invalid` rejections are not kept:
--   they depend only on the submission itself.
-- fynsync_ts / fynsync_event_json: the one JSON form of a stored event, used
--   by the append (fan-out) and by replay.
--
-- Applied once by the hub's migration runner inside its transaction; written
-- so that running it again is harmless too.

CREATE TABLE IF NOT EXISTS restaurants (
    id        text PRIMARY KEY,
    head      bigint NOT NULL DEFAULT 0 CHECK (head >= 0),
    time_zone text NOT NULL DEFAULT 'Europe/London'
);

COMMENT ON TABLE restaurants IS 'one row per stream (restaurant id or ''platform''); head = last assigned seq';

CREATE TABLE IF NOT EXISTS events (
    id             uuid PRIMARY KEY,
    correlation_id uuid NULL,
    aggregate_id   text NOT NULL,
    event_type     text NOT NULL,
    payload        jsonb NOT NULL,
    metadata       jsonb NOT NULL,
    created_at     timestamptz NOT NULL,
    created_by     text NOT NULL,
    restaurant     text NOT NULL REFERENCES restaurants (id),
    seq            bigint NOT NULL CHECK (seq > 0),
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT events_restaurant_seq_key UNIQUE (restaurant, seq)
);

COMMENT ON TABLE events IS 'append-only event log; seq is gap-free per restaurant';

CREATE INDEX IF NOT EXISTS events_aggregate_created_idx ON events (aggregate_id, created_at);
CREATE INDEX IF NOT EXISTS events_correlation_idx ON events (correlation_id)
    WHERE correlation_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS rejected_events (
    id          uuid PRIMARY KEY,
    restaurant  text,
    code        text NOT NULL,
    reason      text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

COMMENT ON TABLE rejected_events IS 'ids rejected with conflict; a resubmission returns the stored answer';

-- ISO 8601 in UTC with milliseconds: 2026-11-28T12:00:00.123Z
CREATE OR REPLACE FUNCTION fynsync_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The stored event as published on the ev topics and in replay.
CREATE OR REPLACE FUNCTION fynsync_event_json(e events) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object(
        'id',             e.id,
        'aggregate_id',   e.aggregate_id,
        'event_type',     e.event_type,
        'correlation_id', e.correlation_id,
        'payload',        e.payload,
        'metadata',       e.metadata,
        'created_at',     fynsync_ts(e.created_at),
        'created_by',     e.created_by,
        'restaurant',     e.restaurant,
        'seq',            e.seq,
        'recorded_at',    fynsync_ts(e.recorded_at))
$$;
