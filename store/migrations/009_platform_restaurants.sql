-- 009_platform_restaurants: the platform snapshot lists every restaurant.
--
-- fynsync_snapshot('platform') gains `restaurants`: one entry per restaurant
-- stream with its head and today's sales (completed orders and gross, the
-- local day of the restaurant's time zone) and its open orders, so a
-- platform owner's dashboard can list the restaurants and resume each one
-- from its head. The hub sends that section only to clients that may read
-- every restaurant's events (plugin/control.c). Other streams' snapshots
-- are unchanged.
--
-- The projections of one stream move, unchanged, to
-- fynsync_snapshot_projections(text); fynsync_snapshot adds the list. Both
-- statements are safe to run again (tests/sql/run.sh applies every file
-- twice): the rename only happens while the new name does not exist.

DO $$
BEGIN
    IF to_regprocedure('fynsync_snapshot_projections(text)') IS NULL THEN
        ALTER FUNCTION fynsync_snapshot(text) RENAME TO fynsync_snapshot_projections;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION fynsync_restaurants_summary() RETURNS jsonb
LANGUAGE sql STABLE SET jit = off AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id',          r.id,
               'head',        r.head,
               'time_zone',   r.time_zone,
               'today',       to_char((now() AT TIME ZONE r.time_zone)::date, 'YYYY-MM-DD'),
               'orders',      coalesce(d.orders, 0),
               'gross',       coalesce(d.gross, 0),
               'open_orders', (SELECT count(*) FROM orders o
                                WHERE o.restaurant = r.id
                                  AND o.status NOT IN ('completed', 'cancelled')))
           ORDER BY r.id), '[]'::jsonb)
      FROM restaurants r
      LEFT JOIN sales_daily d
             ON d.restaurant = r.id AND d.day = (now() AT TIME ZONE r.time_zone)::date
     WHERE r.id <> 'platform'
$$;

CREATE OR REPLACE FUNCTION fynsync_snapshot(stream text) RETURNS jsonb
LANGUAGE sql STABLE SET jit = off AS $$
    SELECT fynsync_snapshot_projections(stream)
           || CASE WHEN stream = 'platform'
                   THEN jsonb_build_object('restaurants', fynsync_restaurants_summary())
                   ELSE '{}'::jsonb END
$$;
