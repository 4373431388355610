"""Hostile input over raw sockets against a real agentregd on PostgreSQL:
each request gets its documented 4xx (status and error code), the server
stays up, and the engine's state is exactly what it was (agents, leases,
executions, tool usage, summaries, compared before and after)."""

import json
import socket
import struct
import unittest

from harness import Daemon, Postgres, closed_by_peer, connect, exchange, raw_request, read_response, wait_until

TOKEN = "hostile-secret"
MAX_BODY = 256 * 1024  # above the 100 000-deep document, so the depth limit is what refuses it

pg = None
daemon = None
reg = None
execution_id = None
lease = None


def setUpModule():
    global pg, daemon, reg, execution_id, lease
    pg = Postgres()
    # No sweep during the run (its counter is part of the state compared).
    daemon = Daemon(pg.new_database(), "--max-body-bytes", str(MAX_BODY), "--heartbeat-interval-s", "3600",
                    token=TOKEN).start()
    reg = daemon.client()
    reg.register("h-1", "hostile", llm_provider="claude", model_name="m-1", max_capacity=4, metadata={"team": "t"})
    reg.register("h-2", "hostile", max_capacity=2)
    execution_id = reg.start_execution("h-1", task_type="t")
    done = reg.start_execution("h-1", task_type="t")
    reg.complete_execution(done, "success", prompt_tokens=10, completion_tokens=5)
    reg.record_tool_usage("h-1", "search", success_count=1, duration_ms=5)
    lease = reg.acquire("hostile", ttl_ms=3_600_000)


def tearDownModule():
    daemon.kill()
    pg.close()


def state():
    """Everything a request could change, as the API shows it."""
    stats = reg.stats()
    engine = {k: stats[k] for k in ("agents", "online", "busy", "offline", "paused", "leases_held",
                                    "running_executions", "completed_executions", "tool_calls", "evictions_total")}
    return {
        "agents": reg.list_agents(),
        "stats": engine,
        "execution": reg.get_execution(execution_id),
        "tools": reg.get_tool_usage("h-1"),
        "performance": {by: reg.get_performance_by(by) for by in ("agent", "agent_type", "model", "task_type")},
    }


def open_connections():
    """The connections the server holds now (reg's own among them)."""
    return reg.stats()["server"]["connections"]


def request(method, path, body=b"", **kwargs):
    kwargs.setdefault("token", TOKEN)
    return raw_request(method, path, body, **kwargs)


def nested(depth):
    return '{"agent_id": "h-1", "agent_type": "hostile", "metadata": ' + "[" * depth + "]" * depth + "}"


