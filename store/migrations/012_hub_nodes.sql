-- 012_hub_nodes.sql: what each hub node reports about itself, so that every
-- node can show the whole cluster: its metrics and alerts documents and its
-- presence messages (docs/store.md, "hub_nodes"). A node writes its own row
-- every few seconds and reads the others' in the same statement.

CREATE TABLE IF NOT EXISTS hub_nodes (
    node       text PRIMARY KEY,
    metrics    jsonb NOT NULL,
    alerts     jsonb NOT NULL,
    presence   jsonb NOT NULL,          -- {topic: payload} of the node's connected clients
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Saves p_node's report and returns every other node's last one, with
-- whether it is recent (within p_live_s seconds): a node that stopped
-- reporting (it died) is not live, and its presence no longer counts.
CREATE OR REPLACE FUNCTION fynsync_node_report(p_node text, p_metrics jsonb, p_alerts jsonb,
                                               p_presence jsonb, p_live_s int)
RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hub_nodes AS h (node, metrics, alerts, presence, updated_at)
    VALUES (p_node, p_metrics, p_alerts, p_presence, clock_timestamp())
    ON CONFLICT (node) DO UPDATE
        SET metrics = excluded.metrics, alerts = excluded.alerts, presence = excluded.presence,
            updated_at = excluded.updated_at;
    RETURN coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'node', n.node, 'metrics', n.metrics, 'alerts', n.alerts, 'presence', n.presence,
                   'live', n.updated_at > clock_timestamp() - make_interval(secs => p_live_s))
                   ORDER BY n.node)
          FROM hub_nodes n
         WHERE n.node <> p_node), '[]'::jsonb);
END
$$;
