"""A byte-exact MQTT 5 client for the bad-input corpus: it sends exactly the
fields it is given (invalid UTF-8, NUL bytes, wildcards in a PUBLISH topic,
65,535-byte strings, thousands of properties), which paho refuses to do, and
reports what the broker did: the CONNACK or SUBACK codes, the messages it
sent back, or that it closed the connection."""

import json
import socket
import struct
import time

from harness import mqtt_string as string, mqtt_varint as varint   # tests/integration on the path

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = (
    0x10, 0x20, 0x30, 0x40, 0x80, 0x90, 0xC0, 0xD0, 0xE0)


def user_properties(count, size=8):
    """count MQTT 5 user properties (0x26), each a key and value of size bytes."""
    one = b"\x26" + string(b"k" * size) + string(b"v" * size)
    return one * count


class Closed(Exception):
    """The broker closed the connection."""


class RawMqtt:
    def __init__(self, port, client_id, username=None, password=None, properties=b"", timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        self.next_id = 1
        flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
        body = string("MQTT") + bytes([5, flags]) + struct.pack("!H", 60)
        body += varint(len(properties)) + properties + string(client_id)
        if username is not None:
            body += string(username)
        if password is not None:
            body += string(password)
        self.send(CONNECT, body)
        packet_type, data = self.read_packet(timeout)
        if packet_type != CONNACK:
            raise AssertionError(f"expected CONNACK, got 0x{packet_type:02x}")
        self.connack = data[1]

    def send(self, packet_type, body):
        try:
            self.sock.sendall(bytes([packet_type]) + varint(len(body)) + body)
        except OSError as e:
            raise Closed() from e

    def _fill(self, n, deadline):
        while len(self.buffer) < n:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise TimeoutError()
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout as e:
                raise TimeoutError() from e
            except OSError as e:
                raise Closed() from e
            if not chunk:
                raise Closed()
            self.buffer += chunk

    def read_packet(self, timeout):
        """(type, body) of the next packet; TimeoutError or Closed."""
        deadline = time.time() + timeout
        self._fill(2, deadline)
        length, shift, at = 0, 0, 1
        while True:
            self._fill(at + 1, deadline)
            byte = self.buffer[at]
            length += (byte & 0x7F) << shift
            shift += 7
            at += 1
            if not byte & 0x80:
                break
        self._fill(at + length, deadline)
        header, body = self.buffer[0], self.buffer[at:at + length]
        self.buffer = self.buffer[at + length:]
        packet_type = header & 0xF0
        if packet_type == PUBLISH and (header >> 1) & 3 == 1:
            topic_len = struct.unpack("!H", body[:2])[0]
            self.send(PUBACK, body[2 + topic_len:4 + topic_len])
        return packet_type, body if packet_type != PUBLISH else (header, body)

    @staticmethod
    def parse_publish(header, body):
        topic_len = struct.unpack("!H", body[:2])[0]
        topic = body[2:2 + topic_len].decode(errors="replace")
        at = 2 + topic_len + (2 if (header >> 1) & 3 else 0)
        length, shift = 0, 0
        while True:
            byte = body[at]
            at += 1
            length += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return topic, body[at + length:]

    def messages(self, timeout):
        """Yields (topic, payload) of PUBLISHes until timeout passes."""
        deadline = time.time() + timeout
        while True:
            try:
                packet_type, data = self.read_packet(max(0.001, deadline - time.time()))
            except TimeoutError:
                return
            if packet_type == PUBLISH:
                yield self.parse_publish(*data)

    def publish(self, topic, payload, qos=0, properties=b""):
        topic = topic.encode() if isinstance(topic, str) else topic
        payload = payload.encode() if isinstance(payload, str) else payload
        body = string(topic)
        if qos:
            body += struct.pack("!H", self.next_id)
            self.next_id = self.next_id % 65535 + 1
        self.send(PUBLISH | (qos << 1), body + varint(len(properties)) + properties + payload)

    def subscribe(self, topic_filter, timeout=5):
        """SUBACK reason codes for one filter."""
        topic_filter = topic_filter.encode() if isinstance(topic_filter, str) else topic_filter
        packet_id = self.next_id
        self.next_id = self.next_id % 65535 + 1
        self.send(SUBSCRIBE | 0x02, struct.pack("!H", packet_id) + b"\x00" + string(topic_filter) + b"\x01")
        deadline = time.time() + timeout
        while True:
            packet_type, data = self.read_packet(max(0.001, deadline - time.time()))
            if packet_type == SUBACK:
                at = 2
                props_len, shift = 0, 0
                while True:
                    byte = data[at]
                    at += 1
                    props_len += (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                return list(data[at + props_len:])

    def answer(self, kind, timeout, match=None):
        """The JSON of the first message on fynlo/v1/client/{cid}/{kind} that
        match accepts (all when None), or None after timeout."""
        for topic, payload in self.messages(timeout):
            if topic.endswith("/" + kind):
                doc = json.loads(payload)
                if match is None or match(doc):
                    return doc
        return None

    def alive(self, timeout=2):
        """Does the broker still answer a PINGREQ on this connection?"""
        try:
            self.send(PINGREQ, b"")
            deadline = time.time() + timeout
            while True:
                packet_type, _ = self.read_packet(max(0.001, deadline - time.time()))
                if packet_type == PINGRESP:
                    return True
                if packet_type == DISCONNECT:
                    return False
        except (Closed, TimeoutError):
            return False

    def close(self):
        try:
            self.send(DISCONNECT, b"\x00")
        except Closed:
            pass
        self.sock.close()