class hostile_input(unittest.TestCase):
    def setUp(self):
        self.before = state()

    def check(self, data, status, code):
        """`data` on a new connection is answered `status` with `code`; the
        server is up and the state unchanged afterwards."""
        answer = exchange(daemon.port, data)
        self.assertIsNotNone(answer, "the server closed the connection without an answer")
        self.assertEqual(answer.status, status, answer.body)
        self.assertEqual(answer.headers.get("content-type", "").split(";")[0], "application/json")
        self.assertEqual(answer.json()["error"], code, answer.body)
        self.assertIsInstance(answer.json()["message"], str)
        self.assertUnchanged()
        return answer

    def assertUnchanged(self):
        self.assertEqual(reg.health(), {"status": "ok"})
        self.assertEqual(state(), self.before)

    # ---- JSON ----

    def test_bad_json_syntax_is_400_malformed_json(self):
        for body in ['{agent_id: "h-1"}', '{"agent_id": "h-1",}', "[", '{"agent_id" "h-1"}', "nul", "",
                     '{"agent_id": "h-1", "agent_type": "x"} trailing', "'single'"]:
            with self.subTest(body=body):
                if body == "":
                    continue  # an empty body on a route that needs one: below
                self.check(request("POST", "/v1/agents", body), 400, "malformed_json")

    def test_an_empty_body_where_one_is_required_is_400(self):
        answer = exchange(daemon.port, request("POST", "/v1/agents", b"", content_type="application/json"))
        self.assertEqual(answer.status, 400, answer.body)
        self.assertIn(answer.json()["error"], ("malformed_json", "invalid_request"))
        self.assertUnchanged()

    def test_truncated_json_is_400_malformed_json(self):
        full = json.dumps({"agent_id": "h-1", "agent_type": "hostile", "max_capacity": 1})
        for cut in (1, len(full) // 2, len(full) - 1):
            with self.subTest(cut=cut):
                self.check(request("POST", "/v1/agents", full[:cut]), 400, "malformed_json")

    def test_nan_and_infinity_literals_are_400_malformed_json(self):
        for literal in ("NaN", "Infinity", "-Infinity", "nan", "inf"):
            with self.subTest(literal=literal):
                self.check(request("POST", "/v1/agents",
                                   '{"agent_id": "h-1", "agent_type": "hostile", "temperature": %s}' % literal),
                           400, "malformed_json")
                self.check(request("POST", f"/v1/executions/{execution_id}/complete",
                                   '{"status": "success", "estimated_cost_usd": %s}' % literal),
                           400, "malformed_json")

    def test_json_nested_100000_deep_is_400_malformed_json(self):
        self.check(request("POST", "/v1/agents", nested(100_000)), 400, "malformed_json")
        # and well past the limit (32) at a size any server reads
        self.check(request("POST", "/v1/agents", nested(40)), 400, "malformed_json")

    def test_invalid_utf8_is_400_malformed_json(self):
        for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88\x80\x80\x80"):
            with self.subTest(bytes=bad):
                self.check(request("POST", "/v1/agents", b'{"agent_id": "h-1", "agent_type": "hostile", '
                                   b'"model_name": "' + bad + b'"}'), 400, "malformed_json")
                self.check(request("POST", "/v1/agents", b'{"agent_id": "x' + bad + b'", "agent_type": "h"}'),
                           400, "malformed_json")

    def test_escaped_lone_surrogates_are_refused(self):
        self.check(request("POST", "/v1/agents", '{"agent_id": "x\\ud800", "agent_type": "hostile"}'),
                   400, "malformed_json")

    def test_duplicate_keys_are_400_invalid_request(self):
        self.check(request("POST", "/v1/agents", '{"agent_id": "h-1", "agent_type": "hostile", "max_capacity": 1, '
                           '"max_capacity": 8}'), 400, "invalid_request")
        self.check(request("POST", "/v1/agents", '{"agent_id": "dup-new", "agent_id": "dup-new", '
                           '"agent_type": "hostile"}'), 400, "invalid_request")
        self.check(request("POST", f"/v1/executions/{execution_id}/complete",
                           '{"status": "success", "status": "failed"}'), 400, "invalid_request")

    def test_unknown_fields_are_400_invalid_request_naming_the_field(self):
        answer = self.check(request("POST", "/v1/agents", '{"agent_id": "h-1", "agent_type": "hostile", '
                                    '"colour": "red"}'), 400, "invalid_request")
        self.assertIn("colour", answer.json()["message"])
        answer = self.check(request("POST", "/v1/leases", '{"agent_type": "hostile", "ttl": 5}'),
                            400, "invalid_request")
        self.assertIn("ttl", answer.json()["message"])
        self.check(request("POST", f"/v1/executions/{execution_id}/complete",
                           '{"status": "success", "cost": 1}'), 400, "invalid_request")
        self.check(request("GET", "/v1/agents?agent_type=hostile&colour=red"), 400, "invalid_request")

    def test_wrong_types_are_400_invalid_request(self):
        for body in ['{"agent_id": 5, "agent_type": "hostile"}',
                     '{"agent_id": "h-1", "agent_type": ["hostile"]}',
                     '{"agent_id": "h-1", "agent_type": "hostile", "max_capacity": "10"}',
                     '{"agent_id": "h-1", "agent_type": "hostile", "max_capacity": 3.0}',
                     '{"agent_id": "h-1", "agent_type": "hostile", "max_capacity": true}',
                     '{"agent_id": "h-1", "agent_type": "hostile", "metadata": {"team": 1}}',
                     '{"agent_id": "h-1", "agent_type": "hostile", "metadata": []}',
                     '{"agent_id": "h-1", "agent_type": "hostile", "skills": "python"}',
                     '["agent_id", "h-1"]', '"h-1"', "42", "null"]:
            with self.subTest(body=body):
                self.check(request("POST", "/v1/agents", body), 400, "invalid_request")
        self.check(request("POST", "/v1/agents/h-1/heartbeat", '{"current_load": "1"}'), 400, "invalid_request")
        self.check(request("POST", "/v1/agents/h-1/heartbeat", '{"current_load": 1.5}'), 400, "invalid_request")
        self.check(request("PUT", "/v1/agents/h-1/status", '{"status": 1}'), 400, "invalid_request")
        self.check(request("POST", f"/v1/executions/{execution_id}/complete",
                           '{"status": "success", "prompt_tokens": "12"}'), 400, "invalid_request")
        self.check(request("POST", "/v1/agents/h-1/tools", '{"tool_name": "search", "success_count": -0.5}'),
                   400, "invalid_request")
        self.check(request("POST", "/v1/heartbeats", '{"heartbeats": [{"agent_id": "h-1"}, {"agent_id": 7}]}'),
                   400, "invalid_request")

    def test_missing_required_fields_are_400_invalid_request(self):
        self.check(request("POST", "/v1/agents", '{"agent_type": "hostile"}'), 400, "invalid_request")
        self.check(request("POST", f"/v1/executions/{execution_id}/complete", '{"prompt_tokens": 1}'),
                   400, "invalid_request")
        self.check(request("POST", "/v1/leases", "{}"), 400, "invalid_request")

    def test_huge_numbers_are_refused(self):
        # Beyond int64 and beyond any double: not an integer of the field's range.
        for number in ("9223372036854775808", "18446744073709551616", "1" + "0" * 400, "1e400", "-1e400"):
            with self.subTest(number=number):
                answer = exchange(daemon.port, request("POST", "/v1/agents",
                                                       '{"agent_id": "h-1", "agent_type": "hostile", '
                                                       '"max_capacity": %s}' % number))
                self.assertIn((answer.status, answer.json()["error"]),
                              [(400, "invalid_request"), (400, "malformed_json"), (422, "invalid_capacity")],
                              answer.body)
                self.assertUnchanged()
        # Within int64 but out of the field's range: the field's own 422.
        self.check(request("POST", "/v1/agents", '{"agent_id": "h-1", "agent_type": "hostile", '
                           '"max_capacity": 9223372036854775807}'), 422, "invalid_capacity")
        self.check(request("POST", "/v1/agents/h-1/heartbeat", '{"current_load": 9223372036854775807}'),
                   422, "load_out_of_range")
        self.check(request("POST", f"/v1/executions/{execution_id}/complete",
                           '{"status": "success", "prompt_tokens": 9223372036854775807}'), 422, "invalid_tokens")
        self.check(request("POST", f"/v1/executions/{execution_id}/complete",
                           '{"status": "success", "estimated_cost_usd": 1e300}'), 422, "invalid_cost")
        self.check(request("POST", "/v1/leases", '{"agent_type": "hostile", "ttl_ms": 9223372036854775807}'),
                   422, "invalid_argument")

    def test_numbers_beyond_the_double_range_are_400_even_where_any_value_is_kept(self):
        # An A2A card keeps its extra fields as given. A literal beyond the
        # double range was parsed to infinity there, and the card was kept,
        # served back and written to PostgreSQL as "Infinity", which is not JSON.
        card = ('{"name": "n", "description": "d", "version": "1", "capabilities": {}, '
                '"defaultInputModes": [], "defaultOutputModes": [], "skills": [], '
                '"supportedInterfaces": [{"url": "https://x.example/a2a", "protocolBinding": "JSONRPC", '
                '"protocolVersion": "1.0"}], "x-extension": %s}')
        for number in ("1e400", "-1e400", "47e75807"):
            with self.subTest(number=number):
                self.check(request("POST", "/v1/agents", '{"agent_id": "card-inf", "agent_type": "hostile", '
                                   '"agent_card": %s}' % (card % number)), 400, "malformed_json")
        self.check(request("POST", "/v1/executions/%s/complete" % execution_id,
                           '{"status": "success", "estimated_cost_usd": 1e400}'), 400, "malformed_json")

    def test_values_out_of_range_are_422(self):
        self.check(request("POST", "/v1/agents", '{"agent_id": "", "agent_type": "hostile"}'), 422,
                   "invalid_argument")
        self.check(request("POST", "/v1/agents", '{"agent_id": "h-1", "agent_type": "hostile", "max_capacity": 0}'),
                   422, "invalid_capacity")
        self.check(request("POST", "/v1/agents", '{"agent_id": "%s", "agent_type": "hostile"}' % ("x" * 257)),
                   422, "invalid_argument")
        self.check(request("POST", "/v1/agents/h-1/heartbeat", '{"current_load": -1}'), 422, "load_out_of_range")
        self.check(request("PUT", "/v1/agents/h-1/load", '{"current_load": 5}'), 422, "load_out_of_range")
        self.check(request("PUT", "/v1/agents/h-1/status", '{"status": "busy"}'), 422, "invalid_status")
        self.check(request("POST", f"/v1/executions/{execution_id}/complete", '{"status": "running"}'),
                   422, "invalid_status")
        self.check(request("POST", f"/v1/executions/{execution_id}/complete",
                           '{"status": "success", "prompt_tokens": -1}'), 422, "invalid_tokens")
        self.check(request("POST", f"/v1/executions/{execution_id}/complete",
                           '{"status": "success", "estimated_cost_usd": -0.01}'), 422, "invalid_cost")
        self.check(request("POST", f"/v1/executions/{execution_id}/complete",
                           '{"status": "success", "success_score": 1.5}'), 422, "invalid_score")
        self.check(request("POST", "/v1/leases", '{"agent_type": "hostile", "ttl_ms": 0}'), 422, "invalid_argument")
        # An execution id that is not a UUID names no execution: 404, as a malformed lease id is.
        self.check(request("POST", "/v1/executions/not-a-uuid/complete", '{"status": "success"}'),
                   404, "unknown_execution")

    # ---- HTTP ----

    def test_a_body_that_is_not_json_is_415(self):
        self.check(request("POST", "/v1/agents", '{"agent_id": "h-1", "agent_type": "hostile"}',
                           content_type="text/plain"), 415, "unsupported_media_type")
        self.check(request("POST", "/v1/agents", 'agent_id=h-1&agent_type=hostile',
                           content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type")

    def test_oversized_headers_are_431(self):
        self.check(request("GET", "/v1/agents/h-1", headers={"X-Filler": "a" * (20 * 1024)}),
                   431, "headers_too_large")
        many = {f"X-H{i}": "b" * 60 for i in range(400)}
        self.check(request("GET", "/v1/agents/h-1", headers=many), 431, "headers_too_large")
        self.check(("GET /v1/agents/" + "h" * (20 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n").encode(),
                   431, "headers_too_large")

    def test_oversized_bodies_are_413(self):
        big = '{"agent_id": "h-1", "agent_type": "hostile", "metadata": {"pad": "%s"}}' % ("p" * MAX_BODY)
        self.check(request("POST", "/v1/agents", big), 413, "body_too_large")
        # announced only: refused on the header, before the body is sent
        head = (f"POST /v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {1 << 40}\r\n\r\n").encode()
        self.check(head, 413, "body_too_large")

    def test_malformed_http_is_400_invalid_request(self):
        for data in (b"HELLO\r\n\r\n", b"GET\r\n\r\n", b"GET /health HTTP/9.9\r\n\r\n",
                     b"GET /health HTTP/1.1\r\nBad Header Line\r\n\r\n",
                     b"POST /v1/agents HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                     b"POST /v1/agents HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                     # With the token and a JSON type: a malformed chunk is only seen once the
                     # header passed the checks (without a token the answer is 401, body unread).
                     b"POST /v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
                     b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
            with self.subTest(data=data):
                self.check(data, 400, "invalid_request")

    def test_truncated_requests_change_nothing_and_are_closed(self):
        full = request("POST", "/v1/agents", json.dumps({"agent_id": "trunc-new", "agent_type": "hostile"}))
        for cut in (5, full.index(b"\r\n\r\n"), full.index(b"\r\n\r\n") + 4, len(full) - 1):
            with self.subTest(cut=cut):
                with connect(daemon.port) as sock:
                    sock.sendall(full[:cut])
                    sock.shutdown(socket.SHUT_WR)  # the client's half is over: the request never completes
                    answer = read_response(sock)
                    # Either closed without an answer, or an answer that says the request was bad.
                    if answer is not None:
                        self.assertEqual(answer.status, 400, answer.body)
                    self.assertTrue(closed_by_peer(sock))
                self.assertUnchanged()

    def test_unknown_routes_and_methods(self):
        self.check(request("GET", "/v1/nothing"), 404, "not_found")
        answer = self.check(request("PATCH", "/v1/agents/h-1", "{}"), 405, "method_not_allowed")
        self.assertIn("GET", answer.headers["allow"])
        self.check(request("GET", "/v1/agents/nobody"), 404, "unknown_agent")
        self.check(request("GET", "/v1/agents/h-1/agent-card.json"), 404, "unknown_agent_card")
        self.check(request("DELETE", "/v1/leases/AAAAAQAAAAEAAAAB8rX2"), 404, "unknown_lease")

    def test_missing_or_wrong_tokens_are_401(self):
        answer = self.check(request("DELETE", "/v1/agents/h-1", token=None), 401, "unauthorized")
        self.assertIn("Bearer", answer.headers["www-authenticate"])
        self.check(request("DELETE", "/v1/agents/h-1", token=TOKEN + "x"), 401, "unauthorized")
        self.check(request("DELETE", "/v1/agents/h-1", token=TOKEN[:-1]), 401, "unauthorized")
        self.check(request("DELETE", "/v1/agents/h-1", token=None, headers={"Authorization": "Basic aDox"}),
                   401, "unauthorized")

    def test_the_connection_survives_a_refused_request(self):
        with connect(daemon.port) as sock:
            sock.sendall(request("POST", "/v1/agents", '{"agent_id": 1}'))
            self.assertEqual(read_response(sock).status, 400)
            sock.sendall(request("GET", "/v1/agents/h-1"))
            answer = read_response(sock)
            self.assertEqual(answer.status, 200)
            self.assertEqual(answer.json()["agent_id"], "h-1")
        self.assertUnchanged()

    def test_a_reset_mid_body_changes_nothing(self):
        full = request("POST", "/v1/agents", json.dumps({"agent_id": "reset-new", "agent_type": "hostile"}))
        open_before = open_connections()
        sock = connect(daemon.port)
        sock.sendall(full[:-3])
        # The server holds the connection, then sees the reset and drops it:
        # only then can the state tell whether the request changed anything.
        wait_until(lambda: open_connections() == open_before + 1, "the server to hold the connection")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # RST
        wait_until(lambda: open_connections() == open_before, "the server to drop the reset connection")
        self.assertUnchanged()


if __name__ == "__main__":
    unittest.main()
