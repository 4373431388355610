"""HTTP/1.1 pipelining against a real agentregd, over raw sockets. The
server parses a request already in its buffer without a read and queues
its answer, so that the answers to a pipeline share one write: these tests
hold it to the order of the answers, to never keeping an answer back while
it waits for the client, and to the framing of what it writes by hand."""

import json
import socket
import unittest

from harness import DEADLINE_S, Daemon, closed_by_peer, connect, raw_request, read_response

daemon = None


def setUpModule():
    global daemon
    daemon = Daemon(None, "--max-requests-per-second", "0").start()


def tearDownModule():
    daemon.kill()


def register(agent_id, capacity=1):
    spec = {"agent_id": agent_id, "agent_type": "pipelined", "llm_provider": "p", "model_name": "m",
            "max_capacity": capacity}
    return raw_request("POST", "/v1/agents", json.dumps(spec))


def answered_within(sock, seconds=DEADLINE_S):
    """The next response, read with a timeout: a server that keeps the answer
    back until the client sends more times out here."""
    sock.settimeout(seconds)
    try:
        return read_response(sock)
    except socket.timeout:
        raise AssertionError(f"no answer within {seconds} s") from None


def read_head(sock):
    """A response's status line and headers, byte by byte, and nothing after
    them (an answer to HEAD has no body; a stream's body never ends)."""
    sock.settimeout(DEADLINE_S)
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError(f"connection closed inside a response head: {head!r}")
        head += chunk
    return head


