-- 005_time_zone_check: refuse an unknown restaurants.time_zone when it is
-- set, rather than letting every later append that completes an order in
-- that restaurant fail on it (sales are bucketed in that zone).
-- The default zone needs no check, which keeps the per-batch
-- INSERT ... ON CONFLICT of fynsync_append free of it.

CREATE OR REPLACE FUNCTION fynsync_check_time_zone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Raises 'time zone "..." not recognized' for an unknown zone.
    PERFORM now() AT TIME ZONE NEW.time_zone;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER restaurants_time_zone_check
    BEFORE INSERT OR UPDATE OF time_zone ON restaurants
    FOR EACH ROW WHEN (NEW.time_zone <> 'Europe/London')
    EXECUTE FUNCTION fynsync_check_time_zone();
