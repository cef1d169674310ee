"""Real components for integration tests: a throwaway PostgreSQL 15 cluster,
a mosquitto broker with the fynsync plugin, token minting and MQTT clients.

Everything runs on free loopback ports found at run time and is stopped by
the fixtures. As root, PostgreSQL and mosquitto run as the unprivileged
`fynsync` user (PostgreSQL refuses root); PostgreSQL through
tools/cli/pg.sh, as `./fynsync start` runs it."""

import json
import os
import pwd
import queue
import random
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import uuid

import jwt
import paho.mqtt.client as mqtt
import psycopg2

SOURCE_DIR = os.environ.get("FYNSYNC_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
PLUGIN = os.environ.get("FYNSYNC_PLUGIN", os.path.join(SOURCE_DIR, "build", "plugin", "fynsync.so"))
PG_BIN = "/usr/lib/postgresql/15/bin"
PG_SH = os.path.join(SOURCE_DIR, "tools", "cli", "pg.sh")
FYNSYNC = os.path.join(SOURCE_DIR, "fynsync")
SERVICE_USER = "fynsync"
DEFAULT_ACL = os.path.join(SOURCE_DIR, "acl", "fynsync.acl")
# FYNSYNC_VALGRIND=1 runs every broker under memcheck; errors (including
# definite leaks at exit) make mosquitto exit 99, which assert_clean_exit
# reports. tests/valgrind/mosquitto.supp silences mosquitto's own leaks.
VALGRIND = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
            "--track-origins=yes"] if os.environ.get("FYNSYNC_VALGRIND") == "1" else []
