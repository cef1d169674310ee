"""`./fynsync start`, `status` and `stop` as an operator runs them, in a var
directory of their own (FYNSYNC_VAR) on free ports.

Issue 11, defect 6: a broker killed with -9 stays a zombie until its parent
reaps it (forever under a PID 1 that does not reap); `start` then said
"broker already running" and exited 0 with no broker. A zombie, or a live
process that is not our mosquitto, is not a running broker."""

import ctypes
import os
import shutil
import signal
import subprocess
import time

import pytest

from harness import DEFAULT_ACL, PLUGIN, SOURCE_DIR, free_port, service_dir

FYNSYNC = os.path.join(SOURCE_DIR, "fynsync")
PR_SET_CHILD_SUBREAPER = 36


def set_subreaper(on):
    """While on, orphans of our descendants (the broker `start` leaves
    running) become our children and stay zombies until we reap them, as
    under a PID 1 that does not reap."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0, os.strerror(ctypes.get_errno())


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class Hub:
    def __init__(self):
        self.var = service_dir("fynsync-cli-")
        # Copies the service user can read wherever the checkout is.
        plugin = os.path.join(self.var, "fynsync.so")
        acl = os.path.join(self.var, "fynsync.acl")
        for src, dst in ((PLUGIN, plugin), (DEFAULT_ACL, acl)):
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)
        self.env = dict(os.environ, FYNSYNC_VAR=self.var, FYNSYNC_PLUGIN=plugin, FYNSYNC_ACL_FILE=acl,
                        FYNSYNC_MQTT_PORT=str(free_port()), FYNSYNC_WS_PORT=str(free_port()),
                        FYNSYNC_PG_PORT=str(free_port()))

    def run(self, *args):
        return subprocess.run([FYNSYNC, *args], env=self.env, capture_output=True, text=True, timeout=120)

    def broker_pid(self):
        with open(os.path.join(self.var, "mosquitto.pid")) as f:
            return int(f.read())

    def start_ok(self):
        done = self.run("start")
        assert done.returncode == 0, done.stderr
        assert "already running" not in done.stderr, done.stderr
        pid = self.broker_pid()
        assert proc_state(pid) != "Z"
        with open(f"/proc/{pid}/cmdline") as f:
            assert f.read().split("\0")[0] == "/usr/sbin/mosquitto"
        return pid


@pytest.fixture(scope="module")
def hub():
    set_subreaper(True)
    h = Hub()
    try:
        yield h
    finally:
        h.run("stop")
        set_subreaper(False)
        while True:   # reap what we adopted (brokers, PostgreSQL)
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break
        shutil.rmtree(h.var, ignore_errors=True)


def test_status_and_start_see_a_zombie_broker_as_stopped(hub):
    first = hub.start_ok()
    assert hub.run("status").returncode == 0
    os.kill(first, signal.SIGKILL)
    deadline = time.time() + 5
    while proc_state(first) != "Z":
        assert time.time() < deadline, "the killed broker did not become a zombie"
        time.sleep(0.05)

    status = hub.run("status")
    assert status.returncode == 3 and "broker: stopped" in status.stderr, status.stderr
    second = hub.start_ok()
    assert second != first
    assert proc_state(first) == "Z"   # still unreaped: start did not rely on it going away
    os.waitpid(first, 0)


def test_a_pid_file_naming_another_process_is_not_a_broker(hub):
    hub.run("stop")
    other = subprocess.Popen(["sleep", "60"])
    try:
        with open(os.path.join(hub.var, "mosquitto.pid"), "w") as f:
            f.write(str(other.pid))
        status = hub.run("status")
        assert status.returncode == 3 and "broker: stopped" in status.stderr, status.stderr
        broker = hub.start_ok()
        assert broker != other.pid
        hub.run("stop")
        assert other.poll() is None, "stop killed a process that was not the broker"
        with open(os.path.join(hub.var, "mosquitto.pid"), "w") as f:
            f.write(str(other.pid))
        hub.run("stop")
        assert other.poll() is None, "stop killed the process a stale pid file named"
    finally:
        other.kill()
        other.wait()
