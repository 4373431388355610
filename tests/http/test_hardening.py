"""Resource bounds of a real agentregd under hostile clients, over raw
sockets: what a client without a token can make the server read, hold or
spend. Each test here reproduced a defect of the server's first version."""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from harness import DEADLINE_S, Daemon, agentregd_binary, closed_by_peer, connect, exchange, raw_request, read_response, wait_until
from agentreg_client import AgentRegError  # noqa: E402 (harness puts the client on sys.path)

TOKEN = "hardening-secret"
MAX_HEADER = 16 * 1024
MAX_BODY = 64 * 1024
#: Far beyond every limit the server has (header, body and their slack):
#: a server that reads all of it holds it in memory.
FLOOD_BYTES = 32 * 1024 * 1024

daemon = None


def setUpModule():
    global daemon
    # A long body timeout: the server must refuse the floods below by their
    # size, not by a timer running out.
    daemon = Daemon(None, "--max-header-bytes", str(MAX_HEADER), "--max-body-bytes", str(MAX_BODY),
                    "--body-timeout-ms", "600000", token=TOKEN).start()


def tearDownModule():
    daemon.kill()


def chunked_head(token=TOKEN, extra=None):
    headers = {"Transfer-Encoding": "chunked"}
    headers.update(extra or {})
    lines = ["POST /v1/agents HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def flood(prefix, filler):
    """Sends `prefix`, then `filler` until FLOOD_BYTES are sent or the
    server stops reading; the server's answer (None if it just closed) and
    how many bytes it took."""
    sock = connect(daemon.port)
    sent = 0
    try:
        sock.sendall(prefix)
        piece = filler * (65536 // len(filler))
        while sent < FLOOD_BYTES:
            sock.sendall(piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass
    except socket.timeout:
        # The server holds the connection open without reading: its buffer
        # is full, not growing. Shut our side so that it answers.
        pass
    try:
        return read_response(sock), sent
    except (ConnectionResetError, BrokenPipeError):
        return None, sent
    finally:
        sock.close()


class chunked_floods(unittest.TestCase):
    def assertRefused(self, answer, sent, statuses):
        self.assertLess(sent, FLOOD_BYTES, "the server read the whole flood into memory")
        if answer is not None:
            self.assertIn(answer.status, statuses, answer.body)
        self.assertEqual(daemon.client().health(), {"status": "ok"})

    def test_an_endless_chunk_extension_is_refused_by_size(self):
        answer, sent = flood(chunked_head() + b"1;", b"x")
        self.assertRefused(answer, sent, (413,))

    def test_endless_trailers_are_refused_by_size(self):
        answer, sent = flood(chunked_head() + b"0\r\nX-Trailer: ", b"y")
        self.assertRefused(answer, sent, (413, 431))

    def test_an_endless_header_line_is_refused_by_size(self):
        answer, sent = flood(b"GET /health HTTP/1.1\r\nX-Long: ", b"z")
        self.assertRefused(answer, sent, (431,))


class checked_before_the_body(unittest.TestCase):
    """Route, method, token and Content-Type are checked on the header: the
    answer comes without a byte of the body sent, and no 100 Continue."""

    def answer_without_body(self, head):
        with connect(daemon.port, timeout=DEADLINE_S) as sock:
            sock.sendall(head)
            return read_response(sock)

    def test_a_chunked_body_without_a_token_is_401_before_it_is_sent(self):
        answer = self.answer_without_body(chunked_head(token=None))
        self.assertEqual(answer.status, 401, answer.body)
        self.assertEqual(answer.json()["error"], "unauthorized")

    def test_expect_100_continue_without_a_token_is_401_not_100(self):
        head = raw_request("POST", "/v1/agents", b"", headers={"Expect": "100-continue", "Content-Length": "40000"})
        head = head.replace(b"Content-Length: 0\r\n", b"")
        answer = self.answer_without_body(head)
        self.assertEqual(answer.status, 401, answer.body)

    def test_an_unknown_route_is_404_before_the_body(self):
        head = raw_request("POST", "/v1/nothing", b"", token=TOKEN,
                           headers={"Content-Length": "40000", "Content-Type": "application/json"})
        head = head.replace(b"Content-Length: 0\r\n", b"")
        self.assertEqual(self.answer_without_body(head).status, 404)

    def test_a_body_that_is_not_json_is_415_before_it_is_sent(self):
        head = raw_request("POST", "/v1/agents", b"", token=TOKEN,
                           headers={"Content-Length": "40000", "Content-Type": "text/plain"})
        head = head.replace(b"Content-Length: 0\r\n", b"")
        answer = self.answer_without_body(head)
        self.assertEqual(answer.status, 415, answer.body)

    def test_an_authorized_chunked_body_still_works(self):
        body = b'{"agent_id": "chunky", "agent_type": "hardening"}'
        data = chunked_head() + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        with connect(daemon.port) as sock:
            sock.sendall(data)
            answer = read_response(sock)
        self.assertIn(answer.status, (200, 201), answer.body)
        self.assertEqual(daemon.client().get_agent("chunky")["agent_type"], "hardening")


#: A sanitizer's report in agentregd's output (ASan, TSan, UBSan).
SANITIZER_REPORT = re.compile(r"ERROR: AddressSanitizer|WARNING: ThreadSanitizer|runtime error:")


class closing_clients(unittest.TestCase):
    """Requests the engine answers (heartbeats: the agent's actor) on
    connections that close right after their answer, or vanish before it:
    the engine threads then hold a session's last references. Under a TSan
    or ASan build of agentregd (AGENTREGD), a session destroyed on an
    engine thread is reported; in any build the server must stay up."""

    AGENTS = 16
    THREADS = 4
    ROUNDS = 250

    @classmethod
    def setUpClass(cls):
        reg = daemon.client()
        for i in range(cls.AGENTS):
            reg.register(f"closer-{i}", "closing", max_capacity=4)

    def one_thread(self, n, failures):
        try:
            for r in range(self.ROUNDS):
                agent = f"closer-{(n * self.ROUNDS + r) % self.AGENTS}"
                if r % 3 == 2:
                    body = json.dumps({"heartbeats": [{"agent_id": f"closer-{i}"} for i in range(self.AGENTS)]})
                    data = raw_request("POST", "/v1/heartbeats", body, token=TOKEN, headers={"Connection": "close"})
                else:
                    data = raw_request("POST", f"/v1/agents/{agent}/heartbeat", token=TOKEN,
                                       headers={"Connection": "close"})
                sock = connect(daemon.port)
                sock.sendall(data)
                if r % 2:
                    # Gone before the answer: a reset, and the engine still has the request.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()
                    continue
                answer = read_response(sock)
                sock.close()
                if answer is None or answer.status != 200:
                    failures.append(f"{agent}: {answer}")
        except Exception as e:  # noqa: BLE001 -- reported by the test below
            failures.append(repr(e))

    def test_sessions_closed_while_the_engine_answers(self):
        reg = daemon.client()
        open_before = reg.stats()["server"]["connections"]
        failures = []
        threads = [threading.Thread(target=self.one_thread, args=(n, failures)) for n in range(self.THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertIsNone(SANITIZER_REPORT.search(daemon.log()), daemon.log())
        self.assertEqual(failures, [])
        self.assertEqual(reg.health(), {"status": "ok"})
        # Every connection of the test is released (none is left to an engine thread).
        wait_until(lambda: reg.stats()["server"]["connections"] == open_before,
                   "the closed connections to be released")
        self.assertEqual(len(reg.list_agents(agent_type="closing")), self.AGENTS)
        self.assertTrue(daemon.alive(), daemon.log())


class out_of_descriptors(unittest.TestCase):
    """More connections than the process has descriptors for: the server
    refuses the excess (503) or leaves it queued, without spinning on
    accept, and serves again once they close."""

    OPEN_FILES = 256
    CONNECTIONS = 400

    def test_more_connections_than_descriptors(self):
        with Daemon(None, open_files=self.OPEN_FILES) as d:
            self.assertEqual(d.client().health(), {"status": "ok"})
            socks = [connect(d.port) for _ in range(self.CONNECTIONS)]
            try:
                # Every connection is through the kernel's handshake; the
                # server has taken what fits. A server that spins on a
                # failing accept burns a core; an idle one almost nothing.
                # The bound is a tenth of a core: generous either way.
                cpu_before, t_before = d.cpu_seconds(), time.monotonic()
                time.sleep(2.0)  # a measuring window, not a wait for a state
                cpu, elapsed = d.cpu_seconds() - cpu_before, time.monotonic() - t_before
                self.assertLess(cpu, 0.1 * elapsed, f"agentregd used {cpu:.2f} s of CPU in {elapsed:.2f} s:\n"
                                + d.log())
                refused = 0
                for sock in socks[-50:]:  # the last ones cannot have fitted
                    sock.settimeout(DEADLINE_S)
                    answer = read_response(sock)
                    self.assertIsNotNone(answer, "closed without an answer")
                    self.assertEqual(answer.status, 503, answer.body)
                    self.assertEqual(answer.json()["error"], "too_many_connections")
                    self.assertEqual(answer.headers.get("retry-after"), "1")
                    refused += 1
                self.assertEqual(refused, 50)
            finally:
                for sock in socks:
                    sock.close()
            # The descriptors are back: a new connection is served.
            self.assertEqual(wait_until(lambda: self.health_or_none(d), "agentregd to serve again"),
                             {"status": "ok"})
            self.assertIsNotNone(re.search(r"max_connections lowered from 10000 to \d+", d.log()), d.log())

    @staticmethod
    def health_or_none(d):
        with connect(d.port) as sock:
            sock.sendall(raw_request("GET", "/health"))
            answer = read_response(sock)
        return answer.json() if answer is not None and answer.status == 200 else None


class token_before_routes(unittest.TestCase):
    """With a token, /v1 tells a client without one nothing about which
    paths and methods exist: 401 before 404 and 405."""

    def test_unknown_paths_and_methods_under_v1_are_401_without_a_token(self):
        for method, path in (("GET", "/v1/nothing"), ("PATCH", "/v1/agents/someone"), ("GET", "/v1"),
                             ("DELETE", "/v1/agents/least-loaded")):
            with self.subTest(method=method, path=path):
                for token in (None, TOKEN + "-wrong"):
                    answer = exchange(daemon.port, raw_request(method, path, token=token))
                    self.assertEqual(answer.status, 401, answer.body)
                    self.assertEqual(answer.json()["error"], "unauthorized")
        self.assertEqual(exchange(daemon.port, raw_request("GET", "/v1/nothing", token=TOKEN)).status, 404)
        answer = exchange(daemon.port, raw_request("PATCH", "/v1/agents/someone", token=TOKEN))
        self.assertEqual(answer.status, 405, answer.body)
        # Outside /v1 nothing changes: no token needed to be told 404.
        self.assertEqual(exchange(daemon.port, raw_request("GET", "/nothing")).status, 404)


class refused_configurations(unittest.TestCase):
    """Settings that would leave the API less protected than they suggest
    stop agentregd at start, with a message naming the problem."""

    def refused(self, *args, env=None):
        out = subprocess.run([agentregd_binary(), "--port", "0", *args], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=DEADLINE_S,
                             env=dict(os.environ, **(env or {})))
        self.assertNotEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("listening on", out.stdout)
        return out.stderr

    def test_a_read_token_without_a_token_is_refused(self):
        self.assertIn("needs a token", self.refused("--read-token", "reader"))
        self.assertIn("needs a token", self.refused(env={"AGENTREG_READ_TOKEN": "reader"}))

    def test_a_token_file_others_can_read_is_refused(self):
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "token")
            with open(path, "w") as f:
                f.write("a-token-others-can-read\n")
            os.chmod(path, 0o644)
            message = self.refused("--token-file", path)
            self.assertIn("mode 0644", message)
            # The same file at 0600 is used.
            os.chmod(path, 0o600)
            with Daemon(None, "--token-file", path, token=None) as d:
                answer = d.client(token="a-token-others-can-read").stats()
                self.assertIn("agents", answer)


class engine_knobs(unittest.TestCase):
    """The engine's bounds are agentregd settings too (flag, variable,
    --help), and they take effect."""

    KNOBS = ("on-full", "max-agent-metadata-bytes", "max-tools-per-agent", "max-summary-keys",
             "change-log-capacity")

    def test_help_documents_them(self):
        out = subprocess.run([agentregd_binary(), "--help"], capture_output=True, text=True, timeout=DEADLINE_S)
        self.assertEqual(out.returncode, 0, out.stderr)
        for knob in self.KNOBS:
            self.assertIn("--" + knob, out.stdout)

    def test_bad_values_are_refused(self):
        for args in (("--on-full", "sometimes"), ("--max-tools-per-agent", "0"), ("--max-summary-keys", "x")):
            with self.subTest(args=args):
                out = subprocess.run([agentregd_binary(), "--port", "0", *args], stdin=subprocess.DEVNULL,
                                     capture_output=True, text=True, timeout=DEADLINE_S)
                self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
                self.assertIn(args[0], out.stderr)

    def test_they_take_effect(self):
        with Daemon(None, "--max-tools-per-agent", "1", "--on-full", "refuse",
                    env={"AGENTREG_MAX_AGENT_METADATA_BYTES": "300", "AGENTREG_MAX_SUMMARY_KEYS": "1"}) as d:
            reg = d.client()
            reg.register("knob-1", "knobs", metadata={"note": "x" * 10})
            with self.assertRaises(AgentRegError) as refused:
                reg.register("knob-2", "knobs", metadata={"note": "x" * 400})
            self.assertEqual(refused.exception.code, "invalid_argument")
            reg.record_tool_usage("knob-1", "search", success_count=1)
            with self.assertRaises(AgentRegError) as refused:
                reg.record_tool_usage("knob-1", "fetch", success_count=1)
            self.assertEqual(refused.exception.code, "limit_reached")
            reg.start_execution("knob-1", task_type="first")
            with self.assertRaises(AgentRegError) as refused:
                reg.start_execution("knob-1", task_type="second")
            self.assertEqual(refused.exception.code, "limit_reached")


class rate_limit(unittest.TestCase):
    def test_requests_over_the_rate_of_a_connection_are_429_with_retry_after(self):
        with Daemon(None, "--max-requests-per-second", "1") as d:
            # Pipelined in one write: the second comes microseconds after the
            # first, far within the second a token takes to come back.
            with connect(d.port) as sock:
                sock.sendall(raw_request("GET", "/health") * 2)
                first, second = read_response(sock), read_response(sock)
            self.assertEqual(first.status, 200, first.body)
            self.assertEqual(second.status, 429, second.body)
            self.assertEqual(second.json()["error"], "rate_limited")
            self.assertEqual(second.headers.get("retry-after"), "1")
            # Another connection has its own budget.
            self.assertEqual(exchange(d.port, raw_request("GET", "/health")).status, 200)


class engine_call_cap(unittest.TestCase):
    def test_a_heartbeat_batch_takes_an_engine_call_per_item(self):
        with Daemon(None, "--max-engine-calls", "2") as d:
            c = d.client()
            for i in range(3):
                c.register(f"batched-{i}", "batch")
            before = [c.get_agent(f"batched-{i}")["last_heartbeat"] for i in range(3)]
            three = [(f"batched-{i}", 1) for i in range(3)]
            with self.assertRaises(AgentRegError) as refused:
                c.heartbeats(three)
            # Counted per request, the batch was one call and passed.
            self.assertEqual((refused.exception.status, refused.exception.code), (503, "overloaded"))
            self.assertIn("smaller batches", refused.exception.message)
            self.assertEqual(refused.exception.retry_after, 1)
            after = [c.get_agent(f"batched-{i}") for i in range(3)]
            self.assertEqual([a["last_heartbeat"] for a in after], before)
            self.assertEqual([a["current_load"] for a in after], [0, 0, 0])
            # Two items fit in the cap.
            results = c.heartbeats(three[:2])
            self.assertEqual([r["ok"] for r in results], [True, True])
            self.assertEqual(c.stats()["server"]["overloaded"], 1)

    def test_help_and_bad_values(self):
        out = subprocess.run([agentregd_binary(), "--help"], capture_output=True, text=True, timeout=DEADLINE_S)
        self.assertIn("--max-engine-calls", out.stdout)
        self.assertIn("AGENTREG_MAX_ENGINE_CALLS", out.stdout)
        out = subprocess.run([agentregd_binary(), "--port", "0", "--max-engine-calls", "-1"],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=DEADLINE_S)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertIn("--max-engine-calls", out.stderr)


class stop_with_a_request_in_flight(unittest.TestCase):
    def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(self):
        d = Daemon(None, "--shutdown-grace-ms", "60000").start()
        try:
            body = json.dumps({"agent_id": "in-flight", "agent_type": "stopping"}).encode()
            head = raw_request("POST", "/v1/agents", body, headers={"Expect": "100-continue"})[:-len(body)]
            with connect(d.port) as sock:
                sock.sendall(head)
                # 100 Continue: the server has read and accepted the header and
                # now waits for the body: the request is in flight.
                self.assertTrue(sock.recv(64).startswith(b"HTTP/1.1 100 Continue"))
                d.process.send_signal(signal.SIGTERM)
                d.wait_for_line("SIGTERM: stopping")
                sock.sendall(body)
                answer = read_response(sock)
                self.assertIsNotNone(answer, "the request in flight was dropped")
                self.assertIn(answer.status, (200, 201), answer.body)
                self.assertEqual(answer.json()["agent_id"], "in-flight")
                self.assertEqual(answer.headers.get("connection"), "close")
            self.assertEqual(d.process.wait(timeout=DEADLINE_S), 0, d.log())
            # No new connection is accepted once it stopped.
            with self.assertRaises(OSError):
                connect(d.port).close()
        finally:
            if d.alive():
                d.kill()


class stop_with_a_request_arriving(unittest.TestCase):
    def test_a_request_whose_header_arrives_after_sigterm_is_503_shutting_down(self):
        # One I/O thread: the connections are served in the order their
        # bytes arrive, so once the second connection's request is answered
        # the server has read the first one's partial header (that
        # connection is no longer idle, and stop leaves it open).
        d = Daemon(None, "--io-threads", "1", "--shutdown-grace-ms", "60000").start()
        try:
            with connect(d.port) as late, connect(d.port) as probe:
                late.sendall(b"GET /v1/stats HTTP/1.1\r\nHost: x\r\n")
                probe.sendall(raw_request("GET", "/health"))
                self.assertEqual(read_response(probe).status, 200)
                d.process.send_signal(signal.SIGTERM)
                d.wait_for_line("SIGTERM: stopping")
                late.sendall(b"\r\n")
                answer = read_response(late)
                self.assertIsNotNone(answer, "closed without an answer")
                self.assertEqual(answer.status, 503, answer.body)
                self.assertEqual(answer.json()["error"], "shutting_down")
                self.assertEqual(answer.headers.get("retry-after"), "1")
                self.assertTrue(closed_by_peer(late))
            self.assertEqual(d.process.wait(timeout=DEADLINE_S), 0, d.log())
        finally:
            if d.alive():
                d.kill()


if __name__ == "__main__":
    unittest.main()