VALGRIND_SUPPRESSIONS = os.path.join(SOURCE_DIR, "tests", "valgrind", "mosquitto.supp")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quiet_port():
    """A free loopback port below the kernel's range for outgoing connections,
    so that none takes it before a later bind: for hubs whose ports are
    fixed before they start (./fynsync), and again at each restart."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    while True:
        port = random.randint(max(1024, ephemeral - 12000), ephemeral - 1)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue


def _is_root():
    return os.geteuid() == 0


def _ensure_service_user():
    if not _is_root():
        return
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--home-dir", "/nonexistent", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", SERVICE_USER], check=True)


def _chown(path):
    if _is_root():
        shutil.chown(path, SERVICE_USER, SERVICE_USER)


def _wait_port(port, timeout, alive=lambda: True):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not alive():
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Postgres:
    """A private PostgreSQL cluster in a temporary directory, run by
    tools/cli/pg.sh (the hub's own cluster helper). settings are the server
    settings of every start; a subclass may change them."""

    settings = {"fsync": "off", "max_connections": "50", "shared_buffers": "64MB"}

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fynsync-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = int(self._pg("up", "auto", "fynsync", *self._settings()))

    def _settings(self):
        return [f"{k}={v}" for k, v in self.settings.items()]

    def _pg(self, command, *args, check=True):
        done = subprocess.run([PG_SH, command, self.dir, *args], check=check,
                              stdout=subprocess.PIPE, text=True)
        return done.stdout.strip()

    @property
    def conninfo(self):
        return f"host=127.0.0.1 port={self.port} dbname=fynsync user=fynsync"

    def start(self):
        self._pg("start", str(self.port), *self._settings())

    def stop(self, mode="fast"):
        self._pg("stop", mode, check=False)

    def connect(self):
        conn = psycopg2.connect(self.conninfo)
        conn.autocommit = True
        return conn

    def query(self, sql, *params):
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall() if cur.description else []
        conn.close()
        return rows

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_processes(postgres):
    """The postmaster and every process it started (the backends serving the
    hub's connections among them)."""
    with open(os.path.join(postgres.data, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                        pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return pids


class Broker:
    """mosquitto with the fynsync plugin, configured like mosquitto.conf."""

    def __init__(self, postgres, options=None, acl_file=DEFAULT_ACL, secret=None):
        _ensure_service_user()
        self.postgres = postgres
        self.dir = tempfile.mkdtemp(prefix="fynsync-broker-")
        os.chmod(self.dir, 0o755)
        self.secret = secret or os.urandom(32).hex()
        self.secret_file = os.path.join(self.dir, "jwt.secret")
        with open(self.secret_file, "w") as f:
            f.write(self.secret)
        # The broker runs as the service user, who may not be able to reach
        # the checkout (CI may clone under a private directory): give it
        # copies of what it reads.
        self.plugin = self._copy_in(PLUGIN)
        self.suppressions = self._copy_in(VALGRIND_SUPPRESSIONS)
        self.acl_file = self._copy_in(acl_file) if acl_file == DEFAULT_ACL else acl_file
        self.options = options or {}
        self.port = free_port()
        self.ws_port = free_port()
        self.metrics_port = int(self.options.get("metrics_port", free_port()))
        self.log = os.path.join(self.dir, "mosquitto.log")
        self.process = None
        for path in (self.dir, self.secret_file):
            _chown(path)
        self.start()

    def _copy_in(self, path):
        copy = os.path.join(self.dir, os.path.basename(path))
        shutil.copyfile(path, copy)
        os.chmod(copy, 0o644)
        return copy

    def _config(self):
        options = {
            "db_conninfo": self.postgres.conninfo,
            "jwt_alg": "HS256",
            "jwt_key_file": self.secret_file,
            "acl_file": self.acl_file,
            "metrics_port": self.metrics_port,
        }
        options.update(self.options)
        lines = [
            "per_listener_settings false", "allow_anonymous false", "persistence false",
            "max_queued_messages 100000", "set_tcp_nodelay true",
            f"listener {self.port} 127.0.0.1", "protocol mqtt",
            f"listener {self.ws_port} 127.0.0.1", "protocol websockets",
            "log_type error", "log_type warning", "log_type notice", "log_type information",
            f"plugin {self.plugin}",
        ] + [f"plugin_opt_{k} {v}" for k, v in options.items()]
        path = os.path.join(self.dir, "mosquitto.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        _chown(path)
        return path

    def _environment(self):
        env = dict(os.environ)
        if "undefined" in os.environ.get("FYNSYNC_SANITIZE", ""):
            env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        return env

    def start(self):
        config = self._config()
        log = open(self.log, "a")
        user = {"user": SERVICE_USER, "group": SERVICE_USER, "extra_groups": []} if _is_root() else {}
        memcheck = VALGRIND + [f"--suppressions={self.suppressions}"] if VALGRIND else []
        self.process = subprocess.Popen(memcheck + ["/usr/sbin/mosquitto", "-c", config], stdout=log,
                                        stderr=subprocess.STDOUT, env=self._environment(),
                                        start_new_session=True, **user)
        log.close()
        deadline = time.time() + (60 if VALGRIND else 20)
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("broker exited while starting:\n" + self.read_log())
            if "fynsync: ready" in self.read_log() and _wait_port(self.port, 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("broker did not start:\n" + self.read_log())

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def signal(self, signum):
        self.process.send_signal(signum)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(60 if VALGRIND else 10)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(10)
        rc = self.process.returncode if self.process else 0
        self.process = None
        return rc

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def assert_clean_exit(self):
        rc = self.stop()
        log = self.read_log()
        assert "AddressSanitizer" not in log and "runtime error" not in log, log
        assert rc == 0, f"broker exited with {rc}:\n{log[-4000:]}"

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def token(self, role="staff", restaurants=("r1",), sub=None, ttl=3600, **claims):
        now = int(time.time())
        payload = {"sub": sub or f"{role}-user", "role": role, "exp": now + ttl, "iat": now}
        if restaurants is not None:
            payload["restaurants"] = list(restaurants)
        payload.update(claims)
        return jwt.encode(payload, self.secret, algorithm="HS256")

    def client(self, role="staff", restaurants=("r1",), sub=None, client_id=None, version=5, **kwargs):
        sub = sub or f"{role}-user"
        c = Client(self.port, client_id or f"{role}-{uuid.uuid4().hex[:8]}", version=version, **kwargs)
        c.connect(sub, self.token(role, restaurants, sub))
        return c


class StockBroker:
    """Debian's mosquitto without the plugin, anonymous, with the hub's queue
    settings: the reference for plain MQTT behaviour (tests compare the hub
    with it)."""

    def __init__(self):
        _ensure_service_user()
        self.dir = tempfile.mkdtemp(prefix="fynsync-stock-")
        os.chmod(self.dir, 0o755)
        _chown(self.dir)
        self.port = free_port()
        self.log = os.path.join(self.dir, "mosquitto.log")
        config = os.path.join(self.dir, "mosquitto.conf")
        with open(config, "w") as f:
            f.write("\n".join(["per_listener_settings false", "allow_anonymous true", "persistence false",
                               "max_queued_messages 100000", f"listener {self.port} 127.0.0.1",
                               "log_type error", "log_type warning", "log_type notice"]) + "\n")
        _chown(config)
        user = {"user": SERVICE_USER, "group": SERVICE_USER, "extra_groups": []} if _is_root() else {}
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(["/usr/sbin/mosquitto", "-c", config], stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True, **user)
        if not _wait_port(self.port, 10, lambda: self.process.poll() is None):
            raise RuntimeError("stock mosquitto did not start:\n" + open(self.log, errors="replace").read())

    def destroy(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class Client:
    """A paho MQTT client that collects every message into a queue. With
    ca_certs it speaks TLS and verifies the broker's certificate against
    that CA file (and its name, 127.0.0.1)."""

    def __init__(self, port, client_id, version=5, clean=True, transport="tcp", ca_certs=None):
        self.port = port
        self.client_id = client_id
        self.version = version
        self.clean = clean
        protocol = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        kwargs = {"clean_session": clean} if version != 5 else {}
        self.mqtt = mqtt.Client(client_id=client_id, protocol=protocol, transport=transport, **kwargs)
        if ca_certs:
            self.mqtt.tls_set_context(ssl.create_default_context(cafile=ca_certs))
        self.messages = queue.Queue()
        self.details = queue.Queue()   # (topic, payload, qos, retain, message expiry or None)
        self.session_present = None
        self.connack = queue.Queue()
        self.disconnects = queue.Queue()
        self.subacks = queue.Queue()
        self.mqtt.on_message = self._on_message
        self.mqtt.on_connect = self._on_connect
        self.mqtt.on_disconnect = self._on_disconnect
        self.mqtt.on_subscribe = self._on_subscribe

    def _on_message(self, client, userdata, m):
        self.messages.put((m.topic, m.payload, m.retain))
        properties = getattr(m, "properties", None)
        self.details.put((m.topic, m.payload, m.qos, m.retain, getattr(properties, "MessageExpiryInterval", None)))

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.session_present = flags.get("session present")
        self.connack.put(rc if isinstance(rc, int) else rc.value)

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnects.put(rc if isinstance(rc, int) else getattr(rc, "value", rc))

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        codes = [g if isinstance(g, int) else g.value for g in granted]
        self.subacks.put(codes)

    def connect(self, username, password, expect_ok=True, timeout=5):
        self.mqtt.username_pw_set(username, password)
        if self.version == 5:
            from paho.mqtt.properties import Properties
            from paho.mqtt.packettypes import PacketTypes
            props = Properties(PacketTypes.CONNECT)
            if not self.clean:
                props.SessionExpiryInterval = 3600
            self.mqtt.connect("127.0.0.1", self.port, keepalive=30, clean_start=self.clean, properties=props)
        else:
            self.mqtt.connect("127.0.0.1", self.port, keepalive=30)
        self.mqtt.loop_start()
        rc = self.connack.get(timeout=timeout)
        if expect_ok:
            assert rc == 0, f"CONNACK {rc}"
        return rc

    def subscribe(self, topic, qos=1, timeout=5):
        self.mqtt.subscribe(topic, qos)
        return self.subacks.get(timeout=timeout)

    def publish(self, topic, payload, qos=1, retain=False):
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        return self.mqtt.publish(topic, payload, qos=qos, retain=retain)

    def next_message(self, timeout=5, topic_filter=None):
        deadline = time.time() + timeout
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise TimeoutError(f"no message within {timeout}s")
            topic, payload, retain = self.messages.get(timeout=remaining)
            if topic_filter is None or mqtt.topic_matches_sub(topic_filter, topic):
                return topic, payload, retain

    def drain(self, quiet=0.3):
        out = []
        while True:
            try:
                out.append(self.messages.get(timeout=quiet))
            except queue.Empty:
                return out

    def ack_for(self, event_id, timeout=10):
        topic_filter = f"fynlo/v1/client/{self.client_id}/ack"
        deadline = time.time() + timeout
        while True:
            _, payload, _ = self.next_message(max(0.01, deadline - time.time()), topic_filter)
            ack = json.loads(payload)
            if ack.get("id") == event_id:
                return ack

    def submit(self, rid, event, timeout=10):
        domain, action = event["event_type"].split(".", 1)
        self.publish(f"fynlo/v1/in/{rid}/{domain}/{action}", event)
        return self.ack_for(event["id"], timeout)

    def close(self):
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


def event(event_type="order.created", aggregate_id=None, payload=None, **fields):
    e = {
        "id": str(uuid.uuid4()),
        "aggregate_id": aggregate_id or f"order-{uuid.uuid4().hex[:8]}",
        "event_type": event_type,
        "payload": payload if payload is not None else {"status": "open", "total": 1250,
                                                        "items": [{"item_id": "burger", "qty": 1, "price": 1250, "cost": 410}]},
        "metadata": {"device": "till-2"},
        "created_at": "2026-11-28T12:00:00.123Z",
    }
    e.update(fields)
    return e


def outside_environment():
    """The environment without FYNSYNC_* settings: under ./fynsync test a
    suite inherits the outer hub's (FYNSYNC_TLS_CERT=<checkout>/var/tls/...),
    which would point a test's own hub at the checkout's files."""
    return {k: v for k, v in os.environ.items() if not k.startswith("FYNSYNC_") or k == "FYNSYNC_SOURCE_DIR"}


class CliHub:
    """A whole hub run by `./fynsync` itself (`start`, `status`, `stop`), as
    an operator runs it: PostgreSQL in var/pg and mosquitto with the plugin
    from mosquitto.conf, in a var directory of its own (FYNSYNC_VAR) on free
    ports. Nothing runs until `run("start")`; `destroy` stops it all."""

    def __init__(self, prefix="fynsync-cli-"):
        self.var = service_dir(prefix)
        # Copies the service user can read wherever the checkout is.
        plugin = os.path.join(self.var, "fynsync.so")
        acl = os.path.join(self.var, "fynsync.acl")
        for src, dst in ((PLUGIN, plugin), (DEFAULT_ACL, acl)):
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)
        self.env = dict(outside_environment(), FYNSYNC_VAR=self.var, FYNSYNC_PLUGIN=plugin, FYNSYNC_ACL_FILE=acl)
        self.pick_ports()
        self.pg_dir = os.path.join(self.var, "pg")
        self.ca = os.path.join(self.var, "tls", "ca.crt")

    def pick_ports(self):
        """New ports for every listener and PostgreSQL (quiet_port); a
        running hub keeps its own until restarted."""
        ports = set()
        while len(ports) < 6:
            ports.add(quiet_port())
        for name, port in zip(("MQTT", "WS", "MQTTS", "WSS", "PG", "METRICS"), sorted(ports)):
            self.env[f"FYNSYNC_{name}_PORT"] = str(port)
        self.port = int(self.env["FYNSYNC_MQTT_PORT"])

    def run(self, *args, timeout=120):
        return subprocess.run([FYNSYNC, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def broker_pid(self):
        with open(os.path.join(self.var, "mosquitto.pid")) as f:
            return int(f.read())

    def read_log(self):
        try:
            with open(os.path.join(self.var, "log", "mosquitto.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def token(self, sub="tls-till", role="staff", restaurants=("r1",), ttl=600):
        with open(os.path.join(self.var, "jwt.secret")) as f:
            secret = f.read()
        now = int(time.time())
        return jwt.encode({"sub": sub, "role": role, "restaurants": list(restaurants),
                           "iat": now, "exp": now + ttl}, secret, algorithm="HS256")

    def query(self, sql, *params):
        conn = psycopg2.connect(f"host=127.0.0.1 port={self.env['FYNSYNC_PG_PORT']} dbname=fynsync user=fynsync",
                                connect_timeout=10)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def destroy(self):
        self.run("stop")
        shutil.rmtree(self.var, ignore_errors=True)


def service_dir(prefix="fynsync-test-"):
    """A temporary directory the broker's service user can read (for key and
    ACL files a test writes); remove it with shutil.rmtree."""
    _ensure_service_user()
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    _chown(path)
    return path


def write_service_file(path, data, mode=0o644):
    """Writes data (str or bytes) to path, readable by the service user.
    Replaces the file in place (same inode) so a reload reads the new text."""
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.chmod(path, mode)
    _chown(path)
    return path


def wait_for_log(broker, text, start=0, timeout=5):
    """Waits until text appears in the broker's log after offset start;
    returns the log from start on, or raises TimeoutError."""
    deadline = time.time() + timeout
    while True:
        log = broker.read_log()[start:]
        if text in log:
            return log
        if time.time() >= deadline:
            raise TimeoutError(f"{text!r} not in the broker log within {timeout}s:\n{log[-3000:]}")
        time.sleep(0.05)


def mqtt_varint(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_string(value):
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(data)) + data


class RawClient:
    """CONNECTs with exactly the given fields and records what comes back:
    the CONNACK code, and later a DISCONNECT packet and the moment the
    broker closed the connection."""

    def __init__(self, port, client_id, username, password, version=5, will=None, keepalive=60,
                 clean=True, session_expiry=None, will_delay=None, timeout=5):
        """will: optional (topic, payload, retain), sent with QoS 1. version is
        the protocol level (4 is MQTT 3.1.1). keepalive in seconds; with
        session_expiry and will_delay (MQTT 5, seconds) the CONNECT carries
        those properties. timeout bounds the wait for CONNACK, in seconds."""
        self.version = version
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        flags = (0x02 if clean else 0) | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
        if will is not None:
            flags |= 0x04 | (1 << 3) | (0x20 if will[2] else 0)
        variable = mqtt_string("MQTT") + bytes([version, flags]) + struct.pack("!H", keepalive)
        if version == 5:
            properties = b"" if session_expiry is None else b"\x11" + struct.pack("!I", session_expiry)
            variable += mqtt_varint(len(properties)) + properties
        body = variable + mqtt_string(client_id)
        if will is not None:
            if version == 5:
                properties = b"" if will_delay is None else b"\x18" + struct.pack("!I", will_delay)
                body += mqtt_varint(len(properties)) + properties
            body += mqtt_string(will[0]) + mqtt_string(will[1])
        if username is not None:
            body += mqtt_string(username)
        if password is not None:
            body += mqtt_string(password)
        self.sock.sendall(b"\x10" + mqtt_varint(len(body)) + body)
        packet_type, data = self._read_packet()
        assert packet_type == 0x20, f"expected CONNACK, got {packet_type!r}"
        self.connack = data[1]
        self.disconnect_reason = None   # reason code of a DISCONNECT from the broker
        self.closed_at = None

    def _read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _read_packet(self):
        header = self._read_exact(1)[0]
        length, shift = 0, 0
        while True:
            byte = self._read_exact(1)[0]
            length += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return header & 0xF0, self._read_exact(length)

    def wait_closed(self, timeout):
        """Reads until the broker closes the connection or timeout passes;
        returns True when it closed."""
        self.sock.settimeout(timeout)
        try:
            while True:
                packet_type, data = self._read_packet()
                if packet_type == 0xE0:
                    self.disconnect_reason = data[0] if data else 0
        except EOFError:
            self.closed_at = time.time()
            return True
        except ConnectionResetError:
            self.closed_at = time.time()
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.sendall(b"\xe0\x00")
        except OSError:
            pass
        self.sock.close()

    def drop(self):
        """Closes the socket without DISCONNECT, so the broker sends the will."""
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
