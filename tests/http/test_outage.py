"""agentregd while its PostgreSQL hangs or is down: what each client is
told, and that the server comes back with the database. Each module's
cluster is its own (harness.ModulePostgres); a test that freezes or kills it
restarts it before it ends."""

import unittest

from harness import DEADLINE_S, Daemon, ModulePostgres, connect, exchange, raw_request, read_response, wait_until
from agentreg_client import AgentRegError  # noqa: E402 (harness puts the client on sys.path)

pg = ModulePostgres()
setUpModule, tearDownModule = pg.set_up, pg.tear_down


# A persistence stats answer made late (core/fault_injection.hpp, set by
# agentregd from AGENTREG_TEST_LATE_STATS): the engine call of the first
# /v1/stats stays unanswered that long. Since the writers publish their
# counters, a frozen database no longer holds /v1/stats, and nothing else a
# client can send keeps an engine call waiting.
LATE_MS = 6000


class engine_deadline(unittest.TestCase):
    def test_a_request_the_engine_never_answers_is_504_engine_timeout(self):
        db = pg.new_database()
        with Daemon(db, "--request-timeout-ms", "1000", env={"AGENTREG_TEST_LATE_STATS": f"1:{LATE_MS}"}) as d:
            c = d.client()
            c.register("before", "deadline")
            with connect(d.port, timeout=DEADLINE_S) as sock:
                sock.sendall(raw_request("GET", "/v1/stats"))
                # Before the deadline existed nothing said so: the request
                # waited as long as the engine did (15 s and more in a probe
                # with the database frozen, or until the socket's timeout).
                answer = read_response(sock)
                self.assertIsNotNone(answer, "closed without an answer")
                self.assertEqual(answer.status, 504, answer.body)
                self.assertEqual(answer.json()["error"], "engine_timeout")
                self.assertIn("--request-timeout-ms", answer.json()["message"])
                self.assertEqual(answer.headers.get("connection"), "close")
                self.assertIsNone(read_response(sock), "the connection stayed open after the 504")
            # Routes that need no stuck part still answer meanwhile.
            self.assertEqual(exchange(d.port, raw_request("GET", "/health")).status, 200)
            c.register("after", "deadline")
            self.assertEqual(c.get_agent("after")["agent_id"], "after")
            # The next stats answer is on time, and counts the 504.
            self.assertGreaterEqual(c.stats()["server"]["engine_timeouts"], 1)
            wait_until(lambda: pg.value("SELECT count(*) FROM agent_instances", db) == "2", "both agents' rows")


class engine_call_cap(unittest.TestCase):
    def test_past_max_engine_calls_a_request_is_503_overloaded_and_changes_nothing(self):
        db = pg.new_database()
        with Daemon(db, "--max-engine-calls", "1", "--request-timeout-ms", "1000",
                    env={"AGENTREG_TEST_LATE_STATS": f"1:{LATE_MS}"}) as d:
            c = d.client()
            c.register("capped", "cap", max_capacity=10)
            # The late stats answer: 504 engine_timeout after 1 s, and the
            # engine call behind it, still unanswered, keeps the one slot.
            stuck = exchange(d.port, raw_request("GET", "/v1/stats"))
            self.assertEqual(stuck.status, 504, stuck.body)
            answer = exchange(d.port, raw_request("POST", "/v1/agents/capped/heartbeat", "{}"))
            # Without the cap nothing refuses a heartbeat.
            self.assertEqual(answer.status, 503, answer.body)
            self.assertEqual(answer.json()["error"], "overloaded")
            self.assertIn("--max-engine-calls", answer.json()["message"])
            self.assertEqual(answer.headers.get("retry-after"), "1")
            # Each route needing the engine is refused before it reaches it.
            for method, path, body in (("PUT", "/v1/agents/capped/load", '{"current_load": 3}'),
                                       ("POST", "/v1/agents", '{"agent_id": "refused", "agent_type": "cap"}'),
                                       ("POST", "/v1/heartbeats", '{"heartbeats": [{"agent_id": "capped"}]}')):
                with self.subTest(route=path):
                    r = exchange(d.port, raw_request(method, path, body))
                    self.assertEqual((r.status, r.json()["error"]), (503, "overloaded"), r.body)
            # Routes that need no engine still answer.
            self.assertEqual(exchange(d.port, raw_request("GET", "/health")).status, 200)
            self.assertEqual(exchange(d.port, raw_request("GET", "/ready")).status, 200)
            # Once the late answer comes, its slot is free again; the
            # refused requests changed nothing.
            wait_until(lambda: self.try_load(c), "an update_load accepted once the late answer came")
            self.assertEqual(c.get_agent("capped")["current_load"], 1)
            with self.assertRaises(AgentRegError) as unknown:
                c.get_agent("refused")
            self.assertEqual(unknown.exception.code, "unknown_agent")
            stats = c.stats()["server"]
            self.assertGreaterEqual(stats["overloaded"], 4)
            # This request is the one call in flight.
            self.assertEqual(stats["engine_calls"], 1)
            metrics = exchange(d.port, raw_request("GET", "/metrics")).body.decode()
            line = next(l for l in metrics.splitlines() if l.startswith("agentreg_http_overloaded_total "))
            self.assertGreaterEqual(float(line.split()[1]), 4)

    @staticmethod
    def try_load(c):
        try:
            return c.update_load("capped", 1)
        except AgentRegError as e:
            if e.code != "overloaded":
                raise
            return None


