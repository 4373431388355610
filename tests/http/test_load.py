"""Load and misbehaving clients against a real agentregd on PostgreSQL:
2 000 concurrent connections, slowloris, clients that vanish mid-request,
and 8 clients racing for leases (holders counted: never more than an
agent's capacity)."""

import selectors
import socket
import struct
import threading
import time
import unittest

from harness import (DEADLINE_S, Daemon, Postgres, closed_by_peer, connect, raise_open_files_limit, raw_request,
                     read_response, wait_until)
from agentreg_client import AgentRegError

CONNECTIONS = 2000
HEADER_TIMEOUT_MS = 1000

pg = None


def setUpModule():
    global pg
    raise_open_files_limit(CONNECTIONS)
    pg = Postgres()


def tearDownModule():
    pg.close()


def open_connections(count, port):
    socks = []
    for _ in range(count):
        s = connect(port)
        socks.append(s)
    return socks


class load(unittest.TestCase):
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(pg.new_database(), "--header-timeout-ms", str(HEADER_TIMEOUT_MS)).start()
        cls.reg = cls.daemon.client()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.kill()

    def open_now(self):
        return self.reg.stats()["server"]["connections"]

    def test_2000_concurrent_connections_are_each_answered(self):
        for i in range(10):
            self.reg.register(f"conn-{i}", "conn", max_capacity=10)
        baseline = self.open_now()
        socks = open_connections(CONNECTIONS, self.daemon.port)
        try:
            # Every connection sends its request before any answer is read:
            # the server holds all 2 000 at once.
            for i, s in enumerate(socks):
                s.sendall(raw_request("POST", f"/v1/agents/conn-{i % 10}/heartbeat", b""))
            answered = self.read_all(socks)
            self.assertEqual(sorted(answered.values()), [200] * CONNECTIONS)
            self.assertEqual(self.open_now(), baseline + CONNECTIONS)
            # and each connection is still usable (keep-alive)
            for s in socks[:100]:
                s.sendall(raw_request("GET", "/v1/agents/conn-0"))
                self.assertEqual(read_response(s).status, 200)
        finally:
            for s in socks:
                s.close()
        wait_until(lambda: self.open_now() == baseline, "the 2 000 connections to be closed on the server")
        self.assertTrue(self.daemon.alive())

    @staticmethod
    def read_all(socks):
        """The status of one answer per socket, read as they come."""
        selector = selectors.DefaultSelector()
        buffers = {}
        for s in socks:
            s.setblocking(False)
            selector.register(s, selectors.EVENT_READ)
            buffers[s] = b""
        statuses = {}
        end = time.monotonic() + DEADLINE_S
        while len(statuses) < len(socks):
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"only {len(statuses)} of {len(socks)} connections answered")
            for key, _ in selector.select(left):
                s = key.fileobj
                chunk = s.recv(65536)
                if not chunk:
                    raise AssertionError("a connection was closed without an answer")
                buffers[s] += chunk
                head, sep, rest = buffers[s].partition(b"\r\n\r\n")
                if sep:
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    if len(rest) >= length:
                        statuses[s] = int(head.split(b" ")[1])
                        selector.unregister(s)
        for s in socks:
            s.setblocking(True)
            s.settimeout(DEADLINE_S)
        return statuses

    def test_slowloris_connections_are_closed_within_the_header_timeout_and_others_unaffected(self):
        self.reg.register("slow-1", "slow")
        slow = open_connections(50, self.daemon.port)
        try:
            started = time.monotonic()
            for s in slow:
                s.sendall(b"POST /v1/agents/slow-1/heartbeat HTTP/1.1\r\nHost: x\r\n")
            # The others are served meanwhile, on new and on kept-alive connections.
            other = self.daemon.client()
            while time.monotonic() - started < HEADER_TIMEOUT_MS / 1000 / 2:
                self.assertEqual(other.heartbeat("slow-1")["agent_id"], "slow-1")
            # One header byte at a time, never finishing the head: every
            # slow connection is closed once the header timeout is over,
            # although bytes keep coming.
            open_slow = list(slow)
            while open_slow and time.monotonic() - started < HEADER_TIMEOUT_MS / 1000 * 10:
                still = []
                for s in open_slow:
                    try:
                        s.sendall(b"X")
                    except (BrokenPipeError, ConnectionResetError):
                        continue
                    if not closed_by_peer(s, 0.0):
                        still.append(s)
                open_slow = still
                self.assertEqual(other.heartbeat("slow-1")["agent_id"], "slow-1")
                time.sleep(0.05)  # the trickle's pace, not a wait for a state
            elapsed = time.monotonic() - started
            self.assertEqual(open_slow, [], f"{len(open_slow)} slow connections still open after {elapsed:.1f} s")
            self.assertGreaterEqual(elapsed, HEADER_TIMEOUT_MS / 1000 * 0.9,
                                    "slow connections were closed before the header timeout")
            self.assertEqual(self.reg.get_agent("slow-1")["status"], "online")
        finally:
            for s in slow:
                s.close()

    def test_clients_that_vanish_mid_request_leave_the_server_serving(self):
        self.reg.register("vanish-1", "vanish", max_capacity=3)
        baseline = self.open_now()
        before = self.reg.get_agent("vanish-1")
        body = b'{"current_load": 2}'
        full = raw_request("PUT", "/v1/agents/vanish-1/load", body)
        for cut in (3, full.index(b"\r\n\r\n"), len(full) - len(body) + 5):
            for reset in (False, True):
                s = connect(self.daemon.port)
                s.sendall(full[:cut])
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
        # The incomplete ones changed nothing.
        wait_until(lambda: self.open_now() == baseline, "the vanished connections to be closed on the server")
        self.assertEqual(self.reg.get_agent("vanish-1")["current_load"], before["current_load"])
        # A complete request whose client leaves before the answer is applied
        # and its answer dropped, once; the server goes on.
        s = connect(self.daemon.port)
        s.sendall(full)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        wait_until(lambda: self.reg.get_agent("vanish-1")["current_load"] == 2, "the complete request applied")
        wait_until(lambda: self.open_now() == baseline, "the connection closed on the server")
        # Many pipelined requests, then gone.
        s = connect(self.daemon.port)
        s.sendall(raw_request("POST", "/v1/agents/vanish-1/heartbeat", b"") * 200)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        self.assertEqual(self.reg.heartbeat("vanish-1")["agent_id"], "vanish-1")
        wait_until(lambda: self.open_now() == baseline, "the pipelining connection closed on the server")
        self.assertTrue(self.daemon.alive())

    def test_8_clients_racing_for_leases_never_overbook(self):
        capacities = {"race-1": 1, "race-2": 2, "race-3": 3}
        for agent_id, capacity in capacities.items():
            self.reg.register(agent_id, "race", max_capacity=capacity)
        holders = {agent_id: 0 for agent_id in capacities}
        peak = {agent_id: 0 for agent_id in capacities}
        lock = threading.Lock()
        counts = {"acquired": 0, "no_capacity": 0}
        errors = []
        end = time.monotonic() + 3.0

        def client_loop():
            reg = self.daemon.client()
            try:
                while time.monotonic() < end:
                    try:
                        lease = reg.acquire("race", ttl_ms=60_000)
                    except AgentRegError as e:
                        if e.code != "no_capacity":
                            raise
                        with lock:
                            counts["no_capacity"] += 1
                        continue
                    agent_id = lease["agent_id"]
                    # Counted between the acquire's answer and the release's
                    # request: the holder count is at most the true count.
                    with lock:
                        holders[agent_id] += 1
                        peak[agent_id] = max(peak[agent_id], holders[agent_id])
                        counts["acquired"] += 1
                    reg.get_agent(agent_id)
                    with lock:
                        holders[agent_id] -= 1
                    reg.release(lease)
            except BaseException as e:  # reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=client_loop) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for agent_id, capacity in capacities.items():
            self.assertLessEqual(peak[agent_id], capacity, f"{agent_id} overbooked")
        self.assertGreater(counts["acquired"], 0)
        self.assertGreater(counts["no_capacity"], 0, "8 clients for 6 slots never met a full pool: no race tested")
        for agent_id in capacities:
            self.assertEqual(self.reg.get_agent(agent_id)["current_load"], 0)
        self.assertEqual(self.reg.stats()["leases_held"], 0)


if __name__ == "__main__":
    unittest.main()