class pipelining(unittest.TestCase):
    def test_answers_come_in_the_order_of_the_requests(self):
        ids = [f"order-{i}" for i in range(3)]
        wire = b"".join(register(i) for i in ids)
        wire += raw_request("GET", "/v1/agents/order-1")
        wire += raw_request("GET", "/v1/no-such-route")
        wire += raw_request("PUT", "/health")
        wire += raw_request("GET", "/v1/agents/order-unknown")
        wire += raw_request("GET", "/health")
        with connect(daemon.port) as sock:
            sock.sendall(wire)
            answers = [answered_within(sock) for _ in range(8)]
        for agent_id, a in zip(ids, answers[:3]):
            self.assertEqual((a.status, a.json()["agent_id"]), (200, agent_id), a.body)
        self.assertEqual((answers[3].status, answers[3].json()["agent_id"]), (200, "order-1"))
        self.assertEqual((answers[4].status, answers[4].json()["error"]), (404, "not_found"))
        self.assertEqual(answers[5].status, 405)
        self.assertEqual(answers[5].headers.get("allow"), "GET")
        self.assertEqual((answers[6].status, answers[6].json()["error"]), (404, "unknown_agent"))
        self.assertEqual(answers[7].status, 200)

    def test_a_pipeline_longer_than_one_write_holds_is_answered_whole(self):
        # 16 answers share a write at most: 50 cross that boundary three times.
        with connect(daemon.port) as sock:
            sock.sendall(register("long-0") + b"".join(
                raw_request("GET", "/v1/agents/long-0" if i % 2 else "/v1/agents/long-missing") for i in range(50)))
            self.assertEqual(answered_within(sock).status, 200)
            statuses = [answered_within(sock).status for _ in range(50)]
        self.assertEqual(statuses, [200 if i % 2 else 404 for i in range(50)])

    def test_an_answer_is_written_while_the_next_request_is_half_sent(self):
        with connect(daemon.port) as sock:
            # The next header cut short.
            second = raw_request("GET", "/health")
            sock.sendall(raw_request("GET", "/health") + second[:9])
            self.assertEqual(answered_within(sock).status, 200)
            sock.sendall(second[9:])
            self.assertEqual(answered_within(sock).status, 200)
            # The next header whole, its body cut short.
            body = register("half-body")
            sock.sendall(raw_request("GET", "/health") + body[:-5])
            self.assertEqual(answered_within(sock).status, 200)
            sock.sendall(body[-5:])
            a = answered_within(sock)
            self.assertEqual((a.status, a.json()["agent_id"]), (200, "half-body"), a.body)

    def test_100_continue_follows_the_answers_before_it(self):
        spec = json.loads(register("continued").split(b"\r\n\r\n", 1)[1])
        body = json.dumps(spec).encode()
        head = raw_request("POST", "/v1/agents", headers={"Expect": "100-continue", "Content-Type": "application/json"})
        head = head.replace(b"Content-Length: 0", b"Content-Length: %d" % len(body))
        with connect(daemon.port) as sock:
            sock.sendall(raw_request("GET", "/health") + head)
            self.assertEqual(answered_within(sock).status, 200)
            self.assertEqual(answered_within(sock).status, 100)
            sock.sendall(body)
            a = answered_within(sock)
            self.assertEqual((a.status, a.json()["agent_id"]), (200, "continued"), a.body)

    def test_an_answer_from_another_thread_keeps_its_place(self):
        # The long poll is answered by the watch hub's thread when its wait
        # ends; the request behind it is answered after it, never before.
        with connect(daemon.port) as sock:
            sock.sendall(raw_request("GET", "/v1/watch?wait=300ms") + raw_request("GET", "/v1/agents/poll-missing") +
                         raw_request("GET", "/health"))
            poll = answered_within(sock)
            self.assertEqual(poll.status, 200, poll.body)
            self.assertIn("revision", poll.json())
            self.assertEqual(answered_within(sock).status, 404)
            self.assertEqual(answered_within(sock).status, 200)

    def test_an_answer_ready_at_once_does_not_wait_for_the_next_ones(self):
        # The long poll behind it answers in a minute: the health check, and
        # the heartbeat (an engine call), must not wait for it.
        with connect(daemon.port) as sock:
            sock.sendall(register("early-0"))
            self.assertEqual(answered_within(sock).status, 200)
            sock.sendall(raw_request("GET", "/health") + raw_request("POST", "/v1/agents/early-0/heartbeat", "{}") +
                         raw_request("GET", "/v1/watch?wait=60s"))
            self.assertEqual(answered_within(sock, 20).status, 200)
            self.assertEqual(answered_within(sock, 20).status, 200)
            # The poll's own answer comes when a change does.
            with connect(daemon.port) as other:
                other.sendall(register("early-1"))
                self.assertEqual(answered_within(other).status, 200)
            poll = answered_within(sock)
            self.assertEqual(poll.status, 200, poll.body)
            self.assertTrue(poll.json()["changes"], poll.body)

    def test_head_gets_a_header_without_its_body(self):
        with connect(daemon.port) as sock:
            sock.sendall(raw_request("HEAD", "/health") + raw_request("GET", "/health"))
            head = read_head(sock)
            self.assertTrue(head.startswith(b"HTTP/1.1 405 "), head)
            # No body follows: the next bytes are the next answer.
            after = answered_within(sock)
            self.assertEqual((after.status, after.json().get("status")), (200, "ok"), after.body)

    def test_a_stream_follows_the_answers_before_it(self):
        with connect(daemon.port) as sock:
            sock.sendall(raw_request("GET", "/health") + raw_request("GET", "/v1/watch"))
            self.assertEqual(answered_within(sock).status, 200)
            head = read_head(sock)
            self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"), head)
            self.assertIn(b"Content-Type: text/event-stream", head)

    def test_connection_close_ends_the_pipeline_after_its_answer(self):
        with connect(daemon.port) as sock:
            sock.sendall(raw_request("GET", "/health") + raw_request("GET", "/health", headers={"Connection": "close"}) +
                         raw_request("GET", "/health"))
            self.assertEqual(answered_within(sock).status, 200)
            last = answered_within(sock)
            self.assertEqual((last.status, last.headers.get("connection")), (200, "close"))
            self.assertTrue(closed_by_peer(sock))

    def test_releases_pipelined_with_the_next_acquire_frame_a_bodyless_204(self):
        for i in range(4):
            with connect(daemon.port) as sock:
                sock.sendall(register(f"lease-{i}", capacity=2))
                self.assertEqual(answered_within(sock).status, 200)
        acquire = raw_request("POST", "/v1/leases", json.dumps({"agent_type": "pipelined", "ttl_ms": 60000}))
        with connect(daemon.port) as sock:
            sock.sendall(acquire)
            lease = answered_within(sock)
            for _ in range(20):
                self.assertEqual(lease.status, 201, lease.body)
                sock.sendall(raw_request("DELETE", "/v1/leases/" + lease.json()["lease_id"]) + acquire)
                released = answered_within(sock)
                # A 204 has neither a body nor a Content-Length (RFC 9110
                # 8.6): a client that reads one would take the next answer's
                # bytes for it.
                self.assertEqual(released.status, 204, released.body)
                self.assertNotIn("content-length", released.headers)
                self.assertEqual(released.body, b"")
                lease = answered_within(sock)


if __name__ == "__main__":
    unittest.main()
