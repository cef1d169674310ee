"""The processes a chaos run starts, found and ended by what they are, never
by name: the broker is the pid in VAR/mosquitto.pid running
`/usr/sbin/mosquitto -c VAR/mosquitto.conf`, PostgreSQL the postmaster in
VAR/pg/data/postmaster.pid whose command line names that data directory, and
its children. A process that does not match is somebody else's and is left
alone.

Stdlib only: reaper.py imports this to clean up after a test process that
died (killed by a ctest timeout, say) before its own teardown ran."""

import os
import signal
import subprocess
import time

SOURCE_DIR = os.environ.get("FYNSYNC_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
FYNSYNC = os.path.join(SOURCE_DIR, "fynsync")
PG_SH = os.path.join(SOURCE_DIR, "tools", "cli", "pg.sh")
MOSQUITTO = "/usr/sbin/mosquitto"


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _alive(pid):
    """Running or stopped, not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _pid_in(path, line=0):
    try:
        with open(path) as f:
            return int(f.read().splitlines()[line])
    except (OSError, ValueError, IndexError):
        return None


def broker_pid(var):
    """Our broker's pid while it runs, else None."""
    pid = _pid_in(os.path.join(var, "mosquitto.pid"))
    config = os.path.join(var, "mosquitto.conf").encode()
    if pid and _alive(pid) and _cmdline(pid)[:3] == [MOSQUITTO.encode(), b"-c", config]:
        return pid
    return None


def postmaster_pid(var):
    """Our PostgreSQL server's pid while it runs (also while frozen), else None."""
    data = os.path.join(var, "pg", "data")
    pid = _pid_in(os.path.join(data, "postmaster.pid"))
    if pid and _alive(pid) and data.encode() in _cmdline(pid):
        return pid
    return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def cluster_pids(var):
    """The postmaster first, then its backends and helpers."""
    pid = postmaster_pid(var)
    return [pid] + children(pid) if pid else []


def freeze(var):
    """SIGSTOP the whole server: the postmaster first, so it forks no new
    backend, then every child. Returns the pids stopped."""
    pids = cluster_pids(var)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    # A child forked between the listing and the postmaster's stop.
    late = [p for p in children(pids[0]) if p not in pids] if pids else []
    for pid in late:
        os.kill(pid, signal.SIGSTOP)
    return pids + late


def thaw(var, pids=()):
    """SIGCONT the server (children first, the postmaster last)."""
    for pid in list(reversed(cluster_pids(var))) + list(pids):
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def reap(pid):
    """Collects pid's exit status if it became our child (we are a
    subreaper); a zombie of ours otherwise stays in the process table."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _wait_gone(find, var, seconds):
    deadline = time.time() + seconds
    while find(var) and time.time() < deadline:
        time.sleep(0.1)
    return find(var)


def cleanup(var, env):
    """Ends everything of this var directory: thaws PostgreSQL, runs
    `./fynsync stop`, then kills what still runs (SIGKILL for the broker,
    an immediate stop and then SIGKILL for PostgreSQL). Safe to repeat."""
    if not os.path.isdir(var):
        return
    thaw(var)
    broker, postmaster = broker_pid(var), postmaster_pid(var)
    try:
        subprocess.run([FYNSYNC, "stop"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=90)
    except subprocess.TimeoutExpired:
        pass
    pid = _wait_gone(broker_pid, var, 5)
    if pid:
        os.kill(pid, signal.SIGKILL)
    if postmaster_pid(var):
        subprocess.run([PG_SH, "stop", os.path.join(var, "pg"), "immediate"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    if _wait_gone(postmaster_pid, var, 5):
        for pid in cluster_pids(var):
            os.kill(pid, signal.SIGKILL)
    for pid in (broker, postmaster):
        if pid:
            reap(pid)
