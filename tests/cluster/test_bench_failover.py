"""The load generator's list of URLs (issue 12): fynsync-bench --urls A,B
under load, node A killed with -9. Its clients move to B, the publishers
resubmit what A never answered (same ids: the hub is idempotent by id) and
the subscriber resumes from its last seq; the run must end with every
client on B, every accepted event confirmed once in seq order and the
store holding exactly the accepted events, gap-free."""

import json
import os
import subprocess
import time

import pytest

from harness import PLUGIN, Broker, Postgres

BENCH = os.environ.get("FYNSYNC_BENCH",
                       os.path.join(os.path.dirname(os.path.dirname(PLUGIN)), "tools", "fynsync-bench"))


@pytest.fixture
def two_nodes():
    pg = Postgres()
    secret = os.urandom(32).hex()
    nodes = []
    try:
        for _ in range(2):
            nodes.append(Broker(pg, secret=secret))
        yield pg, nodes
    finally:
        for b in nodes:
            b.destroy()
        pg.destroy()


def test_bench_clients_end_on_the_other_node_with_nothing_lost(two_nodes):
    pg, (a, b) = two_nodes
    url_a, url_b = f"mqtt://127.0.0.1:{a.port}", f"mqtt://127.0.0.1:{b.port}"
    bench = subprocess.Popen(
        [BENCH, "--urls", f"{url_a},{url_b}", "--secret-file", a.secret_file, "--restaurant", "fo",
         "--restaurants", "2", "--publishers", "4", "--rate", "200", "--duration", "6", "--drain-timeout", "20",
         "--id-prefix", "fo", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.5)   # connected to A (the first URL) and submitting
        a.kill9()
        out, err = bench.communicate(timeout=90)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    result = json.loads(out.strip().splitlines()[-1])
    assert bench.returncode == 0, (result["problems"], err)
    moved = result["failover"]
    assert moved["connected_at_end"] == {url_a: 0, url_b: 5}   # 4 publishers and the subscriber
    assert moved["reconnects"] >= 5
    assert result["unanswered"] == result["unconfirmed"] == 0
    assert result["accepted"] == result["sent"] and result["accepted"] > 500
    rows = pg.query("SELECT restaurant, count(*), count(DISTINCT id), min(seq), max(seq) FROM events "
                    "WHERE restaurant LIKE 'fo-%%' GROUP BY restaurant ORDER BY restaurant")
    assert [r[0] for r in rows] == ["fo-0", "fo-1"]
    assert sum(r[1] for r in rows) == result["accepted"]
    for _, count, distinct, first, last in rows:
        assert distinct == count and (first, last) == (1, count)