class readiness(unittest.TestCase):
    def test_ready_is_503_until_recovery_from_the_database_is_done(self):
        db = pg.new_database()
        with Daemon(db) as first:
            c = first.client()
            for i in range(3):
                c.register(f"stored-{i}", "recovering")
            self.assertEqual(first.terminate(), 0, first.log())
        pg.down()
        try:
            with Daemon(db) as d:
                d.wait_for_line("could not recover from the database")
                answer = exchange(d.port, raw_request("GET", "/ready"))
                # Before readiness meant recovery, this was 200: no write had
                # failed yet, so the database counted as reachable.
                self.assertEqual(answer.status, 503, answer.body)
                self.assertEqual(answer.json()["error"], "not_ready")
                self.assertIn("recovery", answer.json()["message"])
                self.assertEqual(answer.headers.get("retry-after"), "1")
                self.assertEqual(d.client().list_agents(agent_type="recovering"), [])
                pg.up()
                d.wait_for_line(r"recovered 3 agents")
                self.assertEqual(d.client().ready(), {"ready": True, "persistence": "postgresql"})
                self.assertEqual(sorted(a["agent_id"] for a in d.client().list_agents(agent_type="recovering")),
                                 ["stored-0", "stored-1", "stored-2"])
        finally:
            pg.up()


class backlog_full(unittest.TestCase):
    def test_writes_past_a_full_buffer_with_the_database_down_are_503_and_change_nothing(self):
        limit = 5
        db = pg.new_database()
        with Daemon(db, "--on-full", "refuse", "--buffer-limit", str(limit)) as d:
            c = d.client()
            c.register("backlogged", "backlog", max_capacity=100)
            wait_until(lambda: pg.value("SELECT count(*) FROM agent_instances", db) == "1", "the agent's row")
            pg.down()
            try:
                started, refused = [], None
                for _ in range(4 * limit):  # each start is one record waiting for the database
                    try:
                        started.append(c.start_execution("backlogged", task_type="backlog"))
                    except AgentRegError as e:
                        refused = e
                        break
                self.assertIsNotNone(refused, f"{len(started)} starts and none refused")
                self.assertEqual((refused.status, refused.code), (503, "persistence_backlog"), refused)
                self.assertEqual(refused.retry_after, 1)
                self.assertIn("buffer_limit", refused.message)
                self.assertLessEqual(len(started), limit)
                # The refused start changed nothing: the engine runs exactly the
                # others, and the other writes are refused too.
                self.assertEqual(c.stats()["running_executions"], len(started))
                with self.assertRaises(AgentRegError) as tool:
                    c.record_tool_usage("backlogged", "grep", success_count=1)
                self.assertEqual((tool.exception.status, tool.exception.code), (503, "persistence_backlog"))
                self.assertEqual(c.get_tool_usage("backlogged"), [])
                # Reads and heartbeats still work meanwhile.
                self.assertEqual(c.heartbeat("backlogged")["status"], "online")
            finally:
                pg.up()
            # The buffer drains once the database is back; writes are accepted again.
            late = wait_until(lambda: self.try_start(c), "a start accepted after the database came back")
            committed = set(started) | {late}
            wait_until(lambda: {r[0] for r in pg.sql("SELECT id FROM agent_executions", db)} == committed,
                       "exactly the accepted executions committed")

    @staticmethod
    def try_start(c):
        try:
            return c.start_execution("backlogged", task_type="backlog")
        except AgentRegError as e:
            if e.code != "persistence_backlog":
                raise
            return None


if __name__ == "__main__":
    unittest.main()
