"""The chaos suite's safety net. The hub fixture starts it detached (in a
session of its own and not its child, so neither a signal to the test's
process group nor ctest's timeout, which kills the test's process tree,
reaches it) with a pipe on its stdin: it waits until that pipe closes (the
test process ended, normally or killed), then ends the hub's broker and
PostgreSQL (procs.cleanup, which finds them by their var directory) and
removes the var directory.

usage: reaper.py VAR ENV_JSON   (ENV_JSON: the environment for ./fynsync stop)"""

import json
import shutil
import signal
import sys

import procs


def main():
    var, env_file = sys.argv[1], sys.argv[2]
    with open(env_file) as f:
        env = json.load(f)
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    sys.stdin.buffer.read()
    procs.cleanup(var, env)
    shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
