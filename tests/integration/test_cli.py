"""`./fynsync start`, `status`, `stop` and `certs` as an operator runs them,
in a var directory of their own (FYNSYNC_VAR) on free ports.

Issue 11, TLS: the hub started from mosquitto.conf serves MQTT and MQTT over
WebSocket over TLS with the certificate `certs` made; a client that verifies
against that CA connects and submits, one with another CA is refused, and a
renewed certificate is served after a SIGHUP.

Issue 11, defect 6: a broker killed with -9 stays a zombie until its parent
reaps it (forever under a PID 1 that does not reap); `start` then said
"broker already running" and exited 0 with no broker. A zombie, or a live
process that is not our mosquitto, is not a running broker."""

import ctypes
import os
import shutil
import signal
import ssl
import subprocess
import time

import pytest

from harness import FYNSYNC, CliHub, Client, event, outside_environment, service_dir

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


class Hub(CliHub):
    """The CLI's hub with what these tests ask of it: TLS clients, start checks."""

    def tls_client(self, port_variable, transport, ca):
        c = Client(int(self.env[port_variable]), f"tls-{transport}-{port_variable[8:-5].lower()}",
                   transport=transport, ca_certs=ca)
        c.connect("tls-till", self.token())
        return c

    def running(self):
        """The broker's pid, started first unless it runs."""
        if self.run("status").returncode != 0:
            return self.start_ok()
        return self.broker_pid()

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


def test_start_waits_for_a_broker_slow_to_exec(hub):
    """Until setpriv and setsid have exec'd mosquitto the new pid runs one of
    them; `start` took that for a broker that had died, said so, exited 1
    and left the broker starting (seen by the chaos suite on a loaded
    machine). A setsid that takes 1 s makes it happen every time."""
    hub.run("stop")
    slow = service_dir("fynsync-cli-slow-")
    try:
        with open(os.path.join(slow, "setsid"), "w") as f:
            f.write('#!/bin/sh\nsleep 1\nexec /usr/bin/setsid "$@"\n')
        os.chmod(os.path.join(slow, "setsid"), 0o755)
        path = hub.env["PATH"]
        hub.env["PATH"] = f"{slow}:{path}"
        try:
            hub.start_ok()
        finally:
            hub.env["PATH"] = path
        assert hub.run("status").returncode == 0
    finally:
        shutil.rmtree(slow, ignore_errors=True)


TLS_LISTENERS = [("FYNSYNC_MQTTS_PORT", "tcp"), ("FYNSYNC_WSS_PORT", "websockets")]


@pytest.mark.parametrize("port_variable,transport", TLS_LISTENERS)
def test_tls_listener_verified_with_the_local_ca(hub, port_variable, transport):
    hub.running()
    till = hub.tls_client(port_variable, transport, hub.ca)
    try:
        ack = till.submit("r1", event())
        assert ack["status"] == "accepted", ack
    finally:
        till.close()


@pytest.fixture(scope="module")
def other_ca():
    """The CA of another `./fynsync certs`: it signed nothing the hub serves."""
    other = service_dir("fynsync-cli-other-")
    done = subprocess.run([FYNSYNC, "certs"], env=dict(outside_environment(), FYNSYNC_VAR=other),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    yield os.path.join(other, "tls", "ca.crt")
    shutil.rmtree(other, ignore_errors=True)


@pytest.mark.parametrize("port_variable,transport", TLS_LISTENERS)
def test_tls_listener_refused_with_another_ca(hub, other_ca, port_variable, transport):
    hub.running()
    with pytest.raises(ssl.SSLCertVerificationError):
        hub.tls_client(port_variable, transport, other_ca)


def test_renewed_certificate_served_after_sighup(hub, other_ca):
    broker = hub.running()
    old_ca = os.path.join(hub.var, "old-ca.crt")
    shutil.copyfile(hub.ca, old_ca)
    done = hub.run("certs", "--force")
    assert done.returncode == 0, done.stderr
    os.kill(broker, signal.SIGHUP)
    deadline = time.time() + 5
    for port_variable, transport in TLS_LISTENERS:
        while True:   # the reload happens in the broker's next loop
            try:
                hub.tls_client(port_variable, transport, hub.ca).close()
                break
            except ssl.SSLCertVerificationError:
                assert time.time() < deadline, f"{port_variable}: still the old certificate after SIGHUP"
                time.sleep(0.1)
        with pytest.raises(ssl.SSLCertVerificationError):
            hub.tls_client(port_variable, transport, old_ca)
    assert hub.broker_pid() == broker
