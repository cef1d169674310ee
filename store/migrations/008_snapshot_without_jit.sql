-- 008_snapshot_without_jit: snapshots are small, many-table reads; do not
-- let PostgreSQL's JIT compiler take part.
--
-- With 100,000 open orders in one restaurant, the cost estimate of a
-- snapshot of another, empty restaurant crossed jit_above_cost and JIT
-- compilation alone took about 0.5 s of a 0.53-0.93 s answer; with JIT off
-- the same snapshot takes 23 ms (docs/benchmarks.md, "Replay").
ALTER FUNCTION fynsync_snapshot(text) SET jit = off;
