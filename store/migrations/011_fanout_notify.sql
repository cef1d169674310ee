-- 011_fanout_notify: wake every hub node when events are stored.
--
-- Cross-node fan-out (docs/scale.md): each node publishes every confirmed
-- event, whichever node stored it. The node reads them by seq from the event
-- log (fynsync_events_after); this notification only tells it to look now
-- instead of at its next periodic check, so a lost notification delays an
-- event and never loses it.
--
-- Channel fynsync_events, one notification per restaurant per INSERT
-- statement: "{restaurant} {highest seq inserted} {node}", where node is
-- the session's fynsync.node setting (each hub sets it on its writer
-- connections, so a node can tell its own commits from the others'; empty
-- for anyone else). Restaurant ids never contain spaces (topic levels are
-- [A-Za-z0-9_-]). The notification is sent at commit, and not at all when the
-- transaction rolls back.
CREATE OR REPLACE FUNCTION fynsync_notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fynsync_events',
                      n.restaurant || ' ' || max(n.seq) || ' ' || coalesce(current_setting('fynsync.node', true), ''))
       FROM new_events n
      GROUP BY n.restaurant;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS events_notify ON events;
CREATE TRIGGER events_notify AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION fynsync_notify_events();

-- Every stream and its head, for a node that (re)connects or checks for
-- notifications it may have missed. With started_at, also live_from: the
-- last seq recorded before it, where a node that started then begins its
-- live fan-out (events stored before are for resume; those stored since,
-- also before the node first reached the database, go out live). The walk
-- back from the head on (restaurant, seq) stops at the first older event.
CREATE OR REPLACE FUNCTION fynsync_heads(started_at timestamptz)
RETURNS TABLE(stream text, head bigint, live_from bigint)
LANGUAGE sql STABLE AS $$
    SELECT r.id, r.head,
           CASE WHEN started_at IS NOT NULL THEN
               coalesce((SELECT e.seq FROM events e
                          WHERE e.restaurant = r.id AND e.recorded_at < started_at
                          ORDER BY e.restaurant DESC, e.seq DESC LIMIT 1), 0)
           END
      FROM restaurants r
$$;
