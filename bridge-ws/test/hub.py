#!/usr/bin/python3
"""test/hub.py: a real hub for the bridge-ws tests (node's test runner),
started with the integration tests' own harness (tests/integration/harness.py):
a throwaway PostgreSQL and mosquitto with the fynsync plugin, on free ports,
with the built pages served from the WebSocket listener (http_dir) when
given. With --nodes N, N brokers (node-0 .. node-{N-1}) on that one
database and one JWT secret. Prints one JSON line {"port", "ws_port",
"secret", "pid", "nodes": [{"name", "port", "ws_port", "pid"}]} when ready
(port, ws_port, pid: node 0's), then serves commands, one per line on
stdin, each answered by one JSON line:
  kill9 [K] / start [K]   SIGKILL broker K (default 0) / start it again (same ports)
  freeze / thaw           SIGSTOP / SIGCONT every PostgreSQL process
  stop                    stop everything and exit (also on EOF)

usage: hub.py [--http-dir DIR] [--max-replay N] [--nodes N] [--option KEY=VALUE ...]
(--option: more plugin_opt_ settings, e.g. alert_window=3)
Env: FYNSYNC_PLUGIN, FYNSYNC_SOURCE_DIR as for the integration tests."""

import argparse
import json
import os
import shutil
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))

from harness import Broker, Postgres, _chown, postgres_processes  # noqa: E402


class PageBroker(Broker):
    """The harness's broker, its WebSocket listener also serving http_dir."""

    def __init__(self, postgres, http_dir=None, **kwargs):
        self.http_dir = http_dir
        super().__init__(postgres, **kwargs)

    def _config(self):
        path = super()._config()
        if self.http_dir:
            with open(path) as f:
                lines = f.read().splitlines()
            at = lines.index(f"listener {self.ws_port} 127.0.0.1") + 2
            lines.insert(at, f"http_dir {self.http_dir}")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
        return path


def copy_pages(source, broker_dir):
    """A copy the service user can read (the checkout may be private)."""
    target = os.path.join(broker_dir, "www")
    shutil.copytree(source, target)
    for root, dirs, files in os.walk(target):
        os.chmod(root, 0o755)
        _chown(root)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
            _chown(os.path.join(root, name))
    return target


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-dir")
    parser.add_argument("--max-replay", type=int, default=50000)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--option", action="append", default=[])
    args = parser.parse_args()
    options = {"max_replay": args.max_replay}
    options.update(o.split("=", 1) for o in args.option)
    postgres = Postgres()
    brokers = []
    frozen = []
    www = None
    try:
        if args.http_dir:
            import tempfile
            holder = tempfile.mkdtemp(prefix="fynsync-pages-")
            os.chmod(holder, 0o755)
            www = copy_pages(args.http_dir, holder)
        secret = None
        for k in range(args.nodes):
            node = {"node_name": f"node-{k}"} if args.nodes > 1 else {}
            brokers.append(PageBroker(postgres, http_dir=www, options={**options, **node}, secret=secret))
            secret = brokers[0].secret
        nodes = [{"name": f"node-{k}", "port": b.port, "ws_port": b.ws_port, "pid": b.process.pid}
                 for k, b in enumerate(brokers)]
        print(json.dumps({"port": brokers[0].port, "ws_port": brokers[0].ws_port, "secret": secret,
                          "pid": brokers[0].process.pid, "nodes": nodes}), flush=True)
        for line in sys.stdin:
            command, *rest = line.split()
            broker = brokers[int(rest[0])] if rest else brokers[0]
            if command == "kill9":
                broker.kill9()
                print(json.dumps({"ok": True}), flush=True)
            elif command == "start":
                broker.start()
                print(json.dumps({"ok": True, "pid": broker.process.pid}), flush=True)
            elif command == "freeze":
                frozen = postgres_processes(postgres)
                for pid in frozen:
                    os.kill(pid, signal.SIGSTOP)
                print(json.dumps({"ok": True, "frozen": len(frozen)}), flush=True)
            elif command == "thaw":
                for pid in frozen:
                    os.kill(pid, signal.SIGCONT)
                frozen = []
                print(json.dumps({"ok": True}), flush=True)
            elif command == "stop":
                break
            else:
                print(json.dumps({"ok": False, "error": f"unknown command {command!r}"}), flush=True)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        for broker in brokers:
            broker.destroy()
        postgres.destroy()
        if www:
            shutil.rmtree(os.path.dirname(www), ignore_errors=True)


if __name__ == "__main__":
    main()
