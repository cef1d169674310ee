-- 015_one_definition_of_the_shape_rules: fynsync_check takes the built-in
-- types' shape rules from fynsync_builtin_shape (014) instead of its own copy.
--
-- Why: 014 wrote the shape checks of order.*, menu.updated and
-- inventory.adjusted again as one SQL expression, so that the append's run
-- statement could judge them inline; 003's fynsync_check kept the same
-- checks and reasons in PL/pgSQL beside it. Two copies of a rule drift. Now
-- there is one: fynsync_check asks fynsync_builtin_shape, then does what
-- only it does (the payload must be an object, the orders lookup for
-- order conflicts). Behaviour is unchanged: the same codes and reasons, in
-- the same order (every check of a type before its orders lookup), as the
-- SQL tests of 003's rules and test_cheaper_append.sql check. The append
-- does not call fynsync_check for the built-in types (014), so this costs
-- it nothing.

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
    IF p_event_type = 'order.created' THEN
        IF FOUND THEN
            code := 'conflict'; reason := format('order %s already exists', p_aggregate_id);
        END IF;
    ELSIF NOT FOUND THEN
        code := 'conflict'; reason := format('order %s does not exist', p_aggregate_id);
    ELSIF v_status = 'completed' THEN
        code := 'conflict'; reason := format('order %s is completed', p_aggregate_id);
    END IF;
END
$$;
